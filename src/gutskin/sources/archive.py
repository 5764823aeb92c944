"""Safe, atomic extraction of zip archives downloaded from public services.

:func:`extract_zip` refuses, before writing anything,

- members whose names are absolute (``/x``, ``C:\\x``, ``\\\\server\\x``), contain a ``..`` component, a NUL
  byte or a backslash, or repeat another member's name;
- symbolic links and other special files (devices, FIFOs);
- zip bombs: more members than ``max_files``, a total uncompressed size over ``max_total_bytes``, or a
  compression ratio over ``max_ratio`` (per member of at least :data:`RATIO_MIN_BYTES`, and overall).

The sizes an archive declares are not trusted: extraction counts the bytes actually written and stops as
soon as a member exceeds its declared size or the total exceeds the limit. Members are extracted into a
temporary directory next to the destination, each one's sha256 is recorded in
``<dest>/.gutskin-extracted.json``, and the directory is then renamed onto the destination in one step, so a
destination either does not exist or is complete. :func:`extracted` re-checks an existing destination
against that record (sizes and sha256) before it is used again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .._cache import sha256_file
from ..errors import InputError

__all__ = [
    "RATIO_MIN_BYTES",
    "RECORD_NAME",
    "ExtractedArchive",
    "ZipLimits",
    "extract_zip",
    "extracted",
]

log = logging.getLogger("gutskin.sources")

#: The per-member compression-ratio check applies to members at least this large (uncompressed);
#: small files of repeated bytes compress extremely well and are harmless.
RATIO_MIN_BYTES = 1 << 20
#: The record of an extraction, inside the destination directory.
RECORD_NAME = ".gutskin-extracted.json"
_CHUNK = 1 << 20
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """Limits that make an archive a zip bomb.

    Parameters
    ----------
    max_total_bytes
        Largest total uncompressed size (default 8 GiB).
    max_files
        Most members (default 10,000).
    max_ratio
        Largest compression ratio (uncompressed / compressed size), for each member of at least
        :data:`RATIO_MIN_BYTES` and for the archive as a whole (default 200).
    """

    max_total_bytes: int = 8 * 1024**3
    max_files: int = 10_000
    max_ratio: float = 200.0

    def __post_init__(self) -> None:
        for name in ("max_total_bytes", "max_files"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(None, f"zip limit {name} must be an integer >= 1, got {value!r}")
        ratio = self.max_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not ratio >= 1:
            raise InputError(None, f"zip limit max_ratio must be a number >= 1, got {ratio!r}")

    @classmethod
    def from_mapping(cls, spec: Any, *, source: str, where: str) -> ZipLimits:
        """Build from the ``limits`` mapping of a source block (unknown keys are an error)."""
        if spec is None:
            return cls()
        if not isinstance(spec, dict):
            raise InputError(source, "limits must be a mapping", where=where)
        unknown = sorted(set(spec) - {"max_total_bytes", "max_files", "max_ratio"})
        if unknown:
            raise InputError(
                source,
                f"unknown zip limit(s) {unknown}",
                where=where,
                hint="use max_total_bytes, max_files, max_ratio",
            )
        try:
            return cls(**spec)
        except InputError as exc:
            raise InputError(source, exc.problem, where=where) from None


@dataclass(frozen=True)
class ExtractedArchive:
    """An extracted archive.

    Attributes
    ----------
    archive
        The zip file.
    root
        The directory holding its members.
    members
        Member name → ``{"path", "size", "sha256"}`` (files only).
    reused
        ``True`` when an existing, verified extraction was used.
    """

    archive: Path
    root: Path
    members: dict[str, dict[str, Any]]
    reused: bool = False


def _check_layout(archive: Path, names: list[str]) -> None:
    """Refuse members that cannot all be written: a name listed twice, or a file that is also a folder
    of another member (``BIOM`` and ``BIOM/1/t.biom``)."""
    seen: set[str] = set()
    folders: dict[str, str] = {}
    for name in names:
        key = str(PurePosixPath(name))
        if key in seen:
            raise InputError(
                archive,
                f"member {name!r} is listed twice",
                where=f"member {name!r}",
                hint="the archive is malformed and was not extracted; ask its provider for a fixed copy",
            )
        seen.add(key)
        parts = PurePosixPath(key).parts
        for i in range(1, len(parts)):
            folders.setdefault(str(PurePosixPath(*parts[:i])), key)
    for key in sorted(seen & set(folders)):
        raise InputError(
            archive,
            f"member {key!r} is a file, but member {folders[key]!r} needs a folder of that name",
            where=f"member {key!r}",
            hint="the archive is malformed and was not extracted; ask its provider for a fixed copy",
        )


def _unsafe_reason(name: str) -> str | None:
    if not name:
        return "an empty name"
    if "\0" in name:
        return "a NUL byte in its name"
    if "\\" in name:
        return "a backslash in its name (a Windows path)"
    if name.startswith("/") or _DRIVE_RE.match(name):
        return "an absolute path"
    parts = PurePosixPath(name).parts
    if any(p == ".." for p in parts):
        return "a '..' component (it would be written outside the destination)"
    return None


def _mode_kind(info: zipfile.ZipInfo) -> str | None:
    """'symlink' / 'special' for Unix special files recorded in the archive, else None."""
    kind = stat.S_IFMT((info.external_attr >> 16) & 0xFFFF)
    if kind == stat.S_IFLNK:
        return "symlink"
    if kind in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no Unix file type recorded (plain file)
        return None
    return "special"


def _check(zf: zipfile.ZipFile, archive: Path, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    hint = (
        "the archive was not extracted; if it is genuine, raise the limit in the source block's "
        "`limits` (max_total_bytes, max_files, max_ratio)"
    )
    if len(infos) > limits.max_files:
        raise InputError(
            archive,
            f"the archive has {len(infos)} members, more than max_files = {limits.max_files} "
            "(a possible zip bomb)",
            hint=hint,
        )
    seen: set[str] = set()
    files = []
    total = 0
    total_compressed = 0
    for info in infos:
        name = info.filename
        why = _unsafe_reason(name)
        if why is not None:
            raise InputError(
                archive,
                f"member {name!r} has {why}; refusing to extract the archive",
                where=f"member {name!r}",
                hint="the archive is unsafe and was not extracted; check where it came from",
            )
        kind = _mode_kind(info)
        if kind == "symlink":
            raise InputError(
                archive,
                f"member {name!r} is a symbolic link; refusing to extract the archive",
                where=f"member {name!r}",
                hint="the archive is unsafe and was not extracted; check where it came from",
            )
        if kind == "special":
            raise InputError(
                archive,
                f"member {name!r} is a special file (device or FIFO); refusing to extract the archive",
                where=f"member {name!r}",
            )
        key = name.rstrip("/")
        if key in seen:
            raise InputError(
                archive,
                f"member name {name!r} occurs twice (a later copy would silently replace the first)",
                where=f"member {name!r}",
                hint="the archive is malformed and was not extracted",
            )
        seen.add(key)
        if info.is_dir():
            continue
        total += info.file_size
        total_compressed += info.compress_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_MIN_BYTES and ratio > limits.max_ratio:
            raise InputError(
                archive,
                f"member {name!r} expands {ratio:.0f}-fold ({info.compress_size} → {info.file_size} "
                f"bytes), more than max_ratio = {limits.max_ratio:g} (a possible zip bomb)",
                where=f"member {name!r}",
                hint=hint,
            )
        files.append(info)
    if total > limits.max_total_bytes:
        raise InputError(
            archive,
            f"the archive would expand to {total} bytes, more than max_total_bytes = "
            f"{limits.max_total_bytes} (a possible zip bomb)",
            hint=hint,
        )
    if total >= RATIO_MIN_BYTES and total / max(total_compressed, 1) > limits.max_ratio:
        raise InputError(
            archive,
            f"the archive expands {total / max(total_compressed, 1):.0f}-fold overall, more than "
            f"max_ratio = {limits.max_ratio:g} (a possible zip bomb)",
            hint=hint,
        )
    return files


def _read_record(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def extracted(root: Path, archive_sha256: str) -> ExtractedArchive | None:
    """Re-use an earlier extraction in ``root`` if its record matches the archive and every member.

    Returns ``None`` (after deleting ``root``) when the record is missing, belongs to another archive, or a
    member's size or sha256 differs from the record.
    """
    if not root.is_dir():
        return None
    record = _read_record(root)
    members = record.get("members") if record else None
    problem = None
    if (
        record is None
        or record.get("archive_sha256") != archive_sha256
        or not isinstance(members, dict)
    ):
        problem = "its record is missing or belongs to another archive"
    else:
        for name, info in members.items():
            path = root / name
            try:
                digest, size = sha256_file(path)
            except OSError:
                problem = f"member {name!r} is missing"
                break
            if size != info.get("size") or digest != info.get("sha256"):
                problem = f"member {name!r} differs from the record"
                break
    if problem is not None:
        log.warning("extracted archive %s is not usable (%s): extracting again", root, problem)
        shutil.rmtree(root, ignore_errors=True)
        return None
    assert members is not None and record is not None
    out = {n: {**i, "path": str(root / n)} for n, i in members.items()}
    return ExtractedArchive(Path(str(record.get("archive", ""))), root, out, reused=True)


def extract_zip(
    archive: str | Path,
    dest: str | Path,
    limits: ZipLimits | None = None,
    *,
    archive_sha256: str | None = None,
) -> ExtractedArchive:
    """Extract ``archive`` safely and atomically into ``dest`` (see the module documentation).

    Parameters
    ----------
    archive
        The zip file.
    dest
        Destination directory; must not exist yet unless it holds a verified earlier extraction of the
        same archive (then it is re-used).
    limits
        Zip-bomb limits (defaults: :class:`ZipLimits`).
    archive_sha256
        The archive's sha256 (computed when not given); recorded and checked on re-use.

    Raises
    ------
    InputError
        An unsafe or malformed archive (naming the member and the reason), or a zip bomb. Nothing is
        left at ``dest``.
    """
    archive = Path(archive)
    dest = Path(dest)
    limits = limits or ZipLimits()
    if archive_sha256 is None:
        h = hashlib.sha256()
        with open(archive, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        archive_sha256 = h.hexdigest()
    again = extracted(dest, archive_sha256)
    if again is not None:
        return again
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    members: dict[str, dict[str, Any]] = {}
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(
                archive,
                f"not a readable zip archive ({exc})",
                hint="the download may be an error page or truncated; delete it (and its "
                ".sha256.json record) from the cache and run again",
            ) from None
        with zf:
            files = _check(zf, archive, limits)
            _check_layout(archive, [info.filename for info in files])
            tmp.mkdir(parents=True)
            written = 0
            for info in files:
                target = tmp.joinpath(*PurePosixPath(info.filename).parts)
                # Belt and braces: the resolved target must stay inside the temporary directory.
                if not str(target.resolve()).startswith(str(tmp.resolve()) + os.sep):
                    raise InputError(
                        archive,
                        f"member {info.filename!r} would be written outside the destination",
                        where=f"member {info.filename!r}",
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                size = 0
                try:
                    with zf.open(info) as src, open(target, "xb") as sink:
                        while chunk := src.read(_CHUNK):
                            size += len(chunk)
                            written += len(chunk)
                            if size > info.file_size:
                                raise InputError(
                                    archive,
                                    f"member {info.filename!r} expands beyond its declared size "
                                    f"({info.file_size} bytes): a forged header",
                                    where=f"member {info.filename!r}",
                                    hint="the archive is unsafe and was not extracted",
                                )
                            if written > limits.max_total_bytes:
                                raise InputError(
                                    archive,
                                    f"extraction passed max_total_bytes = {limits.max_total_bytes} "
                                    "(a possible zip bomb)",
                                    hint="the archive was not extracted; raise `limits.max_total_bytes` "
                                    "if it is genuine",
                                )
                            h.update(chunk)
                            sink.write(chunk)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                    raise InputError(
                        archive,
                        f"member {info.filename!r} cannot be decompressed ({exc})",
                        where=f"member {info.filename!r}",
                        hint="the archive is corrupt; delete it (and its .sha256.json record) from the "
                        "cache and run again",
                    ) from None
                members[info.filename] = {"size": size, "sha256": h.hexdigest()}
        record = {"archive": str(archive), "archive_sha256": archive_sha256, "members": members}
        (tmp / RECORD_NAME).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        try:
            os.replace(tmp, dest)
        except OSError:
            # Another process finished first (dest now exists and is non-empty): use its result.
            again = extracted(dest, archive_sha256)
            if again is None:
                raise
            return again
    finally:
        with contextlib.suppress(FileNotFoundError):
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    out = {n: {**i, "path": str(dest / n)} for n, i in members.items()}
    return ExtractedArchive(archive, dest, out, reused=False)
