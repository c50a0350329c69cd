"""A local API Gateway (REST API, Lambda proxy integration) built from template.yaml.

It serves exactly the template's `Api` events: a request becomes the proxy event API
Gateway would send, the function's answer becomes the HTTP response. Besides the API it
answers CORS preflights like an API with `Cors` configured, and serves the fan page from
web/ on paths that are not API routes.

- `codec`: request -> proxy event, proxy result -> response;
- `app`: the WSGI app (routing, throttling, CORS, the fan page, API Gateway's own errors);
- `server`: the threaded HTTP server it runs on, and its handling of refused requests.
"""

from local.gateway.app import INTEGRATION_TIMEOUT_SECONDS, UNREAD_BODY, WEB_ROOT, Gateway
from local.gateway.codec import API_ID, STAGE, MalformedProxyResponse, proxy_response, request_event
from local.gateway.server import GatewayServer, wait_for

__all__ = [
    "API_ID",
    "INTEGRATION_TIMEOUT_SECONDS",
    "STAGE",
    "UNREAD_BODY",
    "WEB_ROOT",
    "Gateway",
    "GatewayServer",
    "MalformedProxyResponse",
    "proxy_response",
    "request_event",
    "wait_for",
]
