"""Atomic writes and JSON I/O: the one home for "never leave a half-written file under a final name".

Every output, cache entry and manifest gutskin writes goes through :func:`atomic_path` (or the helpers built
on it): the bytes are written to a temporary file in the target's directory, flushed and fsynced, then moved
onto the final name with :func:`os.replace` and the directory is fsynced. A process killed at any point
leaves either the old file or the new one under the final name, never a mix; the temporary file
(``.<name>.tmp-<pid>-<hex>``) is removed on any Python exception and is never read by anything.

Files are created with mode ``0o666`` filtered by the process umask, like ``open(..., "w")``: a shared
cluster group with ``umask 002`` gets group-writable results, a private ``umask 077`` gets private ones
(``tempfile.mkstemp`` would always give ``0600``).

This module sits on the ground floor of the package: it imports nothing from gutskin.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "TMP_INFIX",
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_dir",
    "new_temp_name",
    "read_json",
    "remove",
    "write_json",
]

#: Marks temporary files: ``.<name>.tmp-<pid>-<hex>``.
TMP_INFIX = ".tmp-"


def new_temp_name(target: Path, infix: str = TMP_INFIX) -> Path:
    """A fresh temporary name next to ``target`` (not created)."""
    return target.with_name(f".{target.name}{infix}{os.getpid()}-{secrets.token_hex(4)}")


def create_exclusive(path: Path) -> int:
    """Create ``path`` (must not exist) for writing with mode ``0o666 & ~umask``; return its descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename in it survives a crash (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove(path: Path) -> None:
    """Delete ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; it is fsynced and renamed onto ``target`` on success.

    The temporary file exists (empty, mode ``0o666 & ~umask``) when the block starts; the block may
    overwrite or re-create it. On an exception it is removed and ``target`` is left untouched. The
    directory of ``target`` is created if needed.

    Examples
    --------
    >>> with atomic_path("out/table.biom") as tmp:  # doctest: +SKIP
    ...     write_something(tmp)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_name(target)
    os.close(create_exclusive(tmp))
    try:
        yield tmp
        with contextlib.suppress(
            OSError
        ):  # some writers (h5py) re-create the file: re-apply nothing
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, target)
    finally:
        remove(tmp)
    fsync_dir(target.parent)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Create ``path`` with ``write(fh)`` on a binary temporary file next to it, then rename it into
    place (see :func:`atomic_path`); on any exception ``path`` is left as it was."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(
    path: str | Path, obj: Any, *, indent: int | None = 2, sort_keys: bool = False
) -> None:
    """Write ``obj`` as JSON (UTF-8, NaN refused, trailing newline) to ``path`` atomically."""
    text = json.dumps(
        obj, indent=indent, ensure_ascii=False, allow_nan=False, sort_keys=sort_keys, default=str
    )
    atomic_write_text(path, text + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file (UTF-8, BOM tolerated). Raises :class:`OSError` or :class:`ValueError`."""
    return json.loads(Path(path).read_text(encoding="utf-8-sig"))
