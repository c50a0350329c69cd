"""A local API Gateway (REST API, Lambda proxy integration) built from template.yaml.

It serves exactly the template's `Api` events: a request becomes the proxy event API
Gateway would send, the function's answer becomes the HTTP response. Besides the API it
answers CORS preflights like an API with `Cors` configured, and serves the fan page from
web/ on paths that are not API routes.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import selectors
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers
from werkzeug.exceptions import ClientDisconnected
from werkzeug.security import safe_join
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local import log
from local.config import ACCOUNT_ID, API_GATEWAY_MAX_PAYLOAD_BYTES
from local.lambdas import Invocation, Invoker
from local.template import ROOT, Function, Route
from local.throttle import Throttle

WEB_ROOT = ROOT / "web"
STAGE = "local"
API_ID = "local"
# API Gateway gives up on an integration after 29 s.
INTEGRATION_TIMEOUT_SECONDS = 29.0
# Set in the WSGI environ when a request's body was refused unread: the server then reads
# (and throws away) what the client still sends before closing, so the answer arrives.
UNREAD_BODY = "local.gateway.unread_body"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}

_PROXY_RESULT_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


class MalformedProxyResponse(ValueError):
    """The function's answer is not a Lambda proxy response (API Gateway: 502)."""


@dataclass(frozen=True)
class Match:
    path: str  # the template's path, e.g. /events/{event_id}
    params: dict[str, str]
    routes: dict[str, Route]  # method -> route


class Router:
    """The template's routes by path; a literal segment wins over a `{param}` as in AWS."""

    def __init__(self, routes: Iterable[Route]) -> None:
        by_path: dict[str, dict[str, Route]] = {}
        for route in routes:
            by_path.setdefault(route.path, {})[route.method] = route
        self._paths = sorted(
            by_path.items(), key=lambda item: (item[0].count("{"), -len(item[0]), item[0])
        )

    @property
    def routes(self) -> list[Route]:
        return [route for _, methods in self._paths for route in methods.values()]

    def match(self, path: str) -> Match | None:
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        for template_path, methods in self._paths:
            found = next(iter(methods.values())).pattern.match(path)
            if found:
                return Match(template_path, found.groupdict(), methods)
        return None


def _none_if_empty(mapping: dict[str, Any]) -> dict[str, Any] | None:
    return mapping or None


def request_event(
    request: Request,
    resource: str,
    path_params: dict[str, str],
    body: bytes,
    *,
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The REST API proxy event for `request`, matched to the template path `resource`."""
    now = now or datetime.now(UTC)
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers[name] = value  # API Gateway keeps the last value of a repeated header
        multi_headers.setdefault(name, []).append(value)
    forwarded = {
        "X-Forwarded-For": request.remote_addr or "127.0.0.1",
        "X-Forwarded-Port": str(request.environ.get("SERVER_PORT", "")),
        "X-Forwarded-Proto": request.scheme,
    }
    lower = {name.lower() for name in headers}
    for name, value in forwarded.items():
        if name.lower() not in lower:
            headers[name] = value
            multi_headers[name] = [value]
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, values in request.args.lists():
        multi_query[key] = list(values)
        query[key] = values[-1]
    if body:
        try:
            text: str | None = body.decode("utf-8")
            is_base64 = False
        except UnicodeDecodeError:
            text = base64.b64encode(body).decode("ascii")
            is_base64 = True
    else:
        text, is_base64 = None, False
    request_id = request_id or str(uuid.uuid4())
    path = request.path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": _none_if_empty(headers),
        "multiValueHeaders": _none_if_empty(multi_headers),
        "queryStringParameters": _none_if_empty(query),
        "multiValueQueryStringParameters": _none_if_empty(multi_query),
        "pathParameters": _none_if_empty(dict(path_params)),
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, resource).hex[:6],
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": path,
            "stage": STAGE,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "domainName": request.host,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "apiKey": None,
                "accessKey": None,
                "sourceIp": request.remote_addr or "127.0.0.1",
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": request.headers.get("User-Agent"),
                "user": None,
            },
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedProxyResponse(f"header value {value!r} is not a string")


def proxy_response(result: Any) -> Response:
    """The HTTP response for a Lambda proxy result; MalformedProxyResponse if it is none."""
    if not isinstance(result, dict):
        raise MalformedProxyResponse("the result is not a JSON object")
    unknown = set(result) - _PROXY_RESULT_KEYS
    if unknown:
        raise MalformedProxyResponse(f"unexpected fields {sorted(unknown)}")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status!r} is not an HTTP status")
    headers = Headers()
    single = result.get("headers")
    multi = result.get("multiValueHeaders")
    single = {} if single is None else single
    multi = {} if multi is None else multi
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedProxyResponse("headers must be objects")
    # As API Gateway: both are merged; a name in multiValueHeaders takes its values from there.
    multi_lower = {str(name).lower() for name in multi}
    for name, value in single.items():
        if str(name).lower() not in multi_lower:
            headers.add(str(name), _header_text(value))
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders[{name!r}] is not a list")
        for value in values:
            headers.add(str(name), _header_text(value))
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse("body must be a string")
    if result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body or "", validate=True)
        except (binascii.Error, ValueError):
            raise MalformedProxyResponse("body is not valid base64") from None
    else:
        data = (body or "").encode("utf-8")
    if "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    return Response(data, status=status, headers=headers)


class Gateway:
    """The WSGI application."""

    def __init__(
        self,
        routes: Iterable[Route],
        invoker: Invoker,
        *,
        cors: dict[str, str] | None = None,
        gateway_headers: dict[str, str] | None = None,
        web_root: Path | None = WEB_ROOT,
        max_body_bytes: int = API_GATEWAY_MAX_PAYLOAD_BYTES,
        throttle: Throttle | None = None,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        on_invocation: Callable[[Function, Invocation, int, Request], None] | None = None,
    ) -> None:
        self.router = Router(routes)
        self.invoker = invoker
        self.cors = dict(cors or {})
        self.gateway_headers = dict(gateway_headers or {})
        self.web_root = web_root.resolve() if web_root else None
        self.max_body_bytes = max_body_bytes
        self.throttle = throttle
        self.integration_timeout = integration_timeout
        self.on_invocation = on_invocation or _log_invocation

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:
            # A bug of the gateway itself: say so on stderr, answer as API Gateway would
            # (JSON, not werkzeug's HTML page).
            errors = environ.get("wsgi.errors")
            if errors is not None:
                errors.write(f"Error on request {request.method} {request.path}:\n")
                errors.write(traceback.format_exc())
            response = self._gateway_failure(500, "Internal server error")
        return response(environ, start_response)

    # ------------------------------------------------------------------ answers of its own
    def error(self, status: int, code: str, message: str, **extra: Any) -> Response:
        body = json.dumps({"error": code, "message": message, **extra})
        response = Response(body, status=status, content_type="application/json")
        for name, value in self.gateway_headers.items():
            response.headers[name] = value
        return response

    def _gateway_failure(self, status: int, message: str) -> Response:
        """API Gateway's own 5XX answers: `{"message": ...}`."""
        response = Response(
            json.dumps({"message": message}), status=status, content_type="application/json"
        )
        for name, value in self.gateway_headers.items():
            response.headers[name] = value
        return response

    def dispatch(self, request: Request) -> Response:
        match = self.router.match(request.path)
        if match is None:
            if request.method in {"GET", "HEAD"}:
                static = self._static(request)
                if static is not None:
                    return static
            return self.error(404, "not_found", f"No route for {request.method} {request.path}.")
        if self.throttle is not None:
            # Before anything else (the body is not even read): a throttled request costs
            # the gateway next to nothing and never reaches a function.
            refused = self.throttle.take(request.remote_addr or "", match.path, request.method)
            if refused is not None:
                if request.content_length:
                    request.environ[UNREAD_BODY] = True
                response = self.error(
                    429,
                    "rate_limited",
                    f"Too many requests from this client: at most {refused.limit.rate:g} a"
                    f" second (bursts of {refused.limit.burst}). Retry after"
                    f" {refused.retry_after} s.",
                    retry_after_seconds=refused.retry_after,
                )
                response.headers["Retry-After"] = str(refused.retry_after)
                return response
        route = match.routes.get(request.method)
        if route is None:
            if request.method == "OPTIONS" and self.cors:
                return self._preflight()
            allowed = sorted(match.routes) + (["OPTIONS"] if self.cors else [])
            response = self.error(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {match.path}.",
                allowed=allowed,
            )
            response.headers["Allow"] = ", ".join(allowed)
            return response
        try:
            body = self._read_body(request)
        except (OSError, ValueError, ClientDisconnected):
            return self.error(
                400,
                "bad_request",
                "The request body could not be read: it is malformed (e.g. a bad chunked "
                "encoding) or shorter than its Content-Length.",
            )
        if body is None:
            request.environ[UNREAD_BODY] = True
            return self.error(
                413,
                "payload_too_large",
                f"The request body is larger than {self.max_body_bytes} bytes"
                " (API Gateway's payload limit).",
                max_body_bytes=self.max_body_bytes,
            )
        event = request_event(request, route.path, match.params, body)
        return self._invoke(route, event, request)

    def _read_body(self, request: Request) -> bytes | None:
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return None
        data: bytes = request.stream.read(self.max_body_bytes + 1)
        if len(data) > self.max_body_bytes:
            return None
        return data

    def _invoke(self, route: Route, event: dict[str, Any], request: Request) -> Response:
        timeout = min(float(route.function.timeout), self.integration_timeout)
        invocation = self.invoker.invoke(route.function, event, timeout=timeout)
        if invocation.ok:
            try:
                response = proxy_response(invocation.result)
            except MalformedProxyResponse:
                response = self._gateway_failure(502, "Internal server error")
        elif invocation.timed_out:
            response = self._gateway_failure(504, "Endpoint request timed out")
        elif invocation.throttled:
            response = self._gateway_failure(429, "Too Many Requests")
        else:
            response = self._gateway_failure(502, "Internal server error")
        self.on_invocation(route.function, invocation, response.status_code, request)
        return response

    def _preflight(self) -> Response:
        response = Response(status=204)
        for name, value in self.cors.items():
            response.headers[name] = value
        return response

    def _static(self, request: Request) -> Response | None:
        if self.web_root is None:
            return None
        relative = request.path.lstrip("/") or "index.html"
        if "\x00" in relative or any(part.startswith(".") for part in relative.split("/")):
            return None
        joined = safe_join(str(self.web_root), relative)
        if joined is None:
            return None
        target = Path(joined)
        try:
            resolved = target.resolve()
        except (OSError, ValueError):
            return None
        if not resolved.is_relative_to(self.web_root) or not resolved.is_file():
            return None
        suffix = resolved.suffix.lower()
        content_type = CONTENT_TYPES.get(suffix) or (
            mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
        )
        data = resolved.read_bytes()
        response = Response(
            b"" if request.method == "HEAD" else data, status=200, content_type=content_type
        )
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.method == "HEAD":
            response.headers["Content-Length"] = str(len(data))
        return response


def _log_invocation(
    function: Function, invocation: Invocation, status: int, request: Request
) -> None:
    detail = f"{request.method} {request.path}"
    if invocation.error:
        detail += f" ({invocation.error})"
    log.invocation(function.logical_id, status, invocation.duration_ms, detail)


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
    import urllib.error
    import urllib.request

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
