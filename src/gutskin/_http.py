"""The HTTP layer shared by :mod:`gutskin.fetch` (sha256-pinned downloads) and :mod:`gutskin.sources.http`
(the API client): one place for how a request is sent, how its failures are classified and how it is retried.

- :class:`RetryableError` / :class:`FatalError`: the outcome of a failed attempt (retry it, or give up);
- :func:`attempt_timeouts` and :func:`send`: one request with connect and read timeouts bounded by the
  deadline, transport exceptions classified; :func:`check_status`: a response status classified (429 and 5xx retryable with the server's
  ``Retry-After``, other 4xx fatal with a caller-supplied hint);
- :func:`stream_body` / :func:`read_chunk`: reading a body chunk by chunk against the deadline, with
  read timeouts, broken connections and truncated bodies retryable;
- :func:`transfer_deadline` and :func:`new_session`: the whole-transfer deadline — a timer that shuts down
  the attempt's sockets when ``give_up_after`` passes, whatever phase the transfer is in (socket timeouts
  only bound each ``recv``, so a server sending one byte a second would never trip them);
- :func:`with_retries`: the retry loop (exponential backoff capped at :data:`BACKOFF_CAP`, at least the
  ``Retry-After``, within an overall deadline), raising :class:`~gutskin.errors.DataUnavailable` when it
  gives up;
- :func:`retry_after_seconds`, :func:`short_error`, :func:`decode_bytes`, :func:`decode_file`,
  :func:`file_lock` and the :data:`USER_AGENT` of every request.

The messages built here are the ones users see; callers supply what differs between them (the 4xx hint,
how the deadline is named, what is appended to a give-up message).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import fcntl
import hashlib
import logging
import math
import os
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter

from . import __version__
from .errors import DataUnavailable

__all__ = [
    "BACKOFF_CAP",
    "CHUNK_SIZE",
    "PROJECT_URL",
    "USER_AGENT",
    "FatalError",
    "LockTimeout",
    "RetryableError",
    "attempt_timeouts",
    "check_status",
    "content_length",
    "decode_bytes",
    "decode_file",
    "file_lock",
    "new_session",
    "read_chunk",
    "retry_after_seconds",
    "send",
    "short_error",
    "stream_body",
    "transfer_deadline",
    "with_retries",
]

#: Where users can read what gutskin is (sent in the User-Agent so server operators can reach us).
PROJECT_URL = "https://github.com/gutskin/gutskin"
#: The User-Agent of every request.
USER_AGENT = f"gutskin/{__version__} (+{PROJECT_URL})"
#: Bytes read or written at a time.
CHUNK_SIZE = 1 << 20
#: Longest single backoff sleep (seconds), before a server's Retry-After is taken into account.
BACKOFF_CAP = 30.0

T = TypeVar("T")


# ----------------------------------------------------------------------------------------------------------
# Outcomes of an attempt
# ----------------------------------------------------------------------------------------------------------


class RetryableError(Exception):
    """An attempt failed in a way worth retrying (5xx, 429, connection trouble, timeouts, truncation).

    Attributes
    ----------
    message
        What happened, for the user.
    retry_after
        Seconds the server asked to wait (``Retry-After``), if it did.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class FatalError(Exception):
    """An attempt failed in a way that retrying will not fix (4xx, TLS errors, malformed requests).

    Attributes
    ----------
    message
        What happened, for the user.
    status
        The HTTP status for 4xx answers, else ``None``.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ----------------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------------


def short_error(exc: BaseException) -> str:
    """A one-line description of an exception: its innermost cause, without urllib3's object reprs."""
    inner: BaseException = exc
    for _ in range(10):
        if isinstance(inner, urllib3.exceptions.MaxRetryError) and inner.reason is not None:
            inner = inner.reason
        elif isinstance(
            inner, requests.exceptions.RequestException | urllib3.exceptions.ProtocolError
        ) and (inner.args and isinstance(inner.args[-1], BaseException)):
            first = inner.args[0]
            if isinstance(inner, urllib3.exceptions.ProtocolError) and isinstance(first, str):
                break
            inner = inner.args[-1]
        else:
            break
    if (
        isinstance(inner, urllib3.exceptions.ProtocolError)
        and inner.args
        and isinstance(inner.args[0], str)
    ):
        text = inner.args[0]
    else:
        text = str(inner) or type(inner).__name__
    for pattern in (
        r"<urllib3[^>]*>:?\s*",
        r"HTTPS?Connection(Pool)?\([^)]*\):\s*",
    ):
        text = re.sub(pattern, "", text)
    text = text.replace("Failed to establish a new connection: ", "")
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header (delta-seconds or HTTP-date) into seconds from now (``None`` if absent
    or unreadable)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def content_length(resp: requests.Response) -> int | None:
    """The response's Content-Length, or ``None`` when absent or not a number."""
    length = resp.headers.get("Content-Length")
    if length is not None:
        with contextlib.suppress(ValueError):
            return int(length.strip())
    return None


def _of_total(total: int | None) -> str:
    return str(total) if total is not None else "?"


# ----------------------------------------------------------------------------------------------------------
# One attempt: send, classify the status, read the body
# ----------------------------------------------------------------------------------------------------------


def attempt_timeouts(
    remaining: float, connect_timeout: float, read_timeout: float
) -> tuple[float, float]:
    """The (connect, read) timeouts of an attempt with ``remaining`` seconds left before the deadline.

    Raises
    ------
    RetryableError
        When no time is left for an attempt.
    """
    if remaining <= 0.001:
        raise RetryableError("the deadline was reached before the attempt could start")
    return min(connect_timeout, remaining), min(read_timeout, remaining)


def _is_name_resolution_failure(exc: BaseException) -> bool:
    inner: BaseException | None = exc
    for _ in range(10):
        if inner is None:
            return False
        if isinstance(inner, urllib3.exceptions.NameResolutionError | socket.gaierror):
            return True
        if isinstance(inner, urllib3.exceptions.MaxRetryError):
            inner = inner.reason
        elif inner.args and isinstance(inner.args[-1], BaseException):
            inner = inner.args[-1]
        else:
            inner = inner.__cause__ or inner.__context__
    return False


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: tuple[float, float],
    guard: DeadlineGuard | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one streamed request (redirects followed) and return the response.

    Parameters
    ----------
    timeout
        Seconds to wait for a connection, and for data on an open connection (see
        :func:`attempt_timeouts`).
    guard
        The :func:`transfer_deadline` of the attempt: when it has cut the connection, the failure is
        reported as the deadline it is.
    kwargs
        Passed to :meth:`requests.Session.request` (``data``, ``headers``).

    Raises
    ------
    RetryableError
        A connect or read timeout, a connection error, the transfer deadline.
    FatalError
        A TLS/SSL error, a host name that does not resolve (retrying the same name a second later does
        not help, and each retry would wait for the resolver again), any other request failure.
    """
    host = urlsplit(url).netloc
    try:
        return _send(session, method, url, timeout=timeout, **kwargs)
    except RetryableError:
        if guard is not None and guard.expired:
            raise RetryableError(
                f"the deadline passed while waiting for the answer of {host} (a server sending its "
                "headers too slowly)"
            ) from None
        raise


def _send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: tuple[float, float],
    **kwargs: Any,
) -> requests.Response:
    host = urlsplit(url).netloc
    try:
        resp = session.request(
            method, url, stream=True, timeout=timeout, allow_redirects=True, **kwargs
        )
    except requests.exceptions.ConnectTimeout:
        raise RetryableError(f"connecting to {host} timed out after {timeout[0]:.3g} s") from None
    except requests.exceptions.ReadTimeout:
        raise RetryableError(
            f"{host} sent no response within {timeout[1]:.3g} s (read timeout)"
        ) from None
    except requests.exceptions.SSLError as exc:
        raise FatalError(f"TLS/SSL error talking to {host}: {exc}") from None
    except requests.exceptions.ConnectionError as exc:
        if _is_name_resolution_failure(exc):
            raise FatalError(
                f"the host name {urlsplit(url).hostname} does not resolve ({short_error(exc)}): check "
                "the URL and the machine's network/DNS settings"
            ) from None
        raise RetryableError(f"could not connect to {host}: {short_error(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise FatalError(f"request to {url} failed: {short_error(exc)}") from None
    return resp


def check_status(
    resp: requests.Response,
    url: str,
    *,
    hints: Mapping[int, str] | None = None,
    unexpected_note: str = "",
) -> str:
    """Classify the response's status; return the URL that answered (after redirects) when it is 200.

    Parameters
    ----------
    url
        The URL asked for (named when the response has none).
    hints
        Text appended to the message of a 4xx status, by status (e.g. ``{404: " (not found: …)"}``).
    unexpected_note
        Text appended to the message of another non-200 status.

    Raises
    ------
    RetryableError
        429 or 5xx, with the server's ``Retry-After``.
    FatalError
        Other 4xx (with ``status``), or any other status but 200 (without).
    """
    status = resp.status_code
    where = resp.url or url
    if status == 429 or 500 <= status <= 599:
        raise RetryableError(
            f"HTTP {status} {resp.reason or ''} from {where}".replace("  ", " "),
            retry_after_seconds(resp.headers.get("Retry-After")),
        )
    if status >= 400:
        hint = (hints or {}).get(status, "")
        raise FatalError(
            f"HTTP {status} {resp.reason or ''} from {where}{hint}".replace("  ", " "), status
        )
    if status != 200:
        raise FatalError(
            f"unexpected HTTP {status} {resp.reason or ''} from {where}{unexpected_note}"
        )
    return where


def read_chunk(
    resp: requests.Response,
    host: str,
    size: int,
    total: int | None,
    read_timeout: float | None = None,
) -> bytes:
    """The next raw (not content-decoded) chunk of a streamed body; ``b""`` at its end.

    ``size`` bytes of ``total`` have been received so far (named in the messages), and ``read_timeout``,
    when given, is named in a read-timeout message.

    Raises
    ------
    RetryableError
        A read timeout or a broken connection.
    """
    try:
        return resp.raw.read(CHUNK_SIZE, decode_content=False)
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        after = f" after {read_timeout:.3g} s" if read_timeout is not None else ""
        raise RetryableError(
            f"read from {host} timed out{after} ({size} of {_of_total(total)} bytes received)"
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise RetryableError(
            f"connection to {host} broke after {size} of {_of_total(total)} bytes: {short_error(exc)}"
        ) from None


def stream_body(
    resp: requests.Response,
    host: str,
    *,
    total: int | None,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    read_timeout: float | None = None,
    late: Callable[[int], str] | None = None,
    guard: DeadlineGuard | None = None,
) -> Iterator[bytes]:
    """Yield the raw chunks of a streamed body, checking the deadline before each read.

    Parameters
    ----------
    total
        The announced length (Content-Length), if any: a shorter or longer body is a truncation.
    deadline, clock
        No read starts after ``clock()`` passes ``deadline``.
    read_timeout
        Named in read-timeout messages (see :func:`read_chunk`).
    late
        The message when the deadline passes, given the bytes received so far (default: the download's).
    guard
        The attempt's :func:`transfer_deadline`: a read it cut short is reported as the deadline (and a
        body it ended early is never taken for a complete one).

    Raises
    ------
    RetryableError
        Past the deadline, a read timeout, a broken connection, a truncated body.
    """
    size = 0

    def overdue() -> RetryableError:
        return RetryableError(
            late(size)
            if late is not None
            else f"the download was still running at the deadline ({size} of "
            f"{_of_total(total)} bytes received)"
        )

    while True:
        if clock() > deadline or (guard is not None and guard.expired):
            raise overdue()
        try:
            chunk = read_chunk(resp, host, size, total, read_timeout)
        except RetryableError:
            if guard is not None and guard.expired:
                raise overdue() from None
            raise
        if guard is not None and guard.expired:
            raise overdue()
        if not chunk:
            break
        size += len(chunk)
        yield chunk
    if total is not None and size != total:
        raise RetryableError(f"truncated body from {host}: got {size} of {total} bytes")


# ----------------------------------------------------------------------------------------------------------
# The retry loop
# ----------------------------------------------------------------------------------------------------------


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n > 1 else ''}"


def with_retries(
    attempt: Callable[[float], T],
    *,
    url: str,
    retries: int,
    backoff: float,
    give_up_after: float,
    deadline_label: str,
    log: logging.Logger,
    label: str | None = None,
    note: str = "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Call ``attempt(deadline)`` until it returns, retrying on :class:`RetryableError`.

    The wait before retry *k* is ``backoff * 2**(k-1)`` capped at :data:`BACKOFF_CAP`, and at least the
    server's ``Retry-After``; no wait runs past the deadline (``give_up_after`` seconds from now).

    Parameters
    ----------
    url
        The URL, named in the :class:`~gutskin.errors.DataUnavailable` raised when giving up.
    retries
        Extra attempts after the first.
    deadline_label
        How the deadline is named in the give-up message (e.g. ``"network.give_up_after = 60 s"``).
    log, label
        Where retries are logged (WARNING), and what names the request there (default: ``url``).
    note
        Appended to a give-up message (e.g. ``"; no mirror is configured …"``).
    clock, sleep
        Monotonic clock and sleep function (injectable for tests).
    on_retry
        Called before each backoff sleep.

    Raises
    ------
    DataUnavailable
        Retries or the deadline exhausted.
    FatalError
        Not caught: the caller turns it into its own error.
    """
    start = clock()
    deadline = start + give_up_after
    max_attempts = 1 + retries
    attempts = 0
    while True:
        attempts += 1
        try:
            return attempt(deadline)
        except RetryableError as exc:
            last, retry_after = exc.message, exc.retry_after
        elapsed = clock() - start
        if attempts >= max_attempts:
            raise DataUnavailable(
                url,
                f"gave up after {_attempts(attempts)} in {elapsed:.1f} s "
                f"(network.retries = {retries}), last error: {last}{note}",
            )
        wait = min(backoff * 2 ** (attempts - 1), BACKOFF_CAP)
        if retry_after is not None:
            wait = max(wait, retry_after)
        remaining = deadline - clock()
        if wait >= remaining:
            asked = (
                f"; the server asked to wait {retry_after:.3g} s" if retry_after is not None else ""
            )
            raise DataUnavailable(
                url,
                f"gave up after {elapsed:.1f} s ({deadline_label}): {_attempts(attempts)}, "
                f"last error: {last}{asked}{note}",
            )
        log.warning(
            "%s: %s — retrying in %.2f s (attempt %d of %d)",
            label or url,
            last,
            wait,
            attempts + 1,
            max_attempts,
        )
        if on_retry is not None:
            on_retry()
        sleep(wait)


# ----------------------------------------------------------------------------------------------------------
# The whole-transfer deadline
# ----------------------------------------------------------------------------------------------------------

_current = threading.local()


class DeadlineGuard:
    """Cuts the connections of one attempt when its deadline passes (see :func:`transfer_deadline`).

    Socket timeouts bound each ``recv`` only: a server that sends one byte a second never trips them. The
    guard's timer shuts down the sockets the attempt opened, so a blocked read returns at the deadline
    whatever phase it is in (status line, headers, body).

    Attributes
    ----------
    expired
        True once the timer fired (the attempt must then fail with the deadline, whatever it read).
    """

    def __init__(self) -> None:
        self.expired = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()

    def register(self, conn: Any) -> None:
        with self._lock:
            if conn not in self._conns:
                self._conns.append(conn)
            fire_now = self.expired
        if fire_now:
            self._cut(conn)

    @staticmethod
    def _cut(conn: Any) -> None:
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def fire(self) -> None:
        with self._lock:
            self.expired = True
            conns = list(self._conns)
        for conn in conns:
            self._cut(conn)


@contextlib.contextmanager
def transfer_deadline(seconds: float) -> Iterator[DeadlineGuard]:
    """Bound everything a request does in this block (in this thread) to ``seconds``.

    Connections opened through a session from :func:`new_session` register with the guard; when the
    time is up their sockets are shut down.
    """
    guard = DeadlineGuard()
    timer = threading.Timer(max(0.0, seconds), guard.fire)
    timer.daemon = True
    previous = getattr(_current, "guard", None)
    _current.guard = guard
    timer.start()
    try:
        yield guard
    finally:
        timer.cancel()
        _current.guard = previous


def _register_with_guard(conn: Any) -> None:
    guard = getattr(_current, "guard", None)
    if guard is not None:
        guard.register(conn)


class _Guarded:
    """Mixin for a urllib3 connection: register it with the current transfer guard before and after
    connecting and before each request, so that the guard's timer can close it."""

    def connect(self) -> None:
        _register_with_guard(self)
        super().connect()  # type: ignore[misc]
        _register_with_guard(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register_with_guard(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPConnection(_Guarded, urllib3.connection.HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, urllib3.connection.HTTPSConnection):
    pass


class _GuardedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def new_session() -> requests.Session:
    """A session for gutskin's requests: our User-Agent, no content encoding asked for, and connections
    that a :func:`transfer_deadline` can cut."""
    session = requests.Session()
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    adapter_http, adapter_https = _GuardedAdapter(), _GuardedAdapter()
    session.mount("http://", adapter_http)
    session.mount("https://", adapter_https)
    return session


# ----------------------------------------------------------------------------------------------------------
# Content decoding
# ----------------------------------------------------------------------------------------------------------


def _deflate_wbits(head: bytes) -> int:
    """zlib-wrapped deflate per RFC 9110, or the raw deflate some servers send."""
    return (
        zlib.MAX_WBITS
        if len(head) >= 2 and (head[0] * 256 + head[1]) % 31 == 0
        else -zlib.MAX_WBITS
    )


def _inflated_too_large(max_bytes: int) -> FatalError:
    return FatalError(
        f"the server's content-encoded body inflates to more than {max_bytes} bytes "
        "(limits.max_inflated_bytes in config/config.yaml): a decompression bomb or a much larger file "
        "than expected; nothing was kept"
    )


def decode_bytes(data: bytes, encoding: str, *, max_bytes: int | None = None) -> bytes:
    """Undo a Content-Encoding (gzip, deflate) the server applied although ``identity`` was asked for.

    Other encodings are returned unchanged. Raises :class:`OSError`, :class:`EOFError` or
    :class:`zlib.error` for a body that does not decode, :class:`FatalError` when it would inflate past
    ``max_bytes``.
    """
    if encoding in ("gzip", "x-gzip"):
        dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        dec = zlib.decompressobj(_deflate_wbits(data[:2]))
    else:
        return data
    cap = max_bytes if max_bytes is not None else -1
    limit = cap + 1 if cap >= 0 else 0
    out = dec.decompress(data, limit)
    if cap >= 0 and (len(out) > cap or dec.unconsumed_tail):
        raise _inflated_too_large(cap)
    out += dec.flush()
    if cap >= 0 and len(out) > cap:
        raise _inflated_too_large(cap)
    if not dec.eof:
        raise EOFError("the compressed body ended before its end-of-stream marker")
    return out


def decode_file(
    src: Path,
    encoding: str,
    out: Path,
    *,
    max_bytes: int | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Path, str, int] | None:
    """Decode a body the server content-encoded despite ``Accept-Encoding: identity`` into ``out``.

    ``encoding`` is gzip (``x-gzip``) or deflate. ``out`` must not exist; it is created. Returns ``out``,
    the sha256 and size of the decoded bytes, or ``None`` (``out`` removed) when ``src`` cannot be decoded.

    Raises
    ------
    FatalError
        The decoded size would pass ``max_bytes`` (a decompression bomb): ``out`` is removed.
    RetryableError
        ``clock()`` passed ``deadline`` while decoding (``out`` removed).
    """
    h = hashlib.sha256()
    size = 0
    wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else None
    ok = False
    try:
        with open(src, "rb") as raw, open(out, "xb") as fo:
            if wbits is None:
                wbits = _deflate_wbits(raw.read(2))
                raw.seek(0)
            dec = zlib.decompressobj(wbits)
            pending = b""
            while True:
                if deadline is not None and clock() > deadline:
                    raise RetryableError(
                        f"the deadline passed while decoding the {encoding}-encoded body "
                        f"({size} bytes decoded)"
                    )
                if not pending:
                    pending = raw.read(CHUNK_SIZE)
                    if not pending:
                        break
                data = dec.decompress(pending, CHUNK_SIZE)
                pending = dec.unconsumed_tail
                if dec.eof:
                    pending = b""
                size += len(data)
                if max_bytes is not None and size > max_bytes:
                    raise _inflated_too_large(max_bytes)
                h.update(data)
                fo.write(data)
                if dec.eof:
                    break
            tail = dec.flush()
            size += len(tail)
            if max_bytes is not None and size > max_bytes:
                raise _inflated_too_large(max_bytes)
            if not dec.eof:
                return None
            h.update(tail)
            fo.write(tail)
            fo.flush()
            os.fsync(fo.fileno())
        ok = True
    except (OSError, EOFError, zlib.error):
        return None
    finally:
        if not ok:
            with contextlib.suppress(FileNotFoundError):
                out.unlink()
    return out, h.hexdigest(), size


# ----------------------------------------------------------------------------------------------------------
# Locking
# ----------------------------------------------------------------------------------------------------------


class LockTimeout(Exception):
    """:func:`file_lock` waited ``timeout`` seconds without getting the lock."""


@contextlib.contextmanager
def file_lock(lock_path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed), waiting at most ``timeout`` s.

    The lock file is left in place: deleting it would let a third process lock a different inode.
    A lock held by a process that dies is released by the kernel.

    Raises
    ------
    LockTimeout
        When the lock is still held by another process after ``timeout`` seconds.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        end = time.monotonic() + timeout
        pause = 0.02
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    raise LockTimeout from None
                time.sleep(min(pause, max(0.0, end - time.monotonic())))
                pause = min(pause * 2, 0.5)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
