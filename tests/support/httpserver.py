"""A real HTTP server on 127.0.0.1 with injectable faults, for tests of anything that talks HTTP.

No mocks: the code under test opens real sockets to this server. Each route answers with a
:class:`Response` (or a sequence of them, or whatever a handler function returns), and every request is
recorded so tests can assert how many requests were made, with which headers, query strings and bodies.

Example
-------
>>> with FaultServer() as srv:  # doctest: +SKIP
...     srv.add("/data.txt", b"hello")
...     srv.add_sequence("/flaky", [Response(status=503), Response(body=b"ok")])
...     srv.add_json("/api/items", {"count": 1, "items": [1]})
...     srv.add_handler("/api/page", lambda req: Response(json={"skip": req.query["skip"][0]}))
...     url = srv.url("/data.txt")
...     ...
...     assert srv.count("/flaky") == 2

Faults a :class:`Response` can inject: any ``status`` (with ``Retry-After`` etc. in ``headers``),
``truncate_to`` (announce the full Content-Length, send fewer bytes, close), ``delay`` (after the headers,
before the body: a read timeout while streaming), ``header_delay`` (before the status line: a read timeout
while waiting for the response), ``drop`` (close the connection without answering), ``drip`` and
``header_drip`` (one byte at a time: never a read timeout, never the end).
"""

from __future__ import annotations

import json as jsonlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FaultServer", "RequestRecord", "Response", "closed_port_url"]


@dataclass
class Response:
    """One scripted answer.

    Parameters
    ----------
    status
        HTTP status code.
    body
        Bytes of the body (ignored when ``json`` is given).
    headers
        Extra headers; a ``Content-Length`` given here replaces the true one (to announce a wrong length).
    truncate_to
        Send the full ``Content-Length`` but only this many body bytes, then close the connection.
    delay
        Seconds to sleep after the headers and before the body.
    header_delay
        Seconds to sleep before sending anything (status line included).
    json
        A JSON-serialisable object sent as ``application/json``.
    drop
        Close the connection without sending a response.
    drip
        Send the body one byte at a time, this many seconds apart (a server that never stalls long
        enough for a read timeout, but never finishes either).
    header_drip
        Send the status line and headers one byte at a time, this many seconds apart.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] | None = None
    truncate_to: int | None = None
    delay: float = 0.0
    header_delay: float = 0.0
    json: Any = None
    drop: bool = False
    drip: float = 0.0
    header_drip: float = 0.0

    def payload(self) -> bytes:
        """The body bytes to send (serialised JSON when ``json`` is set)."""
        if self.json is not None:
            return jsonlib.dumps(self.json).encode("utf-8")
        return self.body


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server received it.

    Attributes
    ----------
    method
        ``GET``, ``POST``, ...
    path
        The path without the query string.
    query
        Parsed query string (``parse_qs``: name -> list of values).
    target
        The request target as sent (path and query string).
    headers
        Request headers with lower-cased names.
    body
        The request body.
    time
        ``time.monotonic()`` when the request was received.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    target: str
    headers: dict[str, str]
    body: bytes
    time: float

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty)."""
        return jsonlib.loads(self.body) if self.body else None

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header by case-insensitive name."""
        return self.headers.get(name.lower(), default)


Route = Callable[[RequestRecord], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FaultServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # clients that hang up (read timeouts, truncation) are part of the tests
        self.owner.errors.append(exc)  # type: ignore[arg-type]
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        record = RequestRecord(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            target=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            time=time.monotonic(),
        )
        resp = owner._dispatch(record)
        if resp.header_delay > 0:
            owner._stop.wait(resp.header_delay)
        if resp.drop:
            self._hang_up()
            return
        payload = resp.payload()
        headers = dict(resp.headers or {})
        lower = {k.lower() for k in headers}
        if resp.json is not None and "content-type" not in lower:
            headers["Content-Type"] = "application/json"
        if "content-length" not in lower:
            headers["Content-Length"] = str(len(payload))
        if resp.header_drip > 0:
            head = f"HTTP/1.1 {resp.status} {self.responses.get(resp.status, ('',))[0]}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            try:
                for byte in head.encode("latin-1"):
                    if owner._stop.wait(resp.header_drip):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:
                self.close_connection = True
            return
        self.send_response(resp.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if resp.truncate_to is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.flush()
            if resp.delay > 0:
                owner._stop.wait(resp.delay)
            if self.command != "HEAD" and resp.drip > 0:
                for byte in payload:
                    if owner._stop.wait(resp.drip):
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            elif self.command != "HEAD":
                data = payload if resp.truncate_to is None else payload[: resp.truncate_to]
                self.wfile.write(data)
                self.wfile.flush()
        except OSError:
            self.close_connection = True
            return
        if resp.truncate_to is not None:
            self._hang_up()


class FaultServer:
    """A threading HTTP/1.1 server on 127.0.0.1 (free port) whose routes script faults.

    Use as a context manager. Unknown paths answer 404. Routes are matched on the full request target
    (path and query string) first, then on the path alone.

    Attributes
    ----------
    base_url
        ``http://127.0.0.1:<port>``.
    requests
        Every request received, in order (:class:`RequestRecord`).
    errors
        Unexpected exceptions raised while handling requests (should stay empty).
    """

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.requests: list[RequestRecord] = []
        self.errors: list[BaseException] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FaultServer:
        """Start serving in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed responses are woken up and abandoned."""
        self._stop.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routes --------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def add(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Answer every request to ``path`` with the same response; return its URL."""
        resp = Response(status=status, body=body, headers=headers)
        return self.add_handler(path, lambda _req: resp)

    def add_json(self, path: str, obj: Any, *, status: int = 200) -> str:
        """Answer every request to ``path`` with ``obj`` as JSON; return its URL."""
        resp = Response(status=status, json=obj)
        return self.add_handler(path, lambda _req: resp)

    def add_sequence(self, path: str, responses: Iterable[Response]) -> str:
        """Answer successive requests to ``path`` with ``responses`` in order; the last one repeats."""
        items = list(responses)
        if not items:
            raise ValueError("add_sequence needs at least one Response")
        index = {"n": 0}
        lock = threading.Lock()

        def route(_req: RequestRecord) -> Response:
            with lock:
                i = min(index["n"], len(items) - 1)
                index["n"] += 1
            return items[i]

        return self.add_handler(path, route)

    def add_handler(self, path: str, handler: Route) -> str:
        """Answer requests to ``path`` with ``handler(record)``; return the URL.

        ``path`` may include a query string to match one exact request target.
        """
        with self._lock:
            self._routes[path] = handler
        return self.url(path)

    def _dispatch(self, record: RequestRecord) -> Response:
        with self._lock:
            self.requests.append(record)
            route = self._routes.get(record.target) or self._routes.get(record.path)
        if route is None:
            return Response(status=404, body=b"not found\n", headers={"Content-Type": "text/plain"})
        try:
            return route(record)
        except Exception as exc:  # a broken test handler: answer 500 and remember it
            self.errors.append(exc)
            return Response(status=500, body=f"handler error: {exc!r}\n".encode())

    # -- inspection ----------------------------------------------------------------------------------
    def count(self, path: str) -> int:
        """How many requests were made to ``path`` (query strings ignored)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def requests_to(self, path: str) -> list[RequestRecord]:
        """The recorded requests to ``path`` (query strings ignored), in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        """Forget the recorded requests (routes stay)."""
        with self._lock:
            self.requests.clear()


def closed_port_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 whose port nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path if path.startswith('/') else '/' + path}"
