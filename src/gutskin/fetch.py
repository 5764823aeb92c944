"""Mirror-first, sha256-verified, atomic download cache.

Every public file gutskin reads is declared in ``config/datasets.yaml`` with its URL and sha256. :func:`fetch`
returns a local, verified copy, looking in this order:

1. the **cache** (``<cache_dir>/<host>/<path>``): trusted when a sidecar ``<file>.sha256.json`` written after
   a full verification still matches the file's size and mtime, re-hashed otherwise; a cached file that fails
   verification is deleted and fetched again;
2. each **mirror** directory (laid out like the cache, ``<mirror>/<host>/<path>``): a copy whose sha256
   matches is copied atomically into the cache; one that does not raises :class:`ChecksumMismatch`;
3. the **network** (when enabled): streamed to a temporary ``.part`` file while hashing, with retries and
   exponential backoff for 5xx, 429, connection errors, read timeouts and truncated bodies, and an overall
   deadline per file.

Nothing unverified ever appears under a final cache name: files are written to a temporary name in the same
directory, fsynced, and moved into place with :func:`os.replace`. Two processes fetching the same URL
serialise on an ``fcntl`` lock file ``<file>.lock`` and the second one finds the first one's result.

Errors
------
:class:`~gutskin.errors.DataUnavailable`
    No cache, mirror or network could provide the file; the message says what was tried and what to do.
    :func:`fetch_dataset` turns it into ``available: false`` in the dataset's manifest.
:class:`~gutskin.errors.ChecksumMismatch`
    A mirror or the network gave bytes with another sha256. Never cached, never "unavailable": the run stops.
:class:`~gutskin.errors.InputError` / :class:`~gutskin.errors.ConfigError`
    A malformed URL or sha256.

Command line
------------
``python -m gutskin.fetch URL SHA256 [--cache DIR] [--mirror DIR]`` (or ``gutskin-fetch``) prefetches one
file, e.g. on the login node of a cluster whose compute nodes have no network, and prints its local path.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import math
import os
import re
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import requests

from ._http import (
    CHUNK_SIZE,
    USER_AGENT,
    FatalError,
    LockTimeout,
    attempt_timeouts,
    check_status,
    content_length,
    decode_file,
    file_lock,
    send,
    stream_body,
    with_retries,
)
from .errors import ChecksumMismatch, ConfigError, DataUnavailable, GutskinError, InputError

__all__ = [
    "USER_AGENT",
    "FetchResult",
    "FetchSettings",
    "cache_path",
    "fetch",
    "fetch_dataset",
    "main",
    "mirror_path",
    "resolve_mirrors",
    "settings_from_config",
    "sha256_file",
    "validate_sha256",
    "write_manifest",
]

log = logging.getLogger("gutskin.fetch")

# USER_AGENT (re-exported here), CHUNK_SIZE and BACKOFF_CAP come from gutskin._http, the HTTP layer this
# module shares with gutskin.sources.http.

#: Files larger than this get progress messages (about every 10 %).
PROGRESS_MIN_BYTES = 5 * 1024 * 1024
#: Without a Content-Length, progress is logged every this many bytes.
PROGRESS_UNKNOWN_STEP = 50 * 1024 * 1024
#: Environment variable holding extra mirror directories, colon-separated, searched first.
MIRROR_ENV = "GUTSKIN_MIRROR"

_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_SIDECAR_SUFFIX = ".sha256.json"
_LOCK_SUFFIX = ".lock"
_PART_INFIX = ".part-"
_DEFAULT_PORTS = {"http": 80, "https": 443}


# ----------------------------------------------------------------------------------------------------------
# Settings and results
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchSettings:
    """How :func:`fetch` finds files.

    Parameters
    ----------
    cache_dir
        Root of the download cache; files go to ``<cache_dir>/<host>/<path>``. Created when needed.
    mirrors
        Directories laid out like the cache, searched in order before the network
        (see :func:`resolve_mirrors`).
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
        Overall deadline in seconds for the network phase of one file: no attempt starts and no sleep runs
        past it (a read in progress may overrun it by at most ``read_timeout``). Waiting for another process
        that holds the same file's lock is bounded separately by ``give_up_after + read_timeout + 5``.
    progress
        Log progress (logger ``gutskin.fetch``, level INFO) about every 10 % for files over 5 MB.
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        object.__setattr__(self, "mirrors", tuple(Path(m) for m in self.mirrors))
        for name in ("connect_timeout", "read_timeout", "give_up_after"):
            value = getattr(self, name)
            if not _is_number(value) or not value > 0 or not math.isfinite(value):
                raise InputError(
                    None,
                    f"FetchSettings.{name} must be a positive number of seconds, got {value!r}",
                )
        if not _is_number(self.backoff) or self.backoff < 0 or not math.isfinite(self.backoff):
            raise InputError(
                None, f"FetchSettings.backoff must be >= 0 seconds, got {self.backoff!r}"
            )
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InputError(
                None, f"FetchSettings.retries must be an integer >= 0, got {self.retries!r}"
            )


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
        Its sha256 (lower-case hex), equal to the one asked for.
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
# Paths
# ----------------------------------------------------------------------------------------------------------


def _url_parts(url: str) -> list[str]:
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
    return Path(cache_dir).joinpath(*_url_parts(url))


def mirror_path(mirror: Path, url: str) -> Path:
    """Where a mirror directory would hold ``url``: ``<mirror>/<host>/<path>`` (as :func:`cache_path`)."""
    return Path(mirror).joinpath(*_url_parts(url))


def resolve_mirrors(
    config_mirrors: Sequence[str | Path] | str | Path | None,
    env: Mapping[str, str] = os.environ,
    base: Path | None = None,
) -> tuple[Path, ...]:
    """The mirror directories to search, in order.

    Parameters
    ----------
    config_mirrors
        The ``mirrors`` list of ``config/config.yaml``.
    env
        Environment; ``GUTSKIN_MIRROR`` (colon-separated, empty entries ignored) comes first.
    base
        Directory that relative paths are resolved against (default: the current directory).

    Returns
    -------
    Absolute paths of the directories that exist, without duplicates; missing ones are left out (and
    logged at DEBUG level).
    """
    base_dir = Path.cwd() if base is None else Path(base)
    configured: list[str | Path]
    if config_mirrors is None:
        configured = []
    elif isinstance(config_mirrors, str | Path):
        configured = [config_mirrors]
    else:
        configured = list(config_mirrors)
    entries: list[tuple[str, str | Path]] = []
    for env_item in (env.get(MIRROR_ENV) or "").split(":"):
        if env_item.strip():
            entries.append((MIRROR_ENV, env_item.strip()))
    for conf_item in configured:
        if str(conf_item).strip():
            entries.append(("config mirrors", conf_item))
    out: list[Path] = []
    seen: set[Path] = set()
    for origin, item in entries:
        path = Path(item).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        if not path.is_dir():
            log.debug("mirror %s (from %s) is not a directory: skipped", path, origin)
            continue
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        out.append(path)
    return tuple(out)


def settings_from_config(config: Mapping[str, Any], base: Path | None = None) -> FetchSettings:
    """Build :class:`FetchSettings` from ``config/config.yaml`` (already parsed).

    Uses the keys ``cache_dir``, ``mirrors`` and ``network.{enabled, connect_timeout, read_timeout, retries,
    backoff, give_up_after}``; missing keys take the schema's defaults. A relative ``cache_dir`` is joined to
    ``base`` when given (otherwise it stays relative to the current directory); mirrors are resolved by
    :func:`resolve_mirrors` (``GUTSKIN_MIRROR`` first).

    Raises
    ------
    ConfigError
        When a value has the wrong type or range, naming the key.
    """
    src = "config/config.yaml"
    cache_dir_raw = config.get("cache_dir", "resources/cache")
    if not isinstance(cache_dir_raw, str | Path) or not str(cache_dir_raw).strip():
        raise ConfigError(src, "cache_dir must be a directory path", where="key cache_dir")
    cache_dir = Path(cache_dir_raw).expanduser()
    if base is not None and not cache_dir.is_absolute():
        cache_dir = Path(base) / cache_dir
    mirrors = config.get("mirrors") or []
    if not isinstance(mirrors, list | tuple | str | Path):
        raise ConfigError(src, "mirrors must be a list of directories", where="key mirrors")
    net = config.get("network") or {}
    if not isinstance(net, Mapping):
        raise ConfigError(src, "network must be a mapping", where="key network")

    def number(key: str, default: float, *, positive: bool) -> float:
        value = net.get(key, default)
        ok = _is_number(value) and math.isfinite(value) and (value > 0 if positive else value >= 0)
        if not ok:
            raise ConfigError(
                src,
                f"network.{key} must be a {'positive' if positive else 'non-negative'} number of seconds, "
                f"got {value!r}",
                where=f"key network/{key}",
            )
        return float(value)

    enabled = net.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(
            src,
            f"network.enabled must be true or false, got {enabled!r}",
            where="key network/enabled",
        )
    retries = net.get("retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(
            src,
            f"network.retries must be an integer >= 0, got {retries!r}",
            where="key network/retries",
        )
    return FetchSettings(
        cache_dir=cache_dir,
        mirrors=resolve_mirrors(mirrors, base=base),
        network=enabled,
        connect_timeout=number("connect_timeout", 10.0, positive=True),
        read_timeout=number("read_timeout", 30.0, positive=True),
        retries=retries,
        backoff=number("backoff", 1.0, positive=False),
        give_up_after=number("give_up_after", 60.0, positive=True),
    )


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


# ----------------------------------------------------------------------------------------------------------
# Small file helpers
# ----------------------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_from_ns(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_file(path: Path) -> tuple[str, int]:
    """Return the sha256 (lower-case hex) and size in bytes of a file, reading it in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def _lockfile(path: Path) -> Path:
    return path.with_name(path.name + _LOCK_SUFFIX)


def _new_part(final: Path) -> Path:
    return final.with_name(f"{final.name}{_PART_INFIX}{os.getpid()}-{secrets.token_hex(4)}")


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and :func:`os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_sidecar(
    path: Path, url: str, sha: str, origin: str, origin_detail: str, retrieved_at: str
) -> None:
    """Record a full verification of ``path`` (best effort: a read-only cache just gets no sidecar)."""
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
            "verified_at": _utc_now(),
        }
        _atomic_write_text(_sidecar(path), json.dumps(record, indent=2) + "\n")
    except OSError as exc:
        log.debug("could not write the sidecar of %s: %s", path, exc)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


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
# Cache, mirror and network
# ----------------------------------------------------------------------------------------------------------


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


def _check_cache(
    url: str, final: Path, expected: str, *, full: bool, repair: bool
) -> FetchResult | None:
    """Return a cache hit, or ``None``.

    With ``full=False`` only the sidecar short-cut is tried (size, mtime and sha256 recorded after a full
    verification). With ``full=True`` the file is re-hashed when the sidecar does not vouch for it; when it
    does not match and ``repair`` is true, it and its sidecar are deleted.
    """
    try:
        st = final.stat()
    except OSError:  # absent, or a path component is not a directory
        return None
    if not final.is_file():
        return None
    side = _read_sidecar(final)
    if (
        side is not None
        and side.get("sha256") == expected
        and side.get("size") == st.st_size
        and side.get("mtime_ns") == st.st_mtime_ns
    ):
        log.debug("cache hit (sidecar) for %s: %s", url, final)
        return _cache_result(url, final, expected, st.st_size, side)
    if not full:
        return None
    actual, size = sha256_file(final)
    if actual == expected:
        origin = side or {}
        _write_sidecar(
            final,
            url,
            actual,
            str(origin.get("source", "cache")),
            str(origin.get("source_detail", "")),
            str(origin.get("retrieved_at") or _utc_from_ns(st.st_mtime_ns)),
        )
        log.debug("cache hit (re-hashed) for %s: %s", url, final)
        return _cache_result(url, final, expected, size, _read_sidecar(final) or side)
    log.warning(
        "cached copy of %s is corrupt (sha256 %s, expected %s): %s",
        url,
        actual,
        expected,
        "deleting it and fetching it again" if repair else "ignoring it",
    )
    if repair:
        _remove(final)
        _remove(_sidecar(final))
    return None


def _copy_from_mirror(
    url: str, expected: str, src: Path, mirror: Path, final: Path, progress: bool
) -> FetchResult:
    """Copy ``src`` into the cache while hashing it; raise :class:`ChecksumMismatch` on a mismatch."""
    part = _new_part(final)
    h = hashlib.sha256()
    size = 0
    try:
        with open(src, "rb") as fi, open(part, "xb") as fo:
            meter = _Progress(
                f"copying {src.name} from mirror {mirror}", os.fstat(fi.fileno()).st_size, progress
            )
            while chunk := fi.read(CHUNK_SIZE):
                h.update(chunk)
                fo.write(chunk)
                size += len(chunk)
                meter.update(len(chunk))
            fo.flush()
            os.fsync(fo.fileno())
        actual = h.hexdigest()
        if actual != expected:
            raise ChecksumMismatch(url, f"mirror file {src}", expected, actual)
        os.replace(part, final)
    finally:
        _remove(part)
    _fsync_dir(final.parent)
    now = _utc_now()
    _write_sidecar(final, url, expected, "mirror", str(mirror), now)
    log.info("%s: copied from mirror %s", url, mirror)
    return FetchResult(url, final, expected, size, "mirror", str(mirror), now)


#: Appended to the message of HTTP 404 and 410 answers.
_NOT_HERE = " (the file is not at this URL: check the url in config/datasets.yaml)"


def _attempt(
    session: requests.Session,
    url: str,
    expected: str,
    final: Path,
    settings: FetchSettings,
    deadline: float,
) -> FetchResult:
    """One download attempt.

    Raises :class:`~gutskin._http.RetryableError`, :class:`~gutskin._http.FatalError` or
    :class:`ChecksumMismatch`.
    """
    timeout = attempt_timeouts(
        deadline - time.monotonic(), settings.connect_timeout, settings.read_timeout
    )
    resp = send(session, "GET", url, timeout=timeout)
    host = urlsplit(url).netloc
    with resp:
        where = check_status(
            resp, url, hints={404: _NOT_HERE, 410: _NOT_HERE}, unexpected_note=" (expected 200)"
        )
        total = content_length(resp)
        encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()

        part = _new_part(final)
        decoded: Path | None = None
        h = hashlib.sha256()
        size = 0
        try:
            with open(part, "xb") as fo:
                meter = _Progress(f"downloading {url}", total, settings.progress)
                for chunk in stream_body(
                    resp, host, total=total, deadline=deadline, read_timeout=timeout[1]
                ):
                    h.update(chunk)
                    fo.write(chunk)
                    size += len(chunk)
                    meter.update(len(chunk))
                fo.flush()
                os.fsync(fo.fileno())
            actual = h.hexdigest()
            keep = part
            if actual != expected and encoding in ("gzip", "x-gzip", "deflate"):
                got = decode_file(part, encoding, _new_part(final))
                if got is not None:
                    decoded, dec_sha, dec_size = got
                    if dec_sha == expected:
                        log.info("%s: the server sent it %s-encoded; stored decoded", url, encoding)
                        keep, actual, size = decoded, dec_sha, dec_size
            if actual != expected:
                raise ChecksumMismatch(url, f"network, {where}", expected, actual)
            os.replace(keep, final)
        finally:
            _remove(part)
            if decoded is not None:
                _remove(decoded)
    _fsync_dir(final.parent)
    now = _utc_now()
    _write_sidecar(final, url, expected, "network", where, now)
    log.info("%s: downloaded (%d bytes)", url, size)
    return FetchResult(url, final, expected, size, "network", where, now)


def _download(
    url: str, expected: str, final: Path, settings: FetchSettings, looked: str
) -> FetchResult:
    """Download with retries, backoff and the overall deadline; raise DataUnavailable when it fails."""
    with requests.Session() as session:
        session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        try:
            return with_retries(
                lambda deadline: _attempt(session, url, expected, final, settings, deadline),
                url=url,
                retries=settings.retries,
                backoff=settings.backoff,
                give_up_after=settings.give_up_after,
                deadline_label=f"network.give_up_after = {settings.give_up_after:g} s",
                log=log,
                note=f"; {looked}",
            )
        except FatalError as exc:
            raise DataUnavailable(url, f"{exc.message}; {looked}") from None


def _looked_in(mirrors: Sequence[Path]) -> str:
    if not mirrors:
        return f"no mirror is configured (${MIRROR_ENV} or `mirrors` in config/config.yaml)"
    return "no mirror holds it (looked in: " + ", ".join(str(m) for m in mirrors) + ")"


# ----------------------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------------------


def fetch(url: str, sha256: str, settings: FetchSettings) -> FetchResult:
    """Return a verified local copy of ``url``: from the cache, a mirror, or the network.

    Parameters
    ----------
    url
        An http(s) URL.
    sha256
        Its expected sha256, 64 hexadecimal characters (either case).
    settings
        Cache directory, mirrors and network behaviour.

    Returns
    -------
    FetchResult
        With ``path`` inside ``settings.cache_dir``.

    Raises
    ------
    DataUnavailable
        No cache, mirror or network gave the file (network disabled, HTTP 4xx, retries or deadline
        exhausted, cache not writable); the reason says what was tried and what to do.
    ChecksumMismatch
        A mirror or the network gave other bytes. Nothing is cached.
    InputError
        Invalid URL or sha256.
    """
    expected = validate_sha256(sha256, url)
    final = cache_path(settings.cache_dir, url)
    # Fast path without the lock: a sidecar-verified cache hit (works on a read-only shared cache too).
    hit = _check_cache(url, final, expected, full=False, repair=False)
    if hit is not None:
        return hit
    lock_wait = settings.give_up_after + settings.read_timeout + 5.0
    stack = contextlib.ExitStack()
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        stack.enter_context(file_lock(_lockfile(final), lock_wait))
    except LockTimeout:
        raise DataUnavailable(
            url,
            f"another process has been fetching it for over {lock_wait:.0f} s (lock file "
            f"{_lockfile(final)}); try again when that process has finished",
        ) from None
    except OSError as exc:
        # Cache not writable (read-only shared cache, permissions): a fully verified copy still serves.
        with contextlib.suppress(OSError):
            hit = _check_cache(url, final, expected, full=True, repair=False)
            if hit is not None:
                return hit
        raise DataUnavailable(
            url,
            f"cannot write to the cache directory {settings.cache_dir} ({exc.strerror or exc}) — "
            "set cache_dir in config/config.yaml (or --cache) to a writable directory",
        ) from None
    with stack:
        try:
            return _fetch_locked(url, expected, final, settings)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                what = f"the disk holding the cache {settings.cache_dir} is full — free space or set cache_dir elsewhere"
            else:
                what = f"file error while caching it: {exc}"
            raise DataUnavailable(url, what) from None


def _fetch_locked(url: str, expected: str, final: Path, settings: FetchSettings) -> FetchResult:
    hit = _check_cache(url, final, expected, full=True, repair=True)
    if hit is not None:
        return hit
    # Inside the lock nobody else writes this file: any .part file is left over from a killed process.
    for stale in final.parent.glob(f"{_glob_escape(final.name)}{_PART_INFIX}*"):
        log.debug("removing stale temporary file %s", stale)
        _remove(stale)
    for mirror in settings.mirrors:
        src = mirror_path(mirror, url)
        if src.is_file():
            return _copy_from_mirror(url, expected, src, mirror, final, settings.progress)
    looked = _looked_in(settings.mirrors)
    if not settings.network:
        raise DataUnavailable(
            url,
            f"it is not in the cache ({settings.cache_dir}), {looked} and the network is disabled — "
            f"set {MIRROR_ENV} to a directory laid out as <mirror>/<host>/<path>, add one to `mirrors` in "
            "config/config.yaml, or set network.enabled: true",
        )
    return _download(url, expected, final, settings, looked)


def _glob_escape(name: str) -> str:
    """Escape the glob metacharacters ``*?[`` in a file name (for :meth:`pathlib.Path.glob`)."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def fetch_dataset(
    name: str,
    dataset: Mapping[str, Any],
    settings: FetchSettings,
    *,
    source: str | Path = "config/datasets.yaml",
) -> dict[str, Any]:
    """Fetch every file of one dataset and describe the outcome as a JSON-able manifest.

    Parameters
    ----------
    name
        Dataset name (its key in ``config/datasets.yaml``).
    dataset
        Its block: ``dataset["files"]`` maps a role (``table``, ``samples``, …) to ``{url, sha256, format}``.
        A block with ``source:`` instead (an API-backed dataset: Qiita, MGnify, GMrepo) is handed to
        :func:`gutskin.sources.fetch_source`, which returns a manifest of the same shape.
    settings
        See :class:`FetchSettings`.
    source
        The datasets file, named in configuration errors.

    Returns
    -------
    dict
        ``{"dataset", "available", "reason", "files": {role: {"url", "sha256", "format", "path", "size",
        "source", "source_detail", "retrieved_at"}}}``. Every file is tried; when any is unavailable,
        ``available`` is false, ``reason`` names each missing role, URL and cause, and the files that were
        fetched stay listed.

    Raises
    ------
    ConfigError
        A file entry without a URL or with a malformed sha256 (checked for all files before fetching any).
    ChecksumMismatch
        Not caught: a wrong checksum stops the run.
    """
    if isinstance(dataset, Mapping) and dataset.get("source") is not None:
        # API-backed dataset (Qiita, MGnify, GMrepo): same manifest shape, see gutskin.sources.
        from .sources import fetch_source

        return fetch_source(name, dataset, settings, source=source)
    files = dataset.get("files") if isinstance(dataset, Mapping) else None
    if not isinstance(files, Mapping) or not files:
        raise ConfigError(
            source,
            f"dataset {name!r} lists no files",
            where=f"key datasets/{name}/files",
            hint="give each file as {url, sha256, format}",
        )
    checked: list[tuple[str, str, str, Any]] = []
    for role, spec in files.items():
        key = f"key datasets/{name}/files/{role}"
        if not isinstance(spec, Mapping):
            raise ConfigError(
                source, f"file entry {role!r} of dataset {name!r} must be a mapping", where=key
            )
        url = spec.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(
                source, f"file {role!r} of dataset {name!r} has no url", where=f"{key}/url"
            )
        url = url.strip()
        try:
            _url_parts(url)
        except InputError as exc:
            raise ConfigError(source, exc.problem, where=f"{key}/url", hint=exc.hint) from None
        sha = validate_sha256(spec.get("sha256"), url, source=source, where=f"{key}/sha256")
        checked.append((str(role), url, sha, spec.get("format")))

    manifest: dict[str, Any] = {"dataset": name, "available": True, "reason": None, "files": {}}
    problems: list[str] = []
    for role, url, sha, fmt in checked:
        try:
            res = fetch(url, sha, settings)
        except DataUnavailable as exc:
            log.warning("dataset %s, file %s: %s", name, role, exc)
            problems.append(f"file {role!r} ({url}) is unavailable: {exc.reason}")
            continue
        manifest["files"][role] = {
            "url": url,
            "sha256": res.sha256,
            "format": fmt,
            "path": str(res.path),
            "size": res.size,
            "source": res.source,
            "source_detail": res.source_detail,
            "retrieved_at": res.retrieved_at,
        }
    if problems:
        manifest["available"] = False
        manifest["reason"] = "; ".join(problems)
    return manifest


def write_manifest(manifest: Mapping[str, Any], path: Path) -> None:
    """Write ``manifest`` as indented JSON, atomically (temporary file in the same directory, then rename)."""
    text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
    _atomic_write_text(Path(path), text)


# ----------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gutskin.fetch URL SHA256 [--cache DIR] [--mirror DIR]``: prefetch one file.

    Prints the local path on success (exit 0); prints the reason and exits 1 when the file is unavailable
    or does not verify.
    """
    parser = argparse.ArgumentParser(
        prog="gutskin-fetch",
        description="Fetch one file into the gutskin cache (cache, then mirrors, then the network), "
        "verify its sha256 and print its local path.",
    )
    parser.add_argument("url", help="http(s) URL of the file")
    parser.add_argument("sha256", help="expected sha256 (64 hex characters)")
    parser.add_argument(
        "--cache", default="resources/cache", help="cache directory (default: %(default)s)"
    )
    parser.add_argument(
        "--mirror",
        action="append",
        default=[],
        metavar="DIR",
        help=f"mirror directory <mirror>/<host>/<path>; repeatable; searched after ${MIRROR_ENV}",
    )
    parser.add_argument("--no-network", action="store_true", help="use only the cache and mirrors")
    parser.add_argument(
        "--retries", type=int, default=3, help="extra attempts (default: %(default)s)"
    )
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=60.0,
        metavar="S",
        help="deadline per file (default: %(default)s s)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the path or the error"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    try:
        settings = FetchSettings(
            cache_dir=Path(args.cache),
            mirrors=resolve_mirrors(args.mirror),
            network=not args.no_network,
            retries=args.retries,
            give_up_after=args.give_up_after,
            progress=not args.quiet,
        )
        result = fetch(args.url, args.sha256, settings)
    except GutskinError as exc:
        print(f"gutskin-fetch: {exc}", file=sys.stderr)
        return 1
    print(result.path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
