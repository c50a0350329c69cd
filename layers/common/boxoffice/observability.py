"""Logger, tracer and metrics, made once here and shared by every function."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic_core import to_json


def _as_text(message: object) -> str:
    """Every message here is plain text, its data in `extra`: none is JSON to decode, which
    Powertools would otherwise try (raising and catching) on every line."""
    return str(message)


def _line(record: dict[str, Any]) -> str:
    return to_json(record, fallback=str).decode()


logger = Logger(service="boxoffice", json_deserializer=_as_text, json_serializer=_line)
# X-Ray patches what the functions call out to and no more: AWS APIs (botocore) and Stripe
# (requests). Not every library the SDK knows (patch_all imports and wraps each one found,
# psycopg's connections included, a wrapper no local run or test exercises).
tracer = Tracer(service="boxoffice", patch_modules=("botocore", "requests"))
metrics = Metrics(namespace="BoxOffice", service="boxoffice")

# An invocation that refuses a request records no metric; that is not worth a warning.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)

__all__ = ["MetricUnit", "count_once", "entrypoint", "logger", "metrics", "tracer"]


def count_once(metric: str, **context: str | int) -> None:
    """Count a business event that happens once per invocation (a checkout created, say),
    its identifiers as metadata of the invocation's EMF record: one JSON line, searchable
    in Logs Insights with the request's correlation id, instead of a log line of its own
    beside the EMF line every invocation writes anyway (the hot path's costliest line)."""
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    for key, value in context.items():
        metrics.add_metadata(key, value)
    correlation_id = logger.get_correlation_id()
    if correlation_id:
        metrics.add_metadata("correlation_id", correlation_id)


Result = TypeVar("Result")
Handler = Callable[[dict[str, Any], LambdaContext], Result]


def entrypoint(handle: Handler[Result]) -> Handler[Result]:
    """Wrap a Lambda handler with context logging, tracing and metrics flushing.

    Events are never logged whole: they carry tokens.
    """
    wrapped = metrics.log_metrics(tracer.capture_lambda_handler(handle, capture_response=False))
    return cast(
        Handler[Result],
        logger.inject_lambda_context(wrapped, log_event=False, clear_state=True),
    )


def api_entrypoint(resolve: Handler[dict[str, Any]]) -> Handler[dict[str, Any]]:
    """`entrypoint` for an API function, its lines and EMF record correlated by API
    Gateway's request id (the field `correlation_paths.API_GATEWAY_REST` names), read
    straight from the event: the JMESPath search Powertools would run for it cost 0.03-0.05
    of the handler's ratio to its hold (docs/performance.md)."""

    def correlated(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
        return resolve(event, context)

    return entrypoint(correlated)
