"""Compressed input files with a cap on how large they may inflate (decompression-bomb guard).

A sha256-pinned file is exactly the file that was pinned, but nothing stops a small ``.gz`` from
inflating to gigabytes (by mistake or on purpose). Every reader of :mod:`gutskin.io` decompresses through
this module: gzip, bz2 and xz are detected from the first bytes, inflated incrementally, and reading past
the limit raises :class:`~gutskin.errors.InputError` naming the file and the setting
(``limits.max_inflated_bytes`` in ``config/config.yaml``) instead of exhausting memory.

The limit is process-wide (the import step sets it from the configuration with :func:`set_inflate_limit`;
:func:`inflate_limit` changes it for a block).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import InputError

__all__ = [
    "DEFAULT_MAX_INFLATED_BYTES",
    "decompress_bytes",
    "get_inflate_limit",
    "inflate_limit",
    "open_decompressed",
    "set_inflate_limit",
]

#: Default of ``limits.max_inflated_bytes`` (4 GiB).
DEFAULT_MAX_INFLATED_BYTES = 4 * 1024**3

GZIP_MAGIC = b"\x1f\x8b"
BZ2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"

_limit = {"bytes": DEFAULT_MAX_INFLATED_BYTES}

_REDOWNLOAD = (
    "delete the file (and its copy under resources/cache) and run the workflow again so that it is "
    "downloaded and checked against its sha256"
)


def set_inflate_limit(max_bytes: int) -> None:
    """Set the largest size (bytes) a compressed input may inflate to."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_inflated_bytes must be a positive integer, got {max_bytes!r}")
    _limit["bytes"] = max_bytes


def get_inflate_limit() -> int:
    """The current limit (bytes)."""
    return _limit["bytes"]


@contextlib.contextmanager
def inflate_limit(max_bytes: int) -> Iterator[None]:
    """Use ``max_bytes`` as the limit inside the block."""
    old = _limit["bytes"]
    set_inflate_limit(max_bytes)
    try:
        yield
    finally:
        _limit["bytes"] = old


def _too_large(path: Path, limit: int) -> InputError:
    return InputError(
        path,
        f"the compressed file inflates to more than {limit} bytes (limits.max_inflated_bytes): a "
        "decompression bomb, or a much larger table than this workflow is set up for",
        hint="check that the file is the one you meant; if it is, raise limits.max_inflated_bytes in "
        "config/config.yaml",
    )


class _Capped(io.RawIOBase):
    """A readable stream over a decompressing stream that fails past ``limit`` bytes."""

    def __init__(self, inner: IO[bytes], path: Path, limit: int) -> None:
        self._inner = inner
        self._path = path
        self._limit = limit
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        want = min(len(view), self._limit + 1 - self._count)
        if want <= 0:
            raise _too_large(self._path, self._limit)
        data = self._inner.read(want)
        n = len(data)
        view[:n] = data
        self._count += n
        if self._count > self._limit:
            raise _too_large(self._path, self._limit)
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._inner.close()
        super().close()


def open_decompressed(path: Path) -> tuple[bytes, IO[bytes]]:
    """Open ``path``, decompressing gzip/bz2/xz with the size cap; return its first 8 bytes and a stream.

    Raises
    ------
    InputError
        A corrupt compressed header.
    """
    with path.open("rb") as fh:
        magic = fh.read(8)
    if magic.startswith(GZIP_MAGIC):
        inner: IO[bytes] = gzip.open(path, "rb")  # type: ignore[assignment]
    elif magic.startswith(BZ2_MAGIC):
        inner = bz2.open(path, "rb")
    elif magic.startswith(XZ_MAGIC):
        inner = lzma.open(path, "rb")
    else:
        return magic, path.open("rb")
    stream = io.BufferedReader(_Capped(inner, path, get_inflate_limit()))
    try:
        head = stream.peek(8)[:8]
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        stream.close()
        raise InputError(
            path, f"the compressed file is corrupt or truncated ({exc})", hint=_REDOWNLOAD
        ) from None
    return head, stream


def decompress_bytes(path: Path, raw: bytes, *, what: str = "compressed file") -> bytes:
    """``raw`` (the bytes of ``path``) decompressed if it is gzip/bz2/xz, with the size cap.

    Raises
    ------
    InputError
        Corrupt or truncated data, or more than the limit once inflated.
    """
    limit = get_inflate_limit()
    dec: Any
    is_zlib = raw.startswith(GZIP_MAGIC)
    if is_zlib:
        dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif raw.startswith(BZ2_MAGIC):
        dec = bz2.BZ2Decompressor()
    elif raw.startswith(XZ_MAGIC):
        dec = lzma.LZMADecompressor()
    else:
        return raw
    out = bytearray()
    try:
        data = raw
        while True:
            if is_zlib:
                chunk = dec.decompress(data, limit + 1 - len(out))
                data = dec.unconsumed_tail
                out += chunk
                if len(out) > limit:
                    raise _too_large(path, limit)
                if dec.eof:
                    rest = dec.unused_data
                    if rest.startswith(GZIP_MAGIC):  # concatenated gzip members
                        dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        data = rest
                        continue
                    break
                if not data:
                    raise EOFError("compressed data ended before the end-of-stream marker")
            else:
                chunk = dec.decompress(data, max_length=limit + 1 - len(out))
                data = b""
                out += chunk
                if len(out) > limit:
                    raise _too_large(path, limit)
                if dec.eof:
                    break
                if dec.needs_input:
                    raise EOFError("compressed data ended before the end-of-stream marker")
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise InputError(
            path, f"the {what} is corrupt or truncated ({exc})", hint=_REDOWNLOAD
        ) from None
    return bytes(out)
