"""A polite JSON and file client for public web APIs, with the semantics of :mod:`gutskin.fetch`.

:class:`ApiClient` is what the source adapters (:mod:`~gutskin.sources.qiita`,
:mod:`~gutskin.sources.mgnify`, :mod:`~gutskin.sources.gmrepo`) use to talk to remote services:

- **timeouts, retries, backoff**: connection and read timeouts; 5xx, 429, connection errors, read timeouts
  and truncated bodies are retried with exponential backoff (``backoff * 2**(k-1)``, capped), at least as
  long as the server's ``Retry-After`` asks, within an overall deadline per request
  (``give_up_after``); other 4xx answers are not retried and raise :class:`ApiStatusError`;
- **rate limiting**: at most ``requests_per_second`` requests to one host (every attempt counts, retries
  included; answers from the cache do not);
- **a response cache on disk**: every JSON answer is stored under
  ``<cache_dir>/api/<host>/<kk>/<key>.json`` with a ``<key>.meta.json`` record (method, URL, request
  body, sha256, size, when), where ``key`` is the sha256 of method + URL + the sha256 of the request body.
  Both files are written atomically (temporary file + :func:`os.replace`). A cached answer is re-hashed
  and re-parsed before use; a corrupt or incomplete entry is deleted and fetched again. A second run with
  the same configuration therefore makes no request at all;
- **files** (zip archives, TSV tables) are cached like :func:`gutskin.fetch.fetch` caches them, keyed by
  URL (``<cache_dir>/<host>/<path>``), and looked up in the mirrors too. When no sha256 is known in advance,
  the sha256 of the downloaded bytes is recorded next to the file (``<file>.sha256.json``, the sidecar
  format of :mod:`gutskin.fetch`) and the cached copy is re-hashed and checked against that record every
  time it is re-used. With a sha256 given, :func:`gutskin.fetch.fetch` itself is used.

Errors
------
:class:`~gutskin.errors.DataUnavailable`
    Network disabled and nothing cached, retries or deadline exhausted, or a body that is not JSON (the
    message names the URL and shows the start of the body). Not cached.
:class:`ApiStatusError`
    A subclass of ``DataUnavailable`` for HTTP 4xx answers other than 429, with the ``status``; adapters
    use it to fall back (e.g. MGnify API v2 → v1 on a 404).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from .._atomic import atomic_write_bytes, remove
from .._cache import (
    FetchResult,
    FetchSettings,
    FileCache,
    HttpStatusError,
    utc_now,
)
from .._http import (
    DeadlineGuard,
    FatalError,
    RetryableError,
    attempt_timeouts,
    check_status,
    content_length,
    decode_bytes,
    new_session,
    send,
    stream_body,
    transfer_deadline,
    with_retries,
)
from ..errors import DataUnavailable, InputError

__all__ = [
    "API_CACHE_DIR",
    "ApiClient",
    "ApiSettings",
    "ApiStatusError",
    "Downloaded",
    "Paged",
    "RateLimiter",
    "canonical_url",
    "paged_count_items",
    "paged_jsonapi",
    "paged_skip_limit",
]

log = logging.getLogger("gutskin.sources")

#: Sub-directory of the cache holding JSON answers.
API_CACHE_DIR = "api"
#: Log progress of file downloads about every this many bytes.
PROGRESS_STEP = 50 * 1024 * 1024
#: Appended to the message of an HTTP 404 answer.
_NOT_FOUND = " (not found: check the identifiers in the source block)"

T = TypeVar("T")


# ----------------------------------------------------------------------------------------------------------
# Settings, results, errors
# ----------------------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class ApiSettings(FetchSettings):
    """How :class:`ApiClient` talks to remote services: :class:`~gutskin.fetch.FetchSettings` (cache,
    mirrors, network, timeouts, retries, backoff, deadline, inflation cap) plus politeness and size limits.

    Parameters
    ----------
    requests_per_second
        Politeness: at most this many requests per second to one host.
    max_pages
        Most pages a paged listing may follow; a listing cut short is reported, never hidden.
    max_json_bytes
        Largest JSON body accepted (bytes), before and after content decoding.

    Notes
    -----
    JSON answers go to ``<cache_dir>/api/``; files to ``<cache_dir>/<host>/<path>`` as in
    :mod:`gutskin.fetch`. ``give_up_after`` bounds one request (all its attempts and waits, and within an
    attempt the connection, headers, body and decoding).
    """

    requests_per_second: float = 2.0
    max_pages: int = 1000
    max_json_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        super().__post_init__()
        rate = self.requests_per_second
        if not _is_number(rate) or not rate > 0 or not math.isfinite(rate):
            raise InputError(
                None, f"ApiSettings.requests_per_second must be a positive number, got {rate!r}"
            )
        for name in ("max_pages", "max_json_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(None, f"ApiSettings.{name} must be an integer >= 1, got {value!r}")

    @classmethod
    def from_fetch_settings(cls, settings: FetchSettings, **overrides: Any) -> ApiSettings:
        """``settings`` with the API-only fields at their defaults; ``overrides`` replace single values."""
        base = {f.name: getattr(settings, f.name) for f in fields(FetchSettings)}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


#: An HTTP 4xx answer (other than 429), not retried; adapters use its ``status`` to fall back (e.g.
#: MGnify API v2 → v1 on a 404). The same class for JSON answers and files.
ApiStatusError = HttpStatusError


#: A local, verified copy of a remote file (the cache's :class:`~gutskin.fetch.FetchResult`).
Downloaded = FetchResult


@dataclass
class Paged:
    """The items of a paged listing.

    Attributes
    ----------
    items
        Every item, in the order served.
    pages
        Pages requested (or read from the cache).
    complete
        ``False`` when the page limit stopped the listing before its end.
    expected
        The total the service announced (``count``), if it did.
    """

    items: list[Any] = field(default_factory=list)
    pages: int = 0
    complete: bool = True
    expected: int | None = None

    def stop_at_limit(self, url: str) -> None:
        """Mark the listing incomplete (the page limit stopped it) and say so in the log."""
        self.complete = False
        log.warning(
            "%s: stopped after %d pages (max_pages) with %d of %s items",
            url,
            self.pages,
            len(self.items),
            self.expected if self.expected is not None else "?",
        )


# ----------------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------------


def _utc_now() -> str:
    return utc_now()


def canonical_url(url: str, params: Mapping[str, Any] | None = None) -> str:
    """``url`` with ``params`` appended to its query string (parameters sorted by name).

    The result is what is requested and what the cache is keyed on, so the same logical request always
    hits the same cache entry.

    Raises
    ------
    InputError
        If ``url`` is not an http(s) URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(
            None, f"not an http(s) URL: {url!r}", hint="check base_url in the source block"
        )
    if not params:
        return url
    extra = urlencode(sorted((str(k), str(v)) for k, v in params.items() if v is not None))
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "unknown").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port is not None and port != default else host


_atomic_write_bytes = atomic_write_bytes
_remove = remove


def _snippet(data: bytes, n: int = 80) -> str:
    text = data[:n].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text + ("…" if len(data) > n else "")


# ----------------------------------------------------------------------------------------------------------
# Rate limiting
# ----------------------------------------------------------------------------------------------------------


class RateLimiter:
    """At most ``rate`` request starts per second per key (host): successive starts are ≥ 1/rate apart.

    Parameters
    ----------
    rate
        Requests per second (> 0).
    clock, sleep
        Monotonic clock and sleep function (injectable for tests).
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not _is_number(rate) or not rate > 0 or not math.isfinite(rate):
            raise InputError(None, f"requests_per_second must be a positive number, got {rate!r}")
        self.interval = 1.0 / float(rate)
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        #: Seconds slept so far, per key.
        self.waited: dict[str, float] = {}

    def wait(self, key: str) -> None:
        """Block until a request to ``key`` may start, and book the slot."""
        now = self._clock()
        due = self._next.get(key, now)
        if due > now:
            self._sleep(due - now)
            self.waited[key] = self.waited.get(key, 0.0) + (due - now)
            now = max(self._clock(), due)
        self._next[key] = now + self.interval


# ----------------------------------------------------------------------------------------------------------
# The client
# ----------------------------------------------------------------------------------------------------------


class ApiClient:
    """Cached, rate-limited, retrying JSON and file client (see the module documentation).

    Parameters
    ----------
    settings
        See :class:`ApiSettings`.
    sleep, clock
        Injectable for tests (backoff waits and the rate limiter use them).

    Attributes
    ----------
    stats
        Counters: ``requests`` (attempts sent over the network), ``cache_hits``, ``retries``,
        ``network`` (answers obtained over the network), ``mirror``.
    newest
        ISO time of the newest answer used (network or cache), for manifests.
    """

    def __init__(
        self,
        settings: ApiSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self.limiter = RateLimiter(settings.requests_per_second, clock=clock, sleep=sleep)
        self.stats: dict[str, int] = {
            "requests": 0,
            "cache_hits": 0,
            "retries": 0,
            "network": 0,
            "mirror": 0,
        }
        self.newest: str | None = None
        self._session: requests.Session | None = None
        self._guard: DeadlineGuard | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def session(self) -> requests.Session:
        """The HTTP session (created on first use)."""
        if self._session is None:
            self._session = new_session()
        return self._session

    def _seen(self, when: str | None) -> None:
        if when and (self.newest is None or when > self.newest):
            self.newest = when

    # -- JSON ----------------------------------------------------------------------------------------
    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``url`` (with ``params`` added to its query) and return the parsed JSON answer.

        Raises
        ------
        DataUnavailable
            See the module documentation; :class:`ApiStatusError` for 4xx answers.
        """
        return self._json("GET", canonical_url(url, params), None)

    def post_json(self, url: str, body: Any) -> Any:
        """POST ``body`` as JSON to ``url`` and return the parsed JSON answer (cached like GET answers)."""
        return self._json("POST", canonical_url(url), body)

    def cache_entry(self, method: str, url: str, body: Any = None) -> tuple[Path, Path]:
        """The cache files (answer, record) of a request: ``<cache>/api/<host>/<kk>/<key>.json``."""
        body_bytes = _body_bytes(body)
        key = hashlib.sha256(
            f"{method.upper()}\n{url}\n{hashlib.sha256(body_bytes).hexdigest()}".encode()
        ).hexdigest()
        folder = self.settings.cache_dir / API_CACHE_DIR / _host_key(url) / key[:2]
        return folder / f"{key}.json", folder / f"{key}.meta.json"

    def _json(self, method: str, url: str, body: Any) -> Any:
        body_bytes = _body_bytes(body) if method == "POST" else b""
        data_path, meta_path = self.cache_entry(method, url, body)
        cached = self._read_cached(method, url, data_path, meta_path)
        if cached is not None:
            return cached
        if not self.settings.network:
            raise DataUnavailable(
                url,
                f"this {method} answer is not in the API cache ({self.settings.cache_dir / API_CACHE_DIR}) "
                "and the network is disabled — set network.enabled: true in config/config.yaml, or copy "
                "a cache filled on a machine with network access",
            )
        data, where = self._with_retries(method, url, body_bytes, self._read_json_body)
        try:
            obj = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise DataUnavailable(
                url,
                f"the answer{_from(where, url)} is not UTF-8 text (byte {exc.start}); it starts with "
                f"{_snippet(data)!r}. Nothing was cached",
            ) from None
        except json.JSONDecodeError as exc:
            raise DataUnavailable(
                url,
                f"the answer{_from(where, url)} is not valid JSON ({exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}); it starts with {_snippet(data)!r}. Nothing was cached; the "
                "service may be down or have changed its interface",
            ) from None
        now = _utc_now()
        meta = {
            "method": method,
            "url": url,
            "final_url": where,
            "request_body": body if method == "POST" else None,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "retrieved_at": now,
        }
        try:
            _atomic_write_bytes(data_path, data)
            _atomic_write_bytes(meta_path, (json.dumps(meta, indent=1) + "\n").encode())
        except OSError as exc:  # a read-only cache still lets the run go on
            log.warning("could not cache the answer of %s %s: %s", method, url, exc)
        self.stats["network"] += 1
        self._seen(now)
        return obj

    def _read_cached(self, method: str, url: str, data_path: Path, meta_path: Path) -> Any | None:
        if not data_path.exists() and not meta_path.exists():
            return None
        problem = None
        obj: Any = None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            data = data_path.read_bytes()
            if not isinstance(meta, dict) or meta.get("url") != url or meta.get("method") != method:
                problem = "its record does not describe this request"
            elif meta.get("size") != len(data):
                problem = f"it has {len(data)} bytes, the record says {meta.get('size')}"
            elif meta.get("sha256") != hashlib.sha256(data).hexdigest():
                problem = "its sha256 differs from the record"
            else:
                obj = json.loads(data.decode("utf-8-sig"))
        except FileNotFoundError as exc:
            problem = f"{Path(exc.filename or '').name or 'a file'} is missing"
        except (OSError, ValueError) as exc:
            problem = f"it cannot be read ({exc.__class__.__name__}: {exc})"
        if problem is None:
            self.stats["cache_hits"] += 1
            self._seen(meta.get("retrieved_at"))
            return obj
        log.warning(
            "corrupt cache entry for %s %s (%s): deleting it and fetching again",
            method,
            url,
            problem,
        )
        _remove(data_path)
        _remove(meta_path)
        return None

    def _read_json_body(
        self, resp: requests.Response, total: int | None, host: str, deadline: float
    ) -> bytes:
        buf = io.BytesIO()
        size = 0
        cap = self.settings.max_json_bytes
        for chunk in stream_body(
            resp,
            host,
            total=total,
            deadline=deadline,
            clock=self._clock,
            late=lambda got: (
                f"the answer was still arriving at the deadline ({got} bytes received)"
            ),
            guard=self._guard,
        ):
            size += len(chunk)
            if size > cap:
                raise FatalError(
                    f"the answer is larger than {cap} bytes (ApiSettings.max_json_bytes)"
                )
            buf.write(chunk)
        data = buf.getvalue()
        encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", ""):
            try:
                data = decode_bytes(
                    data, encoding, max_bytes=min(cap, self.settings.max_inflated_bytes)
                )
            except (OSError, EOFError, zlib.error) as exc:
                raise RetryableError(f"cannot decode the {encoding}-encoded body: {exc}") from None
        return data

    # -- files ---------------------------------------------------------------------------------------
    def download(
        self, url: str, *, sha256: str | None = None, give_up_after: float | None = None
    ) -> Downloaded:
        """A local copy of the file at ``url``: from the cache, a mirror or the network.

        The verified cache of :mod:`gutskin._cache` (the one pinned files use): with ``sha256`` a copy
        with other bytes raises :class:`~gutskin.errors.ChecksumMismatch`; without, the sha256 of the
        bytes is recorded when stored and every later use re-hashes the file against that record.

        Parameters
        ----------
        url
            An http(s) URL (a query string is fine: it is part of the cache name).
        sha256
            The expected sha256, if known.
        give_up_after
            Deadline for this download in seconds (default: the settings' ``give_up_after``).

        Raises
        ------
        DataUnavailable
            No cache, mirror or network could provide the file.
        """
        host = _host_key(url)

        def before(_url: str) -> None:
            self.limiter.wait(host)
            self.stats["requests"] += 1

        def counted() -> None:
            self.stats["retries"] += 1

        cache = FileCache(
            self.settings,
            session=self.session,
            before_attempt=before,
            on_retry=counted,
            clock=self._clock,
            sleep=self._sleep,
        )
        res = cache.get(url, sha256, give_up_after=give_up_after)
        self.stats["cache_hits" if res.source == "cache" else res.source] += 1
        self._seen(res.retrieved_at)
        return res

    def forget_file(self, url: str) -> None:
        """Delete the cached copy of ``url`` (an answer that proved not to be the file asked for), so the
        next run asks the server again instead of failing on the same bad copy."""
        FileCache(self.settings).invalidate(url)

    # -- the retry loop ------------------------------------------------------------------------------
    def _with_retries(
        self,
        method: str,
        url: str,
        body: bytes,
        handle: Callable[[requests.Response, int | None, str, float], T],
        give_up_after: float | None = None,
    ) -> tuple[T, str]:
        """Send the request until it succeeds; return ``handle``'s result and the final URL."""
        limit = give_up_after or self.settings.give_up_after
        host = _host_key(url)

        def attempt(deadline: float) -> tuple[T, str]:
            self.limiter.wait(host)
            return self._attempt(method, url, body, handle, deadline)

        def counted() -> None:
            self.stats["retries"] += 1

        try:
            return with_retries(
                attempt,
                url=url,
                retries=self.settings.retries,
                backoff=self.settings.backoff,
                give_up_after=limit,
                deadline_label=f"deadline {limit:g} s",
                log=log,
                label=f"{method} {url}",
                clock=self._clock,
                sleep=self._sleep,
                on_retry=counted,
            )
        except FatalError as exc:
            if exc.status is not None:
                raise ApiStatusError(url, exc.status, exc.message) from None
            raise DataUnavailable(url, exc.message) from None

    def _attempt(
        self,
        method: str,
        url: str,
        body: bytes,
        handle: Callable[[requests.Response, int | None, str, float], T],
        deadline: float,
    ) -> tuple[T, str]:
        timeout = attempt_timeouts(
            deadline - self._clock(), self.settings.connect_timeout, self.settings.read_timeout
        )
        host = urlsplit(url).netloc
        headers = {"Accept": "application/json, */*;q=0.5"}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        self.stats["requests"] += 1
        with transfer_deadline(deadline - self._clock()) as guard:
            resp = send(
                self.session,
                method,
                url,
                timeout=timeout,
                guard=guard,
                data=body if method == "POST" else None,
                headers=headers,
            )
            with resp:
                where = check_status(resp, url, hints={404: _NOT_FOUND})
                self._guard = guard
                try:
                    return handle(resp, content_length(resp), host, deadline), where
                finally:
                    self._guard = None


def _from(where: str, url: str) -> str:
    return f" from {where}" if where and where != url else ""


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ----------------------------------------------------------------------------------------------------------
# Paging
# ----------------------------------------------------------------------------------------------------------


def paged_count_items(
    client: ApiClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int = 100,
    max_pages: int | None = None,
) -> Paged:
    """Follow a ``{"count": N, "items": [...]}`` listing (MGnify API v2) page by page to its end.

    Pages are requested with ``page=1, 2, …`` and ``page_size``; the listing ends when ``count`` items
    have been read, or a page is empty or shorter than ``page_size``.

    Raises
    ------
    DataUnavailable
        From the client, or when an answer is not a ``{"count", "items"}`` object.
    """
    limit = max_pages or client.settings.max_pages
    out = Paged()
    page = 1
    while True:
        query = {**(params or {}), "page": page, "page_size": page_size}
        doc = client.get_json(url, query)
        if not isinstance(doc, Mapping) or not isinstance(doc.get("items"), list):
            raise DataUnavailable(
                canonical_url(url, query),
                'the answer is not a {"count", "items"} listing (API v2 paging); the service may '
                "have changed its interface",
            )
        items = doc["items"]
        count = doc.get("count")
        if isinstance(count, int) and not isinstance(count, bool):
            out.expected = count
        out.items.extend(items)
        out.pages += 1
        done = (
            not items
            or len(items) < page_size
            or (out.expected is not None and len(out.items) >= out.expected)
        )
        if done:
            return out
        if out.pages >= limit:
            out.stop_at_limit(url)
            return out
        page += 1


def paged_jsonapi(
    client: ApiClient,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    max_pages: int | None = None,
) -> Paged:
    """Follow a JSON:API listing (MGnify API v1: ``data``, ``links.next``, ``meta.pagination``) to its end.

    Raises
    ------
    DataUnavailable
        From the client, when an answer is not a JSON:API list, or when ``links.next`` points back to a
        page already read (a loop).
    """
    limit = max_pages or client.settings.max_pages
    out = Paged()
    next_url: str | None = canonical_url(url, params)
    seen: set[str] = set()
    while next_url:
        if next_url in seen:
            raise DataUnavailable(
                next_url, "links.next points back to a page already read (a paging loop)"
            )
        seen.add(next_url)
        doc = client.get_json(next_url)
        if not isinstance(doc, Mapping) or not isinstance(doc.get("data"), list):
            raise DataUnavailable(
                next_url,
                "the answer is not a JSON:API list (no 'data' array); the service may have changed "
                "its interface",
            )
        out.items.extend(doc["data"])
        out.pages += 1
        meta = doc.get("meta")
        pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
        if isinstance(pagination, Mapping) and isinstance(pagination.get("count"), int):
            out.expected = pagination["count"]
        links = doc.get("links")
        nxt = links.get("next") if isinstance(links, Mapping) else None
        next_url = nxt if isinstance(nxt, str) and nxt else None
        if next_url and out.pages >= limit:
            out.stop_at_limit(url)
            break
    return out


def paged_skip_limit(
    fetch_page: Callable[[int, int], Sequence[Any]],
    *,
    limit: int,
    total: int | None,
    max_pages: int,
    what: str,
) -> Paged:
    """Read a ``skip``/``limit`` listing (GMrepo): pages until ``total`` items, an empty or short page.

    Parameters
    ----------
    fetch_page
        ``fetch_page(skip, limit)`` returns one page of items.
    limit
        Items per page.
    total
        The announced number of items, if known.
    max_pages
        Most pages to read.
    what
        Named in the warning when the page limit stops the listing.
    """
    out = Paged(expected=total)
    skip = 0
    while True:
        if total is not None and skip >= total:
            return out
        items = list(fetch_page(skip, limit))
        out.items.extend(items)
        out.pages += 1
        skip += limit
        if not items or len(items) < limit:
            return out
        if out.pages >= max_pages and (total is None or len(out.items) < total):
            out.complete = False
            log.warning(
                "%s: stopped after %d pages (max_pages) with %d of %s items",
                what,
                out.pages,
                len(out.items),
                total if total is not None else "?",
            )
            return out


@contextlib.contextmanager
def open_client(settings: ApiSettings) -> Iterator[ApiClient]:
    """An :class:`ApiClient` that is closed on exit."""
    client = ApiClient(settings)
    try:
        yield client
    finally:
        client.close()
