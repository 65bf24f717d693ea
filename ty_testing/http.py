"""What the local test servers share: a threaded HTTP server on 127.0.0.1 and JSON answers."""

from __future__ import annotations

import json
import sys
import threading
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackServer(ABC):
    """Start/stop, the URL, and a context manager; subclasses answer in :meth:`handle`."""

    _httpd: ThreadingHTTPServer | None = None

    @abstractmethod
    def handle(self, request: BaseHTTPRequestHandler, body: bytes | None) -> None:
        """Answer one request (``body`` is None for GET)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle's
            # algorithm and the client's delayed ACK add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.handle(self, None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                server.handle(self, self.rfile.read(length))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that hangs up mid-answer (a timeout, an answer cut off at its size bound) is what some
                # tests do on purpose: no traceback for it. Anything else is still printed.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        if isinstance(host, (bytes, bytearray)):  # typeshed allows bytes; an AF_INET server's host is a str
            host = host.decode()
        return f"http://{host}:{port}"


def send_json(request: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    send_raw(request, status, json.dumps(body, ensure_ascii=False).encode(), "application/json", headers)


def send_raw(
    request: BaseHTTPRequestHandler, status: int, payload: bytes, content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    try:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (its timeout): as with a real server, the answer is lost
