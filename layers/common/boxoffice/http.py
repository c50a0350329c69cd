"""HTTP edge: the resolver every API function uses, and the one table of errors to statuses."""

from __future__ import annotations

import hashlib
import hmac
import json
from http import HTTPStatus
from typing import Any, TypeVar

import psycopg
from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import to_json

from boxoffice import errors
from boxoffice.observability import Handler, api_entrypoint, logger
from boxoffice.settings import Settings

Model = TypeVar("Model", bound=BaseModel)
JSON = content_types.APPLICATION_JSON

STATUS_BY_ERROR: dict[type[errors.DomainError], HTTPStatus] = {
    errors.InvalidRequest: HTTPStatus.BAD_REQUEST,
    errors.InvalidSignature: HTTPStatus.BAD_REQUEST,
    errors.InvalidPayload: HTTPStatus.BAD_REQUEST,
    errors.Unauthorized: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.EventNotFound: HTTPStatus.NOT_FOUND,
    errors.SeatNotFound: HTTPStatus.NOT_FOUND,
    errors.CheckoutNotFound: HTTPStatus.NOT_FOUND,
    errors.SeatsUnavailable: HTTPStatus.CONFLICT,
    errors.SalesClosed: HTTPStatus.CONFLICT,
    errors.HoldLimit: HTTPStatus.TOO_MANY_REQUESTS,
    errors.NoSeatsTogether: HTTPStatus.CONFLICT,
    errors.NotAdmitted: HTTPStatus.CONFLICT,
    errors.CheckoutExpired: HTTPStatus.CONFLICT,
    errors.CheckoutCompleted: HTTPStatus.CONFLICT,
    errors.PaymentMismatch: HTTPStatus.CONFLICT,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.ServiceUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.PaymentUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}

CORS = CORSConfig(
    allow_origin="*",
    allow_headers=["Authorization", "Content-Type", "x-api-key"],
    max_age=600,
)


class ErrorBody(BaseModel):
    """Every refusal: a stable code, a message for people, and details for some codes."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str


_DESCRIBED = {
    HTTPStatus.BAD_REQUEST: "The request is malformed or breaks a limit (`invalid_request`).",
    HTTPStatus.UNAUTHORIZED: "No credentials: the checkout's bearer token or the admin key.",
    HTTPStatus.FORBIDDEN: "Credentials that are not this checkout's, or not an admin's.",
    HTTPStatus.NOT_FOUND: "No such event, seat, checkout or route.",
    HTTPStatus.CONFLICT: "The state does not allow it (seats taken, not admitted, expired...).",
    HTTPStatus.TOO_MANY_REQUESTS: "Too many seats held, or requests sent, by this client.",
    HTTPStatus.SERVICE_UNAVAILABLE: "A backing service is down; retry after `Retry-After`.",
}


# What every route of one checkout may refuse: no token, another's token, no such checkout.
CHECKOUT_REFUSALS = (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)


def answers(
    status: int, model: Any, *refusals: HTTPStatus, cached: bool = False
) -> dict[int, OpenAPIResponse]:
    """The responses a route documents (its OpenAPI): `model` on success, ErrorBody on each
    refusal; every route may also answer 400 and 503; a cached read also 304."""
    documented: dict[int, OpenAPIResponse] = {
        status: {"description": "Done.", "content": {JSON: {"model": model}}}
    }
    if cached:
        documented[int(HTTPStatus.NOT_MODIFIED)] = {
            "description": "Unchanged since the ETag sent in If-None-Match (no body)."
        }
    for refusal in sorted({HTTPStatus.BAD_REQUEST, HTTPStatus.SERVICE_UNAVAILABLE, *refusals}):
        documented[int(refusal)] = {
            "description": _DESCRIBED[refusal],
            "content": {JSON: {"model": ErrorBody}},
        }
    return documented


def error_response(
    status: HTTPStatus,
    code: str,
    message: str,
    /,
    headers: dict[str, str] | None = None,
    **details: Any,
) -> Response[str]:
    body = {"error": code, "message": message, **details}
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


def json_response(payload: Any, status: HTTPStatus = HTTPStatus.OK) -> Response[str]:
    """A model, a list of models, or JSON text already made, as a JSON response."""
    return Response(status_code=status, content_type=JSON, body=_json_text(payload))


# How long the edge and browsers keep reads (DESIGN.md, "Caching, limits and faults").
EVENTS_MAX_AGE = 600
SEAT_MAP_MAX_AGE = 10


def cached_json_response(
    app: APIGatewayRestResolver,
    payload: Any,
    max_age: int,
    etag: str | None = None,
) -> Response[str]:
    """A read the edge and browsers may keep `max_age` seconds, with a strong ETag; 304
    without a body when If-None-Match names it. `payload` is a model (or list of models),
    JSON text, or a function making either: given a cheap `etag` of its own, a revalidation
    that matches never calls it."""
    asked = app.current_event.headers.get("if-none-match") or ""
    tags = {tag.strip().removeprefix("W/") for tag in asked.split(",")}
    body: str | None = None
    if etag is None:
        body = _json_text(payload() if callable(payload) else payload)
        etag = f'"{hashlib.blake2b(body.encode(), digest_size=16).hexdigest()}"'
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": etag}
    if etag in tags or "*" in tags:
        return Response(status_code=HTTPStatus.NOT_MODIFIED, body="", headers=headers)
    if body is None:
        body = _json_text(payload() if callable(payload) else payload)
    return Response(status_code=HTTPStatus.OK, content_type=JSON, body=body, headers=headers)


def _json_text(payload: Any) -> str:
    return payload if isinstance(payload, str) else to_json(payload).decode()


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


def _internal_error(error: Exception) -> Response[str]:
    logger.error("unhandled error", exc_info=error)
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side."
    )


# A backing service down or overloaded: the request may be retried (nothing was left
# half-done), so it answers 503 with Retry-After, never 500.
AWS_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)
AWS_BUSY_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "ServiceUnavailable",
        "InternalServerError",
        "InternalError",
        "RequestThrottled",
        # a table or queue not there (yet): a deployment or a restart in progress
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
    }
)
RETRY_AFTER_SECONDS = 2


def _unavailable(code: str, message: str) -> Response[str]:
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        code,
        f"{message} Nothing was changed; try again in a moment.",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def make_resolver() -> APIGatewayRestResolver:
    """A REST resolver with request validation and the shared error mapping."""
    app = APIGatewayRestResolver(enable_validation=True, cors=CORS)

    @app.exception_handler(errors.DomainError)
    def _domain(error: errors.DomainError) -> Response[str]:
        status = STATUS_BY_ERROR.get(type(error), HTTPStatus.BAD_REQUEST)
        logger.info("request refused", extra={"error": error.code, "status": int(status)})
        headers = None
        if isinstance(error, errors.ServiceUnavailable):
            headers = {"Retry-After": str(error.retry_after)}
        return error_response(status, error.code, error.message, headers, **error.details)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        problems = [_describe(e) for e in error.errors()]
        if any(e.get("type") == "json_invalid" for e in error.errors()):
            message = "The request body is not valid JSON."
        else:
            message = "Invalid request: " + "; ".join(problems)
        return error_response(
            HTTPStatus.BAD_REQUEST, errors.InvalidRequest.code, message, problems=problems
        )

    @app.not_found
    def _no_route(error: NotFoundError) -> Response[str]:
        # A path parameter the route cannot match (a control character, say) lands here.
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "No such resource.")

    @app.exception_handler(ValidationError)
    def _invalid_model(error: ValidationError) -> Response[str]:
        problems = [_describe(dict(e)) for e in error.errors()]
        message = "Invalid request: " + "; ".join(problems)
        return error_response(
            HTTPStatus.BAD_REQUEST, errors.InvalidRequest.code, message, problems=problems
        )

    @app.exception_handler(UnicodeDecodeError)
    def _not_text(error: UnicodeDecodeError) -> Response[str]:
        return error_response(
            HTTPStatus.BAD_REQUEST,
            errors.InvalidRequest.code,
            "The request body is not UTF-8 text.",
        )

    @app.exception_handler([ValueError, RecursionError])
    def _unreadable(error: Exception) -> Response[str]:
        # Parsing a body nested too deep, or with a number too long, raises these; any
        # other source of them is a bug of ours.
        if _body_parses(app):
            return _internal_error(error)
        return error_response(
            HTTPStatus.BAD_REQUEST,
            errors.InvalidRequest.code,
            "The request body is not JSON this API can read (too deeply nested, or a number"
            " too long).",
        )

    @app.exception_handler(psycopg.OperationalError)
    def _database_down(error: psycopg.OperationalError) -> Response[str]:
        logger.error("database unavailable", extra={"error": str(error)[:200]})
        return _unavailable("database_unavailable", "The seat database is not answering.")

    @app.exception_handler(list(AWS_UNREACHABLE))
    def _aws_down(error: Exception) -> Response[str]:
        logger.error("aws service unavailable", extra={"error": str(error)[:200]})
        return _unavailable("service_unavailable", "A service we depend on is not answering.")

    @app.exception_handler(ClientError)
    def _aws_refused(error: ClientError) -> Response[str]:
        if error.response.get("Error", {}).get("Code") in AWS_BUSY_CODES:
            logger.error("aws service busy", extra={"error": str(error)[:200]})
            return _unavailable("service_unavailable", "A service we depend on is busy.")
        return _internal_error(error)

    app.exception_handler(Exception)(_internal_error)

    return app


def _body_parses(app: APIGatewayRestResolver) -> bool:
    try:
        json.loads(app.current_event.decoded_body or "null")
    except (ValueError, RecursionError):
        return False
    return True


def json_body(app: APIGatewayRestResolver, model: type[Model]) -> Model:
    """The body as `model`, for routes that must check something (the caller) first."""
    return model.model_validate_json(app.current_event.decoded_body or "")


def client_address(app: APIGatewayRestResolver) -> str:
    """Who is asking: the viewer CloudFront vouches for (`CloudFront-Viewer-Address`, set by
    the edge; the API takes only CloudFront's traffic), else API Gateway's `sourceIp`."""
    viewer = app.current_event.headers.get("cloudfront-viewer-address") or ""
    if ":" in viewer:  # "198.51.100.10:46532", or an IPv6 address and its port the same way
        return viewer.rsplit(":", 1)[0].strip("[]")[:64]
    return str(app.current_event.request_context.identity.source_ip or "unknown")[:64]


def bearer_token(app: APIGatewayRestResolver) -> str | None:
    header = app.current_event.headers.get("authorization") or ""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_admin(app: APIGatewayRestResolver, settings: Settings) -> None:
    """IAM in AWS (API Gateway has checked the caller); `x-api-key` locally."""
    if settings.admin_auth_mode == "iam":
        identity = app.current_event.request_context.identity
        if not (identity.user_arn or identity.caller):
            raise errors.Forbidden("This route needs IAM-signed requests.")
        return
    key = app.current_event.headers.get("x-api-key")
    if not key:
        raise errors.Unauthorized("Send the admin key in the 'x-api-key' header.")
    if not hmac.compare_digest(key.encode(), settings.admin_api_key.get_secret_value().encode()):
        raise errors.Forbidden("The admin key is not valid.")


def _as_json(event: dict[str, Any]) -> dict[str, Any]:
    """Every body this API takes is JSON: read it as JSON whatever the client labelled it
    (curl's `-d` says form-urlencoded), instead of failing on a form that is not there."""
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key) or {}
        for name in [n for n in headers if n.lower() == "content-type"]:
            headers[name] = [JSON] if key == "multiValueHeaders" else JSON
    return event


def api_handler(app: APIGatewayRestResolver) -> Handler[dict[str, Any]]:
    """The Lambda entry point of one API function."""
    return api_entrypoint(lambda event, context: app.resolve(_as_json(event), context))
