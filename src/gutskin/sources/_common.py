"""Helpers shared by the source adapters: option checking, derived files and manifest entries."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._cache import sha256_file
from ..config import config_hash
from ..errors import ConfigError
from ..io import atomic_path
from .http import ApiClient, ApiSettings, Downloaded

__all__ = [
    "SOURCES_DIR",
    "Options",
    "artefact_dir",
    "build_once",
    "derived_entry",
    "downloaded_entry",
    "write_rows_tsv",
]

#: Sub-directory of the cache holding files built from API answers (tables, sample sheets, extractions).
SOURCES_DIR = "sources"

#: Keys every source block may have.
COMMON_KEYS = ("type", "base_url", "requests_per_second", "max_pages", "give_up_after")


class Options:
    """Typed access to a dataset's ``source`` block, with errors naming the key.

    Parameters
    ----------
    name
        Dataset name.
    block
        The ``source`` mapping.
    allowed
        The keys this source type accepts (besides :data:`COMMON_KEYS`).
    config_path
        The datasets file, named in errors.
    """

    def __init__(
        self,
        name: str,
        block: Mapping[str, Any],
        allowed: Iterable[str],
        config_path: str | Path = "config/datasets.yaml",
    ) -> None:
        self.name = name
        self.block = dict(block)
        self.config_path = str(config_path)
        allowed_set = {*COMMON_KEYS, *allowed}
        unknown = sorted(set(self.block) - allowed_set)
        if unknown:
            raise ConfigError(
                self.config_path,
                f"unknown key(s) {unknown} for a source of type {self.block.get('type')!r}",
                where=f"key datasets/{name}/source",
                hint=f"allowed keys: {', '.join(sorted(allowed_set))} (see docs/SOURCES.md)",
            )

    def where(self, key: str) -> str:
        """The key path of ``key`` for error messages."""
        return f"key datasets/{self.name}/source/{key}"

    def error(self, key: str, problem: str, hint: str | None = None) -> ConfigError:
        """A :class:`ConfigError` about ``key``."""
        return ConfigError(self.config_path, problem, where=self.where(key), hint=hint)

    def get(self, key: str, default: Any = None) -> Any:
        """The raw value of ``key``."""
        return self.block.get(key, default)

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A non-empty string option."""
        value = self.block.get(key, default)
        if value is None:
            if required:
                raise self.error(key, f"{key} is required for a {self.block.get('type')} source")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
            raise self.error(key, f"{key} must be a non-empty string, got {value!r}")
        return str(value).strip()

    def integer(
        self, key: str, default: int | None = None, *, minimum: int = 0, required: bool = False
    ) -> int | None:
        """An integer option ``>= minimum``."""
        value = self.block.get(key, default)
        if value is None:
            if required:
                raise self.error(key, f"{key} is required for a {self.block.get('type')} source")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"{key} must be an integer >= {minimum}, got {value!r}")
        return value

    def number(
        self, key: str, default: float | None = None, *, positive: bool = True
    ) -> float | None:
        """A finite number option (> 0 when ``positive``)."""
        value = self.block.get(key, default)
        if value is None:
            return None
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value > 0 if positive else value >= 0)
        )
        if not ok:
            raise self.error(
                key,
                f"{key} must be a {'positive' if positive else 'non-negative'} number, got {value!r}",
            )
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        """A true/false option."""
        value = self.block.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"{key} must be true or false, got {value!r}")
        return value

    def api_settings(self, base: ApiSettings) -> ApiSettings:
        """``base`` with this block's ``requests_per_second``, ``max_pages`` and ``give_up_after``."""
        overrides: dict[str, Any] = {}
        rps = self.number("requests_per_second")
        if rps is not None:
            overrides["requests_per_second"] = rps
        pages = self.integer("max_pages", minimum=1)
        if pages is not None:
            overrides["max_pages"] = pages
        deadline = self.number("give_up_after")
        if deadline is not None:
            overrides["give_up_after"] = deadline
        if not overrides:
            return base
        fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
        fields.update(overrides)
        return ApiSettings(**fields)

    def key(self) -> str:
        """A short hash of the block (names the directory of the files built from it)."""
        return config_hash(self.block)


def artefact_dir(cache_dir: Path, source_type: str, *parts: str) -> Path:
    """``<cache_dir>/sources/<type>/<parts…>`` (created)."""
    path = Path(cache_dir, SOURCES_DIR, source_type, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return repr(value)
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return " ".join(text.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())


def write_rows_tsv(rows: Sequence[Mapping[str, Any]], first: Sequence[str], path: Path) -> None:
    """Write dict rows as a tab-separated table, atomically.

    Columns: ``first`` in order, then every other key in order of first appearance. Missing values are
    empty cells; tabs and line breaks inside values become spaces; lists and mappings are written as JSON.
    Column names that collide after cleaning get a ``_2``, ``_3`` … suffix.
    """
    columns: list[str] = list(first)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    header: list[str] = []
    used: set[str] = set()
    for col in columns:
        clean = _cell(col) or "column"
        name, k = clean, 1
        while name in used:
            k += 1
            name = f"{clean}_{k}"
        used.add(name)
        header.append(name)
    lines = ["\t".join(header)]
    for row in rows:
        lines.append("\t".join(_cell(row.get(c)) for c in columns))
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def downloaded_entry(
    dl: Downloaded, fmt: str, *, path: Path | None = None, url: str | None = None
) -> dict[str, Any]:
    """A manifest ``files`` entry for a downloaded file (or a member extracted from it: ``path``/``url``)."""
    target = Path(path) if path is not None else dl.path
    if path is None:
        sha, size = dl.sha256, dl.size
    else:
        sha, size = sha256_file(target)
    return {
        "url": url or dl.url,
        "sha256": sha,
        "format": fmt,
        "path": str(target),
        "size": size,
        "source": dl.source,
        "source_detail": dl.source_detail
        if path is None
        else f"{dl.source_detail or dl.source}; extracted from {dl.path}",
        "retrieved_at": dl.retrieved_at,
    }


def derived_entry(url: str, path: Path, fmt: str, client: ApiClient, what: str) -> dict[str, Any]:
    """A manifest ``files`` entry for a file built from API answers."""
    sha, size = sha256_file(path)
    stats = client.stats
    source = "network" if stats["network"] else "cache"
    return {
        "url": url,
        "sha256": sha,
        "format": fmt,
        "path": str(path),
        "size": size,
        "source": source,
        "source_detail": (
            f"{what}, built from API answers ({stats['network']} over the network, "
            f"{stats['cache_hits']} from the cache)"
        ),
        "retrieved_at": client.newest or "",
    }


def content_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    ).hexdigest()


def build_once(path: Path, key: str, write: Callable[[Path], None]) -> bool:
    """Write ``path`` with ``write(path)`` unless it already holds the file built from the same content.

    A record ``<path>.built.json`` keeps ``key`` (a hash of the content) and the file's sha256; when both
    still match, the file is left alone (files such as BIOM HDF5 embed their creation time, so rebuilding
    would change their sha256 on every run). Returns ``True`` when the file was (re)written.
    """
    record = path.with_name(path.name + ".built.json")
    try:
        rec = json.loads(record.read_text(encoding="utf-8"))
        if (
            isinstance(rec, dict)
            and rec.get("key") == key
            and path.is_file()
            and rec.get("sha256") == sha256_file(path)[0]
        ):
            return False
    except (OSError, ValueError):
        pass
    write(path)
    with atomic_path(record) as tmp:
        tmp.write_text(
            json.dumps({"key": key, "sha256": sha256_file(path)[0]}, indent=1) + "\n",
            encoding="utf-8",
        )
    return True
