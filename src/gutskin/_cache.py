"""The one verified file cache: pinned files (:mod:`gutskin.fetch`) and API files (:mod:`gutskin.sources`).

:class:`FileCache` returns a local, verified copy of a URL, looking in this order:

1. the **cache** (``<cache_dir>/<host>/<path>``): the file is **re-hashed on every use** and must equal the
   expected sha256 (a pinned file) or, when none is known in advance (an API file), the sha256 recorded in
   its sidecar ``<file>.sha256.json`` when it was stored. A copy that does not verify is deleted and fetched
   again; nothing is trusted on size or mtime alone (hashing these files costs milliseconds to seconds);
2. each **mirror** directory (laid out like the cache): a copy is hashed while it is copied in; with a
   pinned sha256 a different one raises :class:`~gutskin.errors.ChecksumMismatch`;
3. the **network**: streamed to a temporary ``.part`` file while hashing, under one deadline for the whole
   transfer (connect, headers, body and content decoding, see :mod:`gutskin._http`), with retries for
   transient failures; a body the server content-encoded is decoded with a cap on the inflated size.

Nothing unverified ever appears under a final cache name (temporary file, fsync, :func:`os.replace`); two
processes fetching the same URL serialise on an ``fcntl`` lock ``<file>.lock``.

This module imports only the ground floor (:mod:`gutskin.errors`, :mod:`gutskin._atomic`,
:mod:`gutskin._http`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import requests

from ._atomic import create_exclusive, fsync_dir, new_temp_name, read_json, remove, write_json
from ._http import (
    CHUNK_SIZE,
    FatalError,
    LockTimeout,
    RetryableError,
    attempt_timeouts,
    check_status,
    content_length,
    decode_file,
    file_lock,
    new_session,
    send,
    stream_body,
    transfer_deadline,
    with_retries,
)
from .errors import ChecksumMismatch, ConfigError, DataUnavailable, InputError

__all__ = [
    "DEFAULT_MAX_INFLATED_BYTES",
    "MIRROR_ENV",
    "FetchResult",
    "FetchSettings",
    "FileCache",
    "HttpStatusError",
    "cache_path",
    "mirror_path",
    "sha256_file",
    "sidecar_path",
    "url_parts",
    "validate_sha256",
]

log = logging.getLogger("gutskin.fetch")

#: Environment variable holding extra mirror directories, colon-separated, searched first.
MIRROR_ENV = "GUTSKIN_MIRROR"
#: Default cap on the size a compressed body or file may inflate to (bytes): ``limits.max_inflated_bytes``.
DEFAULT_MAX_INFLATED_BYTES = 4 * 1024**3
#: Files larger than this get progress messages (about every 10 %).
PROGRESS_MIN_BYTES = 5 * 1024 * 1024
#: Without a Content-Length, progress is logged every this many bytes.
PROGRESS_UNKNOWN_STEP = 50 * 1024 * 1024

_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
SIDECAR_SUFFIX = ".sha256.json"
LOCK_SUFFIX = ".lock"
PART_INFIX = ".part-"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpStatusError(DataUnavailable):
    """An HTTP 4xx answer (other than 429): not retried.

    Attributes
    ----------
    status
        The HTTP status code.
    """

    def __init__(self, url: str, status: int, reason: str) -> None:
        self.status = status
        super().__init__(url, reason)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ----------------------------------------------------------------------------------------------------------
# Settings and results
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchSettings:
    """How files are found and downloaded (``cache_dir``, ``mirrors``, ``network`` of config.yaml).

    Parameters
    ----------
    cache_dir
        Root of the download cache; files go to ``<cache_dir>/<host>/<path>``. Created when needed.
    mirrors
        Directories laid out like the cache, searched in order before the network.
    network
        Allow downloads. With ``False`` only the cache and the mirrors are used.
    connect_timeout, read_timeout
        Seconds to wait for a connection, and for data on an open connection.
    retries
        Extra attempts after the first, for 5xx, 429, connection errors, read timeouts and truncated bodies.
    backoff
        Seconds; the wait before retry *k* (k = 1, 2, …) is ``backoff * 2**(k-1)``, capped at
        :data:`gutskin._http.BACKOFF_CAP`, and at least the server's ``Retry-After``.
    give_up_after
        Deadline in seconds for one file (all attempts, waits, and within each attempt the connection,
        the headers, the body and its decoding): a server that sends one byte per second is cut off at the
        deadline. Waiting for another process that holds the same file's lock is bounded separately by
        ``give_up_after + read_timeout + 5``.
    progress
        Log progress (logger ``gutskin.fetch``, level INFO) about every 10 % for files over 5 MB.
    max_inflated_bytes
        Largest size a content-encoded (gzip, deflate) body may inflate to (``limits.max_inflated_bytes``).
    missing_mirrors
        Configured mirror folders that do not exist: named when a file is unavailable.
    """

    cache_dir: Path
    mirrors: tuple[Path, ...] = ()
    network: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    give_up_after: float = 60.0
    progress: bool = True
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES
    missing_mirrors: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        object.__setattr__(self, "mirrors", tuple(Path(m) for m in self.mirrors))
        object.__setattr__(self, "missing_mirrors", tuple(Path(m) for m in self.missing_mirrors))
        cls = type(self).__name__
        for name in ("connect_timeout", "read_timeout", "give_up_after"):
            value = getattr(self, name)
            if not _is_number(value) or not value > 0 or not math.isfinite(value):
                raise InputError(
                    None, f"{cls}.{name} must be a positive number of seconds, got {value!r}"
                )
        if not _is_number(self.backoff) or self.backoff < 0 or not math.isfinite(self.backoff):
            raise InputError(None, f"{cls}.backoff must be >= 0 seconds, got {self.backoff!r}")
        for name, low in (("retries", 0), ("max_inflated_bytes", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(None, f"{cls}.{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class FetchResult:
    """A verified local copy of one URL.

    Attributes
    ----------
    url
        The URL asked for.
    path
        The verified file in the cache.
    sha256
        Its sha256 (lower-case hex): the one asked for, or (no sha256 given) the one recorded and checked.
    size
        Its size in bytes.
    source
        Where the bytes came from in this call: ``"cache"``, ``"mirror"`` or ``"network"``.
    source_detail
        The mirror directory, the URL actually downloaded (after redirects) or, for a cache hit, where the
        cached copy originally came from.
    retrieved_at
        ISO 8601 UTC time the bytes were obtained (for a cache hit: when they entered the cache).
    """

    url: str
    path: Path
    sha256: str
    size: int
    source: Literal["cache", "mirror", "network"]
    source_detail: str
    retrieved_at: str


# ----------------------------------------------------------------------------------------------------------
# Paths and checks
# ----------------------------------------------------------------------------------------------------------


def url_parts(url: str) -> list[str]:
    """Split ``url`` into ``[host, dir, ..., file]`` for the on-disk layout, rejecting unsafe URLs."""
    if not isinstance(url, str) or not url:
        raise InputError(None, f"not a URL: {url!r}", hint="give an http:// or https:// URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InputError(
            None,
            f"unsupported URL {url!r}: only http:// and https:// URLs with a host name can be fetched",
            hint="fix the url in config/datasets.yaml",
        )
    try:
        port = parts.port
    except ValueError:
        raise InputError(None, f"URL {url!r} has an invalid port") from None
    host = parts.hostname.lower()
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"  # the layout of ``wget --force-directories``
    segments = parts.path.split("/")
    if segments and segments[0] == "":
        segments = segments[1:]
    if not segments or segments[-1] == "":
        segments = [*segments[:-1], "index.html"] if segments else ["index.html"]
    out = [host]
    for raw in segments:
        seg = unquote(raw)
        if seg in ("", ".", "..") or "/" in seg or "\0" in seg:
            raise InputError(
                None,
                f"URL {url!r} has a path segment {raw!r} that cannot be stored safely in the cache",
                hint="use the canonical URL of the file (no empty, '.' or '..' segments)",
            )
        out.append(seg)
    if parts.query:
        out[-1] = f"{out[-1]}?{quote(parts.query, safe='=&,;:+-_.~%')}"
    return out


def cache_path(cache_dir: Path, url: str) -> Path:
    """Where the cache keeps ``url``: ``<cache_dir>/<host>/<path>``.

    The host is lower-cased and carries ``:<port>`` when the URL names a non-default port; path segments
    are percent-decoded; a path ending in ``/`` is stored as ``index.html``; a query string is kept in the
    file name after ``?``. This is the layout of a mirror (see :func:`mirror_path`).

    Raises
    ------
    InputError
        For URLs that are not http(s) or whose path would escape the cache (``..`` segments).
    """
    return Path(cache_dir).joinpath(*url_parts(url))


def mirror_path(mirror: Path, url: str) -> Path:
    """Where a mirror directory would hold ``url``: ``<mirror>/<host>/<path>`` (as :func:`cache_path`)."""
    return Path(mirror).joinpath(*url_parts(url))


def validate_sha256(
    sha256: Any, url: str, *, source: str | Path | None = None, where: str | None = None
) -> str:
    """Return ``sha256`` in lower case, or raise if it is not 64 hexadecimal characters.

    Raises
    ------
    ConfigError
        When ``source`` (the config file) is given.
    InputError
        Otherwise. Both name the URL.
    """
    if isinstance(sha256, str) and _SHA256_RE.match(sha256.strip()):
        return sha256.strip().lower()
    problem = f"the sha256 for {url} must be 64 hexadecimal characters, got {sha256!r}"
    hint = "compute it with `sha256sum FILE` on a trusted copy and paste the 64-character digest"
    if source is not None:
        raise ConfigError(source, problem, where=where, hint=hint)
    raise InputError(None, problem, where=where, hint=hint)


def sha256_file(path: Path) -> tuple[str, int]:
    """Return the sha256 (lower-case hex) and size in bytes of a file, reading it in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _write_hashed(part: Path, chunks: Iterable[bytes], meter: _Progress) -> tuple[str, int]:
    """Write ``chunks`` to the new file ``part`` (created exclusively) and fsync it; its sha256 and size.

    ``meter`` (a progress line) is told the size of every chunk.
    """
    h = hashlib.sha256()
    size = 0
    with os.fdopen(create_exclusive(part), "wb") as fo:
        for chunk in chunks:
            h.update(chunk)
            fo.write(chunk)
            size += len(chunk)
            meter.update(len(chunk))
        fo.flush()
        os.fsync(fo.fileno())
    return h.hexdigest(), size


def sidecar_path(path: Path) -> Path:
    """The sidecar record ``<file>.sha256.json`` of a cached file."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def lock_path(path: Path) -> Path:
    """The lock file ``<file>.lock`` of a cached file."""
    return path.with_name(path.name + LOCK_SUFFIX)


def new_part(final: Path) -> Path:
    """A fresh ``.part`` name for a download or copy into ``final``."""
    return final.with_name(f"{final.name}{PART_INFIX}{os.getpid()}-{os.urandom(4).hex()}")


def utc_now() -> str:
    """Now, ISO 8601 UTC to the second."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_from_ns(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar record of ``path`` (``None`` when absent or unreadable)."""
    try:
        data = read_json(sidecar_path(path))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_sidecar(
    path: Path, url: str, sha: str, origin: str, origin_detail: str, retrieved_at: str
) -> None:
    """Record where ``path`` came from and its sha256 (best effort: a read-only cache gets none)."""
    try:
        st = path.stat()
        record = {
            "url": url,
            "sha256": sha,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "source": origin,
            "source_detail": origin_detail,
            "retrieved_at": retrieved_at,
            "verified_at": utc_now(),
        }
        write_json(sidecar_path(path), record)
    except OSError as exc:
        log.debug("could not write the sidecar of %s: %s", path, exc)


def _glob_escape(name: str) -> str:
    """Escape the glob metacharacters ``*?[`` in a file name (for :meth:`pathlib.Path.glob`)."""
    return re.sub(r"([*?\[])", r"[\1]", name)


# ----------------------------------------------------------------------------------------------------------
# Progress
# ----------------------------------------------------------------------------------------------------------


@dataclass
class _Progress:
    label: str
    total: int | None
    enabled: bool
    done: int = 0
    _next: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.total is not None and self.total > 0:
            self.enabled = self.enabled and self.total > PROGRESS_MIN_BYTES
            self._next = max(1, self.total // 10)
        else:
            self._next = PROGRESS_UNKNOWN_STEP

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled or self.done < self._next:
            return
        mib = self.done / 2**20
        if self.total:
            log.info(
                "%s: %.0f %% (%.1f of %.1f MiB)",
                self.label,
                100 * self.done / self.total,
                mib,
                self.total / 2**20,
            )
            step = max(1, self.total // 10)
        else:
            log.info("%s: %.1f MiB", self.label, mib)
            step = PROGRESS_UNKNOWN_STEP
        while self._next <= self.done:
            self._next += step


# ----------------------------------------------------------------------------------------------------------
# The cache
# ----------------------------------------------------------------------------------------------------------

#: Appended to the message of HTTP 404 and 410 answers for pinned files.
NOT_HERE = " (the file is not at this URL: check the url in config/datasets.yaml)"


def looked_in(mirrors: tuple[Path, ...], missing: tuple[Path, ...] = ()) -> str:
    """What the mirror search found, for messages."""
    gone = (
        "; configured mirror folder(s) that do not exist: " + ", ".join(map(str, missing))
        if missing
        else ""
    )
    if not mirrors:
        return (
            f"no mirror is configured (${MIRROR_ENV} or `mirrors` in config/config.yaml){gone}"
            if not missing
            else f"no usable mirror{gone}"
        )
    return "no mirror holds it (looked in: " + ", ".join(str(m) for m in mirrors) + f"){gone}"


class FileCache:
    """A verified cache of remote files (see the module documentation).

    Parameters
    ----------
    settings
        Cache directory, mirrors, network behaviour.
    session
        The HTTP session to use (default: one made by :func:`gutskin._http.new_session` on first use).
    before_attempt
        Called before each network attempt (the API client's rate limiter and counters).
    clock, sleep
        Injectable for tests.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        session: requests.Session | None = None,
        before_attempt: Callable[[str], None] | None = None,
        on_retry: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._session = session
        self._own_session = session is None
        self._before = before_attempt
        self._on_retry = on_retry
        self._clock = clock
        self._sleep = sleep

    def close(self) -> None:
        """Close a session this cache opened itself."""
        if self._own_session and self._session is not None:
            self._session.close()
            self._session = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = new_session()
        return self._session

    # -- public --------------------------------------------------------------------------------------
    def get(
        self, url: str, sha256: str | None = None, *, give_up_after: float | None = None
    ) -> FetchResult:
        """A verified local copy of ``url`` (``sha256``: pinned; ``None``: recorded and re-checked).

        Raises
        ------
        DataUnavailable
            No cache, mirror or network could provide it (the reason says what was tried).
        ChecksumMismatch
            A pinned file came with other bytes from a mirror or the network.
        InputError
            A malformed URL or sha256.
        """
        expected = validate_sha256(sha256, url) if sha256 is not None else None
        final = cache_path(self.settings.cache_dir, url)
        limit = give_up_after or self.settings.give_up_after
        # Without the lock: a verified cache hit (works on a read-only shared cache too).
        hit = self._check_cache(url, final, expected, repair=False)
        if hit is not None:
            return hit
        lock_wait = limit + self.settings.read_timeout + 5.0
        stack = contextlib.ExitStack()
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(file_lock(lock_path(final), lock_wait))
        except LockTimeout:
            raise DataUnavailable(
                url,
                f"another process has been fetching it for over {lock_wait:.0f} s (lock file "
                f"{lock_path(final)}); try again when that process has finished",
            ) from None
        except OSError as exc:
            raise DataUnavailable(
                url,
                f"cannot write to the cache directory {self.settings.cache_dir} "
                f"({exc.strerror or exc}) — set cache_dir in config/config.yaml (or --cache) to a "
                "writable directory",
            ) from None
        with stack:
            try:
                return self._get_locked(url, expected, final, limit)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    what = (
                        f"the disk holding the cache {self.settings.cache_dir} is full — free space "
                        "or set cache_dir elsewhere"
                    )
                else:
                    what = f"file error while caching it: {exc}"
                raise DataUnavailable(url, what) from None

    def invalidate(self, url: str) -> None:
        """Forget the cached copy of ``url`` (e.g. an answer that turned out not to be what was asked)."""
        final = cache_path(self.settings.cache_dir, url)
        remove(final)
        remove(sidecar_path(final))

    # -- cache ---------------------------------------------------------------------------------------
    def _check_cache(
        self, url: str, final: Path, expected: str | None, *, repair: bool
    ) -> FetchResult | None:
        """A cache hit, re-hashed now, or ``None`` (a copy that does not verify is deleted if ``repair``)."""
        try:
            if not final.is_file():
                return None
            side = read_sidecar(final)
            want = expected if expected is not None else (side or {}).get("sha256")
            actual: str | None = None
            size = 0
            problem: str | None
            if not isinstance(want, str):
                problem = f"it has no sha256 record ({sidecar_path(final)})"
            else:
                actual, size = sha256_file(final)
                problem = None if actual == want else f"sha256 {actual}, expected {want}"
        except OSError:
            return None
        if problem is None:
            assert actual is not None
            log.debug("cache hit (re-hashed) for %s: %s", url, final)
            if side is None or side.get("sha256") != actual:
                write_sidecar(
                    final, url, actual, "cache", "", _utc_from_ns(final.stat().st_mtime_ns)
                )
                side = read_sidecar(final) or {}
            return self._cache_result(url, final, actual, size, side)
        log.warning(
            "cached copy of %s does not verify (%s): %s",
            url,
            problem,
            "deleting it and fetching it again" if repair else "ignoring it",
        )
        if repair:
            remove(final)
            remove(sidecar_path(final))
        return None

    @staticmethod
    def _cache_result(
        url: str, final: Path, sha: str, size: int, side: dict[str, Any] | None
    ) -> FetchResult:
        if side and side.get("source") in ("mirror", "network"):
            detail = f"{side['source']}: {side.get('source_detail', '')}".rstrip(": ")
        else:
            detail = "cache (origin not recorded)"
        retrieved = side.get("retrieved_at") if side else None
        if not isinstance(retrieved, str):
            retrieved = _utc_from_ns(final.stat().st_mtime_ns)
        return FetchResult(url, final, sha, size, "cache", detail, retrieved)

    def _get_locked(self, url: str, expected: str | None, final: Path, limit: float) -> FetchResult:
        hit = self._check_cache(url, final, expected, repair=True)
        if hit is not None:
            return hit
        # Inside the lock nobody else writes this file: any .part file is left over from a killed process.
        for stale in final.parent.glob(f"{_glob_escape(final.name)}{PART_INFIX}*"):
            log.debug("removing stale temporary file %s", stale)
            remove(stale)
        for mirror in self.settings.mirrors:
            src = mirror_path(mirror, url)
            if src.is_file():
                return self._copy_from_mirror(url, expected, src, mirror, final)
        looked = looked_in(self.settings.mirrors, self.settings.missing_mirrors)
        if not self.settings.network:
            raise DataUnavailable(
                url,
                f"it is not in the cache ({self.settings.cache_dir}), {looked} and the network is "
                f"disabled — set {MIRROR_ENV} to a directory laid out as <mirror>/<host>/<path>, add one "
                "to `mirrors` in config/config.yaml, or set network.enabled: true",
            )
        return self._download(url, expected, final, limit, looked)

    def _copy_from_mirror(
        self, url: str, expected: str | None, src: Path, mirror: Path, final: Path
    ) -> FetchResult:
        part = new_part(final)
        try:
            with open(src, "rb") as fi:
                meter = _Progress(
                    f"copying {src.name} from mirror {mirror}",
                    os.fstat(fi.fileno()).st_size,
                    self.settings.progress,
                )
                actual, size = _write_hashed(part, iter(lambda: fi.read(CHUNK_SIZE), b""), meter)
            if expected is not None and actual != expected:
                raise ChecksumMismatch(url, f"mirror file {src}", expected, actual)
            os.replace(part, final)
        finally:
            remove(part)
        fsync_dir(final.parent)
        now = utc_now()
        write_sidecar(final, url, actual, "mirror", str(mirror), now)
        log.info("%s: copied from mirror %s", url, mirror)
        return FetchResult(url, final, actual, size, "mirror", str(mirror), now)

    # -- network -------------------------------------------------------------------------------------
    def _download(
        self, url: str, expected: str | None, final: Path, limit: float, looked: str
    ) -> FetchResult:
        s = self.settings

        def attempt(deadline: float) -> FetchResult:
            if self._before is not None:
                self._before(url)
            return self._attempt(url, expected, final, deadline)

        try:
            return with_retries(
                attempt,
                url=url,
                retries=s.retries,
                backoff=s.backoff,
                give_up_after=limit,
                deadline_label=f"network.give_up_after = {limit:g} s",
                log=log,
                note=f"; {looked}",
                clock=self._clock,
                sleep=self._sleep,
                on_retry=self._on_retry,
            )
        except FatalError as exc:
            if exc.status is not None:
                raise HttpStatusError(url, exc.status, f"{exc.message}; {looked}") from None
            raise DataUnavailable(url, f"{exc.message}; {looked}") from None

    def _attempt(self, url: str, expected: str | None, final: Path, deadline: float) -> FetchResult:
        s = self.settings
        timeout = attempt_timeouts(deadline - self._clock(), s.connect_timeout, s.read_timeout)
        host = urlsplit(url).netloc
        part = new_part(final)
        decoded: Path | None = None
        with transfer_deadline(deadline - self._clock()) as guard:
            resp = send(self.session, "GET", url, timeout=timeout, guard=guard)
            with resp:
                where = check_status(
                    resp,
                    url,
                    hints={404: NOT_HERE, 410: NOT_HERE},
                    unexpected_note=" (expected 200)",
                )
                total = content_length(resp)
                encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
                try:
                    chunks = stream_body(
                        resp,
                        host,
                        total=total,
                        deadline=deadline,
                        clock=self._clock,
                        read_timeout=timeout[1],
                        guard=guard,
                    )
                    meter = _Progress(f"downloading {url}", total, s.progress)
                    actual, size = _write_hashed(part, chunks, meter)
                    keep = part
                    if encoding in ("gzip", "x-gzip", "deflate") and actual != expected:
                        got = decode_file(
                            part,
                            encoding,
                            new_part(final),
                            max_bytes=s.max_inflated_bytes,
                            deadline=deadline,
                            clock=self._clock,
                        )
                        if got is not None:
                            decoded, dec_sha, dec_size = got
                            if expected is None or dec_sha == expected:
                                log.info(
                                    "%s: the server sent it %s-encoded; stored decoded",
                                    url,
                                    encoding,
                                )
                                keep, actual, size = decoded, dec_sha, dec_size
                        elif expected is None:
                            raise RetryableError(f"cannot decode the {encoding}-encoded body")
                    if expected is not None and actual != expected:
                        raise ChecksumMismatch(url, f"network, {where}", expected, actual)
                    os.replace(keep, final)
                finally:
                    remove(part)
                    if decoded is not None:
                        remove(decoded)
        fsync_dir(final.parent)
        now = utc_now()
        write_sidecar(final, url, actual, "network", where, now)
        log.info("%s: downloaded (%d bytes)", url, size)
        return FetchResult(url, final, actual, size, "network", where, now)


__all__ += ["NOT_HERE", "looked_in", "new_part", "new_temp_name", "read_sidecar", "write_sidecar"]
