"""MGnify (https://www.ebi.ac.uk/metagenomics): study listings, a study's taxonomic table and sample metadata.

API v2 (``<base>/v2/``; lists are ``{"count": N, "items": [...]}``, paged with ``page`` and ``page_size``,
filtered by ``biome_lineage``) is asked first; when it answers 404 — or, with ``api: auto``, has no study
summary of the wanted taxonomy — the deprecated API v1 (``<base>/v1/``; JSON:API ``data`` /
``links.next`` / ``meta.pagination``) is used instead, and the manifest says so.

Declared in ``config/datasets.yaml`` as::

    source:
      type: mgnify
      study: MGYS00002008
      taxonomy: SSU          # which taxonomic summary (v2 alias token, v1 file label); default SSU
      pipeline: "5.0"        # v1 only: pipeline version of the table (default: the newest offered)

The study's table is a TSV whose first column (``#SampleID`` in v1; ``taxonomy`` or ``#OTU ID`` in other
layouts) holds the ``;``-joined lineage and whose other columns hold one count per run; it is cached like
any file and read by :func:`read_taxonomy_tsv` (format ``mgnify_tsv``). The sample sheet (one row per run:
``run_id``, ``sample_accession``, ``analysis_accession``, ``experiment_type``, ``pipeline_version``, then
the sample's attributes and metadata as columns) is built from the study's analyses and samples and written
to ``<cache_dir>/sources/mgnify/<study>/<hash>/samples.tsv`` (format ``tsv``, id column ``run_id``).

:func:`list_studies` lists studies by biome lineage (:data:`LINEAGES`: ``gut``, ``skin``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DataUnavailable, InputError
from ..io.mgnify_tsv import read_taxonomy_tsv
from ._common import Options, artefact_dir, derived_entry, downloaded_entry, write_rows_tsv
from .http import (
    ApiClient,
    ApiSettings,
    ApiStatusError,
    Paged,
    paged_count_items,
    paged_jsonapi,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "LINEAGES",
    "SOURCE_TYPE",
    "fetch_mgnify",
    "list_studies",
    "read_taxonomy_tsv",
]

log = logging.getLogger("gutskin.sources")

SOURCE_TYPE = "mgnify"
DEFAULT_BASE_URL = "https://www.ebi.ac.uk/metagenomics/api"
#: Biome lineages of the body sites gutskin compares.
LINEAGES = {
    "gut": "root:Host-associated:Human:Digestive system",
    "skin": "root:Host-associated:Human:Skin",
}
ALLOWED_KEYS = ("study", "api", "taxonomy", "pipeline", "page_size", "sample_metadata")
_SKIP_COLUMNS = {"taxid", "tax_id", "#taxid", "ncbi_taxid"}
_V1_PAGE_SIZE = 100


def _obj(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``doc[key]`` when it is a mapping, else an empty mapping."""
    value = doc.get(key)
    return value if isinstance(value, Mapping) else {}


def _lineage(value: str) -> str:
    return LINEAGES.get(value, value)


# ----------------------------------------------------------------------------------------------------------
# Listing studies
# ----------------------------------------------------------------------------------------------------------


def list_studies(
    client: ApiClient,
    biome: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    api: str = "auto",
    page_size: int = 100,
) -> tuple[list[dict[str, Any]], Paged, str]:
    """Studies whose biome is ``biome`` or below it.

    Parameters
    ----------
    client
        The API client.
    biome
        A lineage (``root:Host-associated:Human:Skin``) or a key of :data:`LINEAGES`.
    base_url
        The API root, without ``/v2``.
    api
        ``auto`` (v2, falling back to v1 on a 404), ``v2`` or ``v1``.
    page_size
        Items per page.

    Returns
    -------
    studies : list of dict
        ``{"accession", "title", "biome", "ena_accessions"}`` per study.
    paged : Paged
        Paging details (``complete`` is false when ``max_pages`` stopped the listing).
    version : str
        The API version that answered.
    """
    base = base_url.rstrip("/")
    lineage = _lineage(biome)
    if api in ("auto", "v2"):
        try:
            paged = paged_count_items(
                client, f"{base}/v2/studies/", {"biome_lineage": lineage}, page_size=page_size
            )
        except ApiStatusError as exc:
            if exc.status != 404 or api == "v2":
                raise
            log.info("MGnify API v2 answered 404 for the study list: using API v1")
        else:
            studies = []
            for it in paged.items:
                if not isinstance(it, Mapping):
                    continue
                biome_obj = _obj(it, "biome")
                studies.append(
                    {
                        "accession": it.get("accession"),
                        "title": it.get("title"),
                        "biome": biome_obj.get("lineage"),
                        "ena_accessions": it.get("ena_accessions") or [],
                    }
                )
            return studies, paged, "v2"
    paged = paged_jsonapi(
        client, f"{base}/v1/studies", {"lineage": lineage, "page_size": page_size}
    )
    studies = []
    for it in paged.items:
        if not isinstance(it, Mapping):
            continue
        attrs = _obj(it, "attributes")
        biomes = _rel_ids(it, "biomes")
        studies.append(
            {
                "accession": it.get("id"),
                "title": attrs.get("study-name") or attrs.get("study-title"),
                "biome": biomes[0] if biomes else None,
                "ena_accessions": [
                    a for a in (attrs.get("secondary-accession"), attrs.get("bioproject")) if a
                ],
            }
        )
    return studies, paged, "v1"


def _rel_ids(item: Mapping[str, Any], name: str) -> list[str]:
    rels = item.get("relationships")
    rel = rels.get(name) if isinstance(rels, Mapping) else None
    data = rel.get("data") if isinstance(rel, Mapping) else None
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        return []
    return [str(d["id"]) for d in data if isinstance(d, Mapping) and d.get("id") is not None]


# ----------------------------------------------------------------------------------------------------------
# The taxonomic table
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# Sample sheet helpers
# ----------------------------------------------------------------------------------------------------------


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _flatten_sample(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Sample fields as flat columns: scalar attributes, biome lineage, metadata key/value pairs."""
    out: dict[str, Any] = {}
    attrs = _obj(doc, "attributes") or doc
    for key, value in attrs.items():
        if key in ("sample-metadata", "metadata", "sample_metadata"):
            continue
        if _scalar(value):
            out[str(key)] = value
    biome = attrs.get("biome")
    if isinstance(biome, Mapping) and biome.get("lineage"):
        out["biome"] = biome.get("lineage")
    biome_ids = _rel_ids(doc, "biome")
    if biome_ids and "biome" not in out:
        out["biome"] = biome_ids[0]
    for mkey in ("sample-metadata", "metadata", "sample_metadata"):
        meta = attrs.get(mkey)
        pairs: list[tuple[str, Any]] = []
        if isinstance(meta, list):
            pairs = [
                (str(m.get("key")), m.get("value"))
                for m in meta
                if isinstance(m, Mapping) and m.get("key") is not None
            ]
        elif isinstance(meta, Mapping):
            pairs = [(str(k), v) for k, v in meta.items() if _scalar(v)]
        for key, value in pairs:
            name = key if key not in out else f"metadata: {key}"
            out[name] = value
    return out


def _choose(candidates: list[dict[str, Any]], what: str, url: str, hint: str) -> dict[str, Any]:
    if len(candidates) == 1:
        return candidates[0]
    names = ", ".join(repr(c.get("alias")) for c in candidates)
    raise InputError(url, f"{len(candidates)} {what} match: {names}", hint=hint)


# ----------------------------------------------------------------------------------------------------------
# API v2
# ----------------------------------------------------------------------------------------------------------


def _v2_table(client: ApiClient, base: str, study: str, taxonomy: str) -> tuple[dict, str] | None:
    """The study's v2 study-summary download of ``taxonomy`` (or None when v2 offers none)."""
    url = f"{base}/v2/studies/{study}"
    doc = client.get_json(url)
    if not isinstance(doc, Mapping):
        raise DataUnavailable(url, "the study answer is not a JSON object")
    token = re.compile(rf"(?:^|[_\-.]){re.escape(taxonomy)}(?:[_\-.]|$)")
    downloads = [d for d in doc.get("downloads") or [] if isinstance(d, Mapping)]
    hits = [
        dict(d)
        for d in downloads
        if str(d.get("download_group") or "").startswith("study_summary")
        and token.search(str(d.get("alias") or ""))
        and d.get("url")
    ]
    if not hits:
        return None
    chosen = _choose(
        hits,
        f"v2 study summaries of taxonomy {taxonomy!r}",
        url,
        "set `taxonomy` in the source block to a more specific token of the file name",
    )
    return chosen, url


def _v2_samples(
    client: ApiClient, base: str, study: str, page_size: int, details: bool, notes: list[str]
) -> tuple[list[dict[str, Any]], Paged]:
    paged = paged_count_items(client, f"{base}/v2/studies/{study}/analyses/", page_size=page_size)
    rows: dict[str, dict[str, Any]] = {}
    sample_cache: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for it in paged.items:
        if not isinstance(it, Mapping):
            continue
        run_id = _obj(it, "run").get("accession") or _obj(it, "assembly").get("accession")
        if not run_id or run_id in rows:
            continue
        sample = _obj(it, "sample")
        sacc = sample.get("accession")
        row: dict[str, Any] = {
            "run_id": run_id,
            "sample_accession": sacc,
            "analysis_accession": it.get("accession"),
            "experiment_type": it.get("experiment_type"),
            "pipeline_version": it.get("pipeline_version"),
            "study_accession": it.get("study_accession") or study,
        }
        if details and sacc:
            if sacc not in sample_cache:
                try:
                    doc = client.get_json(f"{base}/v2/samples/{sacc}")
                except ApiStatusError as exc:  # one unlisted sample does not sink the study
                    log.warning("sample %s: %s", sacc, exc)
                    missing.append(f"{sacc} (HTTP {exc.status})")
                    doc = None
                sample_cache[sacc] = _flatten_sample(doc) if isinstance(doc, Mapping) else {}
            for key, value in sample_cache[sacc].items():
                if key not in row:
                    row[key] = value
        rows[str(run_id)] = row
    if missing:
        notes.append(
            f"{len(missing)} sample(s) had no detail in API v2, their runs have no sample metadata: "
            + ", ".join(missing[:5])
            + (" …" if len(missing) > 5 else "")
        )
    return list(rows.values()), paged


# ----------------------------------------------------------------------------------------------------------
# API v1
# ----------------------------------------------------------------------------------------------------------


def _version_key(v: str) -> tuple[float, ...]:
    parts = []
    for p in re.findall(r"\d+", v):
        parts.append(float(p))
    return tuple(parts)


def _v1_table(
    client: ApiClient, base: str, study: str, taxonomy: str, pipeline: str | None
) -> tuple[dict[str, Any], str]:
    url = f"{base}/v1/studies/{study}/downloads"
    paged = paged_jsonapi(client, url, {"page_size": _V1_PAGE_SIZE})
    cands = []
    for it in paged.items:
        if not isinstance(it, Mapping):
            continue
        attrs = _obj(it, "attributes")
        alias = str(attrs.get("alias") or it.get("id") or "")
        links = _obj(it, "links")
        pipes = _rel_ids(it, "pipeline")
        version = pipes[0] if pipes else None
        m = re.search(r"_v(\d+(?:\.\d+)*)\.tsv$", alias)
        if version is None and m:
            version = m.group(1)
        if "taxonomy_abundances" not in alias or not links.get("self"):
            continue
        if not re.search(rf"_{re.escape(taxonomy)}_", alias):
            continue
        cands.append({"alias": alias, "url": links["self"], "pipeline": version})
    if pipeline is not None:
        cands = [c for c in cands if c["pipeline"] == pipeline]
    if not cands:
        raise DataUnavailable(
            url,
            f"study {study} offers no taxonomy_abundances_{taxonomy} table"
            + (f" of pipeline {pipeline}" if pipeline else "")
            + " in API v1",
        )
    if pipeline is None:
        newest = max(_version_key(str(c["pipeline"] or "")) for c in cands)
        cands = [c for c in cands if _version_key(str(c["pipeline"] or "")) == newest]
    chosen = _choose(
        cands,
        f"v1 taxonomy tables ({taxonomy})",
        url,
        "set `pipeline` (and `taxonomy`) in the source block to pick one",
    )
    return chosen, url


def _v1_samples(
    client: ApiClient, base: str, study: str, details: bool, pipeline: str | None
) -> tuple[list[dict[str, Any]], Paged, Paged | None]:
    analyses = paged_jsonapi(
        client, f"{base}/v1/studies/{study}/analyses", {"page_size": _V1_PAGE_SIZE}
    )
    samples: Paged | None = None
    by_sample: dict[str, dict[str, Any]] = {}
    if details:
        samples = paged_jsonapi(
            client, f"{base}/v1/studies/{study}/samples", {"page_size": _V1_PAGE_SIZE}
        )
        for it in samples.items:
            if isinstance(it, Mapping) and it.get("id"):
                by_sample[str(it["id"])] = _flatten_sample(it)
    rows: dict[str, dict[str, Any]] = {}
    ranked = []
    for it in analyses.items:
        if not isinstance(it, Mapping):
            continue
        attrs = _obj(it, "attributes")
        runs = _rel_ids(it, "run") or _rel_ids(it, "assembly")
        if not runs:
            continue
        version = str(attrs.get("pipeline-version") or "")
        # the analysis of the table's pipeline version first, then the newest
        ranked.append(
            (
                version != (pipeline or version),
                tuple(-x for x in _version_key(version)),
                it,
                runs[0],
                attrs,
            )
        )
    ranked.sort(key=lambda t: (t[0], t[1]))
    for _, _, it, run_id, attrs in ranked:
        if run_id in rows:
            continue
        sample_ids = _rel_ids(it, "sample")
        sacc = sample_ids[0] if sample_ids else None
        row: dict[str, Any] = {
            "run_id": run_id,
            "sample_accession": sacc,
            "analysis_accession": attrs.get("accession") or it.get("id"),
            "experiment_type": attrs.get("experiment-type"),
            "pipeline_version": attrs.get("pipeline-version"),
            "study_accession": study,
        }
        for key, value in by_sample.get(str(sacc), {}).items():
            if key not in row:
                row[key] = value
        rows[run_id] = row
    return list(rows.values()), analyses, samples


# ----------------------------------------------------------------------------------------------------------
# The fetch step
# ----------------------------------------------------------------------------------------------------------


def fetch_mgnify(
    name: str,
    block: Mapping[str, Any],
    settings: ApiSettings,
    *,
    config_path: str | Path = "config/datasets.yaml",
) -> dict[str, Any]:
    """Fetch an MGnify study's taxonomic table and build its sample sheet; return the fetch manifest.

    Raises
    ------
    ConfigError
        A bad source block.
    InputError
        Several candidate tables (the hint says which key picks one).
    DataUnavailable
        The study, its table or its listings could not be had (the caller records the dataset as
        unavailable).
    """
    opts = Options(name, block, ALLOWED_KEYS, config_path)
    study = opts.string("study", required=True)
    assert study is not None
    base = (opts.string("base_url", DEFAULT_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
    api = opts.string("api", "auto") or "auto"
    if api not in ("auto", "v2", "v1"):
        raise opts.error("api", f"api must be auto, v2 or v1, got {api!r}")
    taxonomy = opts.string("taxonomy", "SSU") or "SSU"
    pipeline = opts.string("pipeline")
    page_size = opts.integer("page_size", 100, minimum=1) or 100
    details = opts.boolean("sample_metadata", True)
    api_settings = opts.api_settings(settings)
    notes: list[str] = []
    complete = True

    with ApiClient(api_settings) as client:
        version = None
        table: tuple[dict, str] | None = None
        if api in ("auto", "v2"):
            try:
                table = _v2_table(client, base, study, taxonomy)
            except ApiStatusError as exc:
                if exc.status != 404 or api == "v2":
                    raise
                notes.append(f"API v2 answered 404 for study {study}: used API v1")
                log.info("%s: %s", name, notes[-1])
            else:
                if table is None:
                    if api == "v2":
                        raise DataUnavailable(
                            f"{base}/v2/studies/{study}",
                            f"study {study} has no {taxonomy} study summary in API v2",
                        )
                    notes.append(
                        f"API v2 lists no {taxonomy} study summary for {study}: used API v1"
                    )
                    log.info("%s: %s", name, notes[-1])
                else:
                    version = "v2"
        if version == "v2":
            assert table is not None
            download, _ = table
            dl = client.download(str(download["url"]))
            rows, paged = _v2_samples(client, base, study, page_size, details, notes)
            listings = {"analyses": paged}
        else:
            version = "v1"
            download, _ = _v1_table(client, base, study, taxonomy, pipeline)
            dl = client.download(str(download["url"]))
            rows, analyses, samples = _v1_samples(
                client, base, study, details, download.get("pipeline")
            )
            listings = {"analyses": analyses}
            if samples is not None:
                listings["samples"] = samples
        for what, paged_obj in listings.items():
            if not paged_obj.complete:
                complete = False
                notes.append(
                    f"the {what} listing was cut at max_pages ({paged_obj.pages} pages, "
                    f"{len(paged_obj.items)} of {paged_obj.expected} items): runs without a row are "
                    "dropped by the import step"
                )
        out_dir = artefact_dir(api_settings.cache_dir, SOURCE_TYPE, study, opts.key())
        samples_path = out_dir / "samples.tsv"
        write_rows_tsv(rows, ["run_id"], samples_path)
        samples_entry = derived_entry(
            f"{base}/{version}/studies/{study}/analyses",
            samples_path,
            "tsv",
            client,
            f"{len(rows)} runs of {study} (API {version})",
        )
        stats = dict(client.stats)

    return {
        "dataset": name,
        "available": True,
        "reason": None,
        "files": {
            "table": downloaded_entry(dl, "mgnify_tsv"),
            "samples": samples_entry,
        },
        "api": {
            "type": SOURCE_TYPE,
            "study": study,
            "version": version,
            "table": {"alias": download.get("alias"), "url": download.get("url")},
            "n_runs": len(rows),
            "pages": {k: v.pages for k, v in listings.items()},
            "requests": stats["requests"],
            "cache_hits": stats["cache_hits"],
            "complete": complete,
            "notes": notes,
        },
    }
