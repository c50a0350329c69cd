"""The gateway's WSGI app: the template's `Api` events, answered as API Gateway would.

A path is matched to a template path first, whatever the method (werkzeug's `Map`, one
rule per template path): a known path with another method is then a 405 (or, with `Cors`
configured, an OPTIONS preflight), and throttling is decided by the template path before
the method or the body is looked at. Paths that are no API route serve the fan page from
web/; anything else is a 404 in the gateway's own JSON.
"""

from __future__ import annotations

import json
import mimetypes
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import ClientDisconnected, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.security import safe_join
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from local import log
from local.config import API_GATEWAY_MAX_PAYLOAD_BYTES
from local.gateway.codec import MalformedProxyResponse, proxy_response, request_event
from local.lambdas import Invocation, Invoker
from local.template import ROOT, Function, Route
from local.throttle import Throttle

WEB_ROOT = ROOT / "web"
# API Gateway gives up on an integration after 29 s.
INTEGRATION_TIMEOUT_SECONDS = 29.0
# Set in the WSGI environ when a request's body was refused unread: the server then reads
# (and throws away) what the client still sends before closing, so the answer arrives.
UNREAD_BODY = "local.gateway.unread_body"

# Python's own table (not the machine's /etc/mime.types, which varies), with the types
# the page needs that it lacks or that older Pythons give otherwise.
_MEDIA_TYPES = mimetypes.MimeTypes()
for _suffix, _media_type in (
    (".js", "text/javascript"),
    (".mjs", "text/javascript"),
    (".map", "application/json"),
    (".woff2", "font/woff2"),
):
    _MEDIA_TYPES.add_type(_media_type, _suffix)


def _rule(template_path: str) -> str:
    """A template path as a werkzeug rule: `{id}` -> `<id>`, `{proxy+}` -> `<path:proxy>`."""
    return template_path.replace("{proxy+}", "<path:proxy>").replace("{", "<").replace("}", ">")


class ApiRoutes:
    """The template's routes by path; a literal segment wins over a `{param}` as in AWS."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._by_path: dict[str, dict[str, Route]] = {}
        for route in routes:
            self._by_path.setdefault(route.path, {})[route.method] = route
        # Any method matches a rule: the gateway itself tells a 405 from a 404.
        rules = Map(
            [Rule(_rule(path), endpoint=path) for path in self._by_path],
            strict_slashes=False,
            merge_slashes=False,
        )
        self._urls = rules.bind("localhost")

    @property
    def routes(self) -> list[Route]:
        return [route for methods in self._by_path.values() for route in methods.values()]

    def match(self, path: str) -> tuple[str, dict[str, str], dict[str, Route]] | None:
        """(template path, path parameters, method -> route), or None for no API route."""
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        try:
            template_path, params = self._urls.match(path)
        except NotFound:
            return None
        return str(template_path), dict(params), self._by_path[str(template_path)]


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
        self.router = ApiRoutes(routes)
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
        return self._own_answer(status, {"error": code, "message": message, **extra})

    def _gateway_failure(self, status: int, message: str) -> Response:
        """API Gateway's own 5XX answers: `{"message": ...}`."""
        return self._own_answer(status, {"message": message})

    def _own_answer(self, status: int, body: dict[str, Any]) -> Response:
        response = Response(json.dumps(body), status=status, content_type="application/json")
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
        template_path, params, methods = match
        if self.throttle is not None:
            # Before anything else (the body is not even read): a throttled request costs
            # the gateway next to nothing and never reaches a function.
            refused = self.throttle.take(request.remote_addr or "", template_path, request.method)
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
        route = methods.get(request.method)
        if route is None:
            if request.method == "OPTIONS" and self.cors:
                return self._preflight()
            allowed = sorted(methods) + (["OPTIONS"] if self.cors else [])
            response = self.error(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {template_path}.",
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
        event = request_event(request, route.path, params, body)
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
        """A file of web/ (no dotfile, nothing reached through a link out of it), or None."""
        if self.web_root is None:
            return None
        relative = request.path.lstrip("/") or "index.html"
        if "\x00" in relative or any(part.startswith(".") for part in relative.split("/")):
            return None
        joined = safe_join(str(self.web_root), relative)
        if joined is None:
            return None
        try:
            resolved = Path(joined).resolve()
        except (OSError, ValueError):
            return None
        if not resolved.is_relative_to(self.web_root) or not resolved.is_file():
            return None
        media_type = _MEDIA_TYPES.guess_type(resolved.name)[0] or "application/octet-stream"
        # Always the whole file, revalidated on every load (`no-cache`), no ETag: the page
        # is edited while the stack runs.
        response = send_file(
            resolved, request.environ, mimetype=media_type, conditional=False, etag=False
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _log_invocation(
    function: Function, invocation: Invocation, status: int, request: Request
) -> None:
    detail = f"{request.method} {request.path}"
    if invocation.error:
        detail += f" ({invocation.error})"
    log.invocation(function.logical_id, status, invocation.duration_ms, detail)
