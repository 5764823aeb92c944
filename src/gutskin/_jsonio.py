"""Atomic writes and JSON files: the home of ``atomic_write`` and ``write_json``.

A result file is written to a temporary file in its directory and renamed into place, so a failed or killed
step never leaves a half-written JSON file under its final name. NaN and infinities are refused (strict
JSON), text is UTF-8 with a trailing newline, and the file gets mode 0644 (results are meant to be shared).

This module is on the ground floor of the package: it imports nothing from gutskin. The ``faults`` branch
builds one atomic-write/JSON module (``gutskin._atomic``) with the same ``write_json(path, obj)``
signature; when both are merged this module can become an alias of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "read_json", "write_json"]


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Create ``path`` with ``write(fh)`` on a temporary file in the same directory, then rename it.

    The file is flushed and fsynced before the rename and gets mode 0644; on any exception the
    temporary file is removed and ``path`` is left as it was. The directory is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temporary file in the same directory, then rename).

    Raises
    ------
    ValueError
        If ``obj`` holds NaN or an infinity (``path`` is then left untouched).
    """
    text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def read_json(path: str | Path) -> Any:
    """Read a UTF-8 JSON file (a byte-order mark is tolerated)."""
    return json.loads(Path(path).read_text(encoding="utf-8-sig"))
