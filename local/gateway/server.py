"""The gateway on a real HTTP server: werkzeug's threaded server, in a background thread.

Its request handler answers what the HTTP server refuses on its own (an unreadable request
line, headers too large, an HTTP version other than 1.x) in the gateway's JSON instead of
http.server's HTML, and, once a request's body was refused unread (413, 429), reads and
drops what the client still sends before closing, so that the answer is not lost to a
TCP reset.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local.config import API_GATEWAY_MAX_PAYLOAD_BYTES
from local.gateway.app import UNREAD_BODY, Gateway

# What the HTTP server itself refuses, before the request reaches the gateway.
_SERVER_ERROR_CODES = {
    400: "bad_request",
    414: "uri_too_long",
    431: "headers_too_large",
}
# How much of a refused request is read and thrown away before the connection closes, so
# that closing it with unread data (a TCP reset) does not destroy the answer in transit.
_DRAIN_MAX_BYTES = 2 * API_GATEWAY_MAX_PAYLOAD_BYTES
_DRAIN_MAX_SECONDS = 2.0


def _shown(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


class _QuietHandler(WSGIRequestHandler):
    """No access log: the gateway prints one line per invocation itself.

    Requests the HTTP server refuses by itself (request line or headers too long, too many
    headers, a malformed request line, an HTTP version other than 1.x) are answered like
    the gateway's own errors: JSON `{"error": CODE, "message": TEXT}`, always a 4xx.
    """

    _environ: dict[str, Any] | None = None

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def make_environ(self) -> Any:
        self._environ = environ = super().make_environ()
        return environ

    def handle_one_request(self) -> None:
        self._environ = None
        super().handle_one_request()
        if self._environ is not None and self._environ.get(UNREAD_BODY):
            # The answer is sent; what the client still sends of a refused body is read
            # and dropped (bounded), so that closing does not reset the answer away.
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                return
            self._discard_unread()

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        version = self.request_version  # "HTTP/0.9" when the request line had none
        major = version.partition("/")[2].partition(".")[0]
        if not major.isdigit() or int(major) < 1:
            text = f"HTTP version {_shown(version)} is not supported; use HTTP/1.1."
            self._send_json_error(400, "bad_request", text)
            return False
        try:
            urlsplit(self.path)  # werkzeug fails on it later and answers nothing
        except ValueError:
            text = f"The request target {_shown(self.path)} is not a valid URL."
            self._send_json_error(400, "bad_request", text)
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        status = int(code)
        line = self.requestline or ""
        if status == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            # A well-formed version that is not 1.x: bad input like any other, so a 4xx.
            status = 400
            version = line.split()[-1] if line.split() else ""
            text = f"HTTP version {_shown(version)} is not supported; use HTTP/1.1."
        elif status == HTTPStatus.REQUEST_URI_TOO_LONG:
            text = "The request line (method, URL and version) is longer than 65536 bytes."
        elif status == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE:
            text = f"The request headers are too large ({explain or message or 'too large'})."
        elif status == HTTPStatus.BAD_REQUEST:
            text = f"Malformed request line {_shown(line)}; expected 'METHOD /path HTTP/1.1'."
        else:
            text = message or HTTPStatus(status).phrase
        if status >= 500:
            status = 400
        self._send_json_error(status, _SERVER_ERROR_CODES.get(status, "bad_request"), text)

    def _send_json_error(self, status: int, code: str, text: str) -> None:
        self.close_connection = True
        body = json.dumps({"error": code, "message": text}).encode("utf-8")
        app = getattr(self.server, "app", None)
        extra = app.gateway_headers if isinstance(app, Gateway) else {}
        # Written by hand: http.server leaves out the status line and headers when the
        # request line was unreadable (it then assumes HTTP/0.9).
        lines = [
            f"{self.protocol_version} {status} {HTTPStatus(status).phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in extra.items()),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        try:
            self.wfile.write(head if self.command == "HEAD" else head + body)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            return
        self._discard_unread()

    def _discard_unread(self) -> None:
        """Read what the client is still sending (bounded), then let the connection close."""
        deadline = time.monotonic() + _DRAIN_MAX_SECONDS
        total = 0
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.connection, selectors.EVENT_READ)
                while total < _DRAIN_MAX_BYTES and time.monotonic() < deadline:
                    if not selector.select(timeout=0.05):
                        return
                    data = self.rfile.read1(65536)
                    if not data:
                        return
                    total += len(data)
        except (OSError, ValueError):
            return


class GatewayServer:
    """The gateway on a threaded werkzeug server, in a background thread."""

    def __init__(self, app: Gateway, host: str, port: int) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gateway", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def wait_for(url: str, timeout: float = 10.0) -> None:
    """Block until `url` answers anything over HTTP."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - local URL
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
