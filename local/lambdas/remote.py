"""Invoking through a Lambda API endpoint instead of local workers, e.g.
`sam local start-lambda` (the Docker path): the same `Invoker` interface, over boto3.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from local.config import REGION
from local.lambdas.invocation import Invocation
from local.template import Function


class RemoteLambda:
    """Invoke through a Lambda API endpoint, e.g. `sam local start-lambda` (Docker path)."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._local = threading.local()

    def _client(self, timeout: float) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        cached = getattr(self._local, "clients", {})
        if timeout not in cached:
            cached[timeout] = boto3.client(
                "lambda",
                endpoint_url=self._endpoint,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - a local endpoint
                config=BotoConfig(read_timeout=timeout + 60, retries={"max_attempts": 0}),
            )
            self._local.clients = cached
        return cached[timeout]

    def invoke(
        self, function: Function, event: dict[str, Any], *, timeout: float | None = None
    ) -> Invocation:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        limit = float(timeout if timeout is not None else function.timeout)
        try:
            answer = self._client(limit).invoke(
                FunctionName=function.logical_id, Payload=json.dumps(event).encode()
            )
            payload = json.loads(answer["Payload"].read() or b"null")
        except Exception as error:
            elapsed = (time.monotonic() - started) * 1000
            return Invocation(
                function.logical_id,
                request_id,
                ok=False,
                error_type=type(error).__name__,
                error_message=str(error),
                duration_ms=elapsed,
            )
        elapsed = (time.monotonic() - started) * 1000
        if answer.get("FunctionError"):
            details = payload if isinstance(payload, dict) else {}
            return Invocation(
                function.logical_id,
                request_id,
                ok=False,
                error_type=str(details.get("errorType", "Unhandled")),
                error_message=str(details.get("errorMessage", "")),
                duration_ms=elapsed,
            )
        return Invocation(
            function.logical_id, request_id, ok=True, result=payload, duration_ms=elapsed
        )
