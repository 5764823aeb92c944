"""Results memoised by what they are a function of: one JSON file per key under a cache folder.

Used for the expensive steps whose result depends only on their inputs, their parameters, a seed and the
code: calibration's simulations (:mod:`gutskin.calibration`, keyed by the simulated design) and C10's
label-shuffle null check (:mod:`gutskin.claims.differential`, keyed by the data it shuffles). A key always
includes :func:`code_version`, so a change to the analysis code recomputes; identical inputs read the
stored result, which is what the computation would return (it is deterministic given its seed).

Entries are written atomically (:func:`gutskin._atomic.write_json`); an entry that cannot be read is
removed and recomputed, never used. Beside the file cache (:mod:`gutskin._cache`), over the ground floor: imports only :mod:`gutskin._atomic`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from ._atomic import write_json

__all__ = ["code_version", "content_key", "memo", "recall"]

T = TypeVar("T")


@cache
def code_version() -> str:
    """Hash of the package's analysis code (every module but the report's): part of every key."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        if rel.startswith("report/"):
            continue
        h.update(rel.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def content_key(obj: Any, *, digits: int = 20) -> str:
    """Stable hash of a JSON-able description (keys sorted; other objects by ``str``)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:digits]


def recall(path: Path) -> Any | None:
    """The stored entry at ``path``, or ``None`` when there is none or it cannot be read (then removed)."""
    if not path.exists():
        return None
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        path.unlink(missing_ok=True)  # a corrupt entry is recomputed, never used
        return None


def memo(path: Path | None, compute: Callable[[], T]) -> T:
    """``compute()``, read from ``path`` when stored there and stored there otherwise (``None``: no cache).

    ``compute`` must return JSON values (dicts, lists, numbers, strings) that survive a round trip
    unchanged, so a result read back equals the one computed.
    """
    if path is not None:
        hit = recall(path)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
    res = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, res, indent=None)
    return res
