"""Qiita (https://qiita.ucsd.edu): a study's public BIOM tables and sample information, as zip archives.

Declared in ``config/datasets.yaml`` as::

    source:
      type: qiita
      study_id: 10317
      data_type: 16S                 # optional: only BIOMs of this data type
      biom: "BIOM/77316/*.biom"      # optional glob: which BIOM of the archive (needed when it has several)

Two archives are downloaded (each cached like any file, keyed by URL, its sha256 recorded when it is
first downloaded and re-checked whenever the cached copy is re-used; ``sha256: {biom, sample_information}``
pins them):

- ``<base_url>/public_download/?data=biom&study_id=<id>[&data_type=<type>]`` — every public BIOM of the
  study (``BIOM/<artifact id>/….biom``) with mapping files;
- ``<base_url>/public_download/?data=sample_information&study_id=<id>`` — the sample information file
  (``templates/….txt``; tab-separated, sample ids in ``sample_name``).

Both are extracted safely (:mod:`gutskin.sources.archive`) under ``<cache_dir>/sources/qiita/<id>/``; the
manifest lists the chosen BIOM (``format: biom``) and sample information (``format: tsv``) so that the
import step reads them like declared files.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlencode

from .._cache import validate_sha256
from ..errors import DataUnavailable, InputError
from ._common import Options, artefact_dir, downloaded_entry
from .archive import ExtractedArchive, ZipLimits, extract_zip
from .http import ApiClient, ApiSettings, Downloaded

__all__ = ["DEFAULT_BASE_URL", "SOURCE_TYPE", "archive_urls", "fetch_qiita", "pick_member"]

log = logging.getLogger("gutskin.sources")

SOURCE_TYPE = "qiita"
DEFAULT_BASE_URL = "https://qiita.ucsd.edu"
ALLOWED_KEYS = ("study_id", "data_type", "biom", "sample_information", "sha256", "limits")


def archive_urls(base_url: str, study_id: int, data_type: str | None = None) -> tuple[str, str]:
    """The public-download URLs of a study's BIOM archive and sample-information archive."""
    base = base_url.rstrip("/")
    biom_q: dict[str, Any] = {"data": "biom", "study_id": study_id}
    if data_type:
        biom_q["data_type"] = data_type
    info_q = {"data": "sample_information", "study_id": study_id}
    return (
        f"{base}/public_download/?{urlencode(biom_q)}",
        f"{base}/public_download/?{urlencode(info_q)}",
    )


def _listing(names: list[str], k: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:k])
    return (shown + (f" … ({len(names)} in all)" if len(names) > k else "")) or "nothing"


def pick_member(
    archive: ExtractedArchive,
    *,
    pattern: str | None,
    default: tuple[str, ...],
    what: str,
    key: str,
    prefer_dir: str | None = None,
) -> str:
    """The one member of ``archive`` that is the wanted file.

    Parameters
    ----------
    archive
        The extracted archive.
    pattern
        A glob (``fnmatch``; ``*`` also matches ``/``) given in the source block, or ``None``.
    default
        Globs used when ``pattern`` is ``None``.
    what
        What the file is (named in errors), e.g. ``"BIOM table"``.
    key
        The source-block key that selects it (named in the hint).
    prefer_dir
        Without a ``pattern``, when several members match, those under this top-level directory win.

    Raises
    ------
    InputError
        No member matches (listing what the archive holds), or several do (listing them and asking for a
        ``pattern``).
    """
    names = sorted(archive.members)
    patterns = (pattern,) if pattern else default
    hits = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]
    if not pattern and prefer_dir and len(hits) > 1:
        under = [n for n in hits if PurePosixPath(n).parts[:1] == (prefer_dir,)]
        if under:
            hits = under
    if not hits:
        raise InputError(
            archive.archive,
            f"the archive contains no {what} matching {', '.join(repr(p) for p in patterns)}; "
            f"it holds: {_listing(names)}",
            hint=(
                f"check study_id and data_type in the source block (Qiita only serves the {what}s of "
                f"public, processed artifacts), or set `{key}` to a glob matching the right member"
            ),
        )
    if len(hits) > 1:
        raise InputError(
            archive.archive,
            f"the archive contains {len(hits)} {what}s: {_listing(hits)}",
            hint=f"set `{key}` in the source block to a glob matching exactly one of them "
            f"(e.g. {hits[0]!r})",
        )
    return hits[0]


#: The first bytes of a zip archive (a local file header, or the end record of an empty archive).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _download_zip(client: ApiClient, url: str, sha256: str | None) -> Downloaded:
    """Download an archive; an answer that is not a zip (an HTML error page served with status 200) is
    not kept in the cache, so the next run asks the server again instead of failing on the same page."""
    dl = client.download(url, sha256=sha256)
    with open(dl.path, "rb") as fh:
        head = fh.read(512)
    if not head.startswith(_ZIP_MAGIC):
        client.forget_file(url)
        text = " ".join(head[:120].decode("utf-8", errors="replace").split())
        raise DataUnavailable(
            url,
            f"the server answered with something that is not a zip archive (it starts with {text!r}: "
            "an error page?); it was not kept, and the next run asks again",
        )
    return dl


def fetch_qiita(
    name: str,
    block: Mapping[str, Any],
    settings: ApiSettings,
    *,
    config_path: str | Path = "config/datasets.yaml",
) -> dict[str, Any]:
    """Download, check and extract a Qiita study's archives; return the fetch manifest.

    Parameters
    ----------
    name
        Dataset name.
    block
        Its ``source`` block (``type: qiita``).
    settings
        Client settings (cache, mirrors, network, retries …), see :class:`~gutskin.sources.http.ApiSettings`.
    config_path
        The datasets file, named in configuration errors.

    Returns
    -------
    dict
        ``{"dataset", "available": True, "reason": None, "files": {"table", "samples"}, "api": {...}}``.

    Raises
    ------
    ConfigError
        A bad source block.
    InputError
        An unsafe archive, a zip bomb, an archive without a BIOM, or several candidates.
    DataUnavailable
        An archive could not be had (the caller records the dataset as unavailable).
    """
    opts = Options(name, block, ALLOWED_KEYS, config_path)
    study_id = opts.integer("study_id", minimum=1, required=True)
    assert study_id is not None
    base = opts.string("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    data_type = opts.string("data_type")
    biom_glob = opts.string("biom")
    info_glob = opts.string("sample_information")
    pins_raw = opts.get("sha256") or {}
    if not isinstance(pins_raw, Mapping) or set(pins_raw) - {"biom", "sample_information"}:
        raise opts.error("sha256", "sha256 must map biom and/or sample_information to a sha256")
    pins = {
        k: validate_sha256(v, k, source=opts.config_path, where=opts.where(f"sha256/{k}"))
        for k, v in pins_raw.items()
    }
    limits = ZipLimits.from_mapping(
        opts.get("limits"), source=opts.config_path, where=opts.where("limits")
    )
    biom_url, info_url = archive_urls(base, study_id, data_type)
    api_settings = opts.api_settings(settings)

    with ApiClient(api_settings) as client:
        biom_dl = _download_zip(client, biom_url, pins.get("biom"))
        info_dl = _download_zip(client, info_url, pins.get("sample_information"))
        stats = dict(client.stats)

    root = artefact_dir(api_settings.cache_dir, SOURCE_TYPE, str(study_id))
    biom_x = extract_zip(
        biom_dl.path, root / f"biom-{biom_dl.sha256[:16]}", limits, archive_sha256=biom_dl.sha256
    )
    info_x = extract_zip(
        info_dl.path,
        root / f"sample_information-{info_dl.sha256[:16]}",
        limits,
        archive_sha256=info_dl.sha256,
    )
    biom_member = pick_member(
        biom_x, pattern=biom_glob, default=("*.biom",), what="BIOM table", key="biom"
    )
    info_member = pick_member(
        info_x,
        pattern=info_glob,
        default=("*.txt", "*.tsv"),
        what="sample information file",
        key="sample_information",
        prefer_dir="templates",
    )
    log.info(
        "qiita study %s: table %s (from %s), samples %s",
        study_id,
        biom_member,
        biom_url,
        info_member,
    )
    files = {
        "table": downloaded_entry(
            biom_dl,
            "biom",
            path=Path(biom_x.members[biom_member]["path"]),
            url=f"{biom_url}#{biom_member}",
        ),
        "samples": downloaded_entry(
            info_dl,
            "tsv",
            path=Path(info_x.members[info_member]["path"]),
            url=f"{info_url}#{info_member}",
        ),
    }
    return {
        "dataset": name,
        "available": True,
        "reason": None,
        "files": files,
        "api": {
            "type": SOURCE_TYPE,
            "study_id": study_id,
            "archives": {
                "biom": {
                    "url": biom_url,
                    "path": str(biom_dl.path),
                    "sha256": biom_dl.sha256,
                    "size": biom_dl.size,
                    "source": biom_dl.source,
                    "members": len(biom_x.members),
                    "extracted_to": str(biom_x.root),
                },
                "sample_information": {
                    "url": info_url,
                    "path": str(info_dl.path),
                    "sha256": info_dl.sha256,
                    "size": info_dl.size,
                    "source": info_dl.source,
                    "members": len(info_x.members),
                    "extracted_to": str(info_x.root),
                },
            },
            "chosen": {"table": biom_member, "samples": info_member},
            "requests": stats["requests"],
            "cache_hits": stats["cache_hits"],
            "complete": True,
            "notes": [],
        },
    }
