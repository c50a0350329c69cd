"""The Lambda proxy integration's two conversions, as API Gateway's REST API does them.

A request becomes the proxy event the function receives (`request_event`), and the
function's proxy result becomes the HTTP response (`proxy_response`). Kept apart from the
WSGI app so that anything holding a werkzeug `Request` (the app, the stack's direct
calls, the tests) builds the very same event.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from local.config import ACCOUNT_ID

STAGE = "local"
API_ID = "local"

_PROXY_RESULT_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


class MalformedProxyResponse(ValueError):
    """The function's answer is not a Lambda proxy response (API Gateway: 502)."""


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
