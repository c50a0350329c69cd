"""CloudFormation custom resources: run an action for a request and report the outcome.

CloudFormation waits (up to an hour) for a PUT of the result to the request's pre-signed
`ResponseURL`, so every path, failures included, answers: a FAILED answer fails the stack
operation with the reason shown in its events.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from boxoffice.observability import logger

# CloudFormation reads at most 4 KiB of answer; the reason is shown in the stack's events.
_MAX_REASON = 1000


def is_request(event: Mapping[str, Any]) -> bool:
    return "RequestType" in event and "ResponseURL" in event


def handle_request(
    event: Mapping[str, Any],
    log_stream: str,
    action: Callable[[], Mapping[str, str]],
    physical_id: str,
    timeout_seconds: float = 10,
) -> dict[str, Any]:
    """Run `action` on Create and Update (Delete does nothing: data outlives the stack's
    resource), PUT the answer to CloudFormation and return it."""
    answer: dict[str, Any] = {
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        # One id for the resource's whole life: an update never replaces (deletes) it.
        "PhysicalResourceId": event.get("PhysicalResourceId") or physical_id,
    }
    try:
        data = {} if event["RequestType"] == "Delete" else dict(action())
        answer |= {"Status": "SUCCESS", "Data": data}
    except Exception as error:
        logger.exception("custom resource failed", extra={"request": event["RequestType"]})
        reason = f"{type(error).__name__}: {error} (log stream {log_stream})"
        answer |= {"Status": "FAILED", "Reason": reason[:_MAX_REASON]}
    send(str(event["ResponseURL"]), answer, timeout_seconds)
    return answer


def send(url: str, answer: Mapping[str, Any], timeout_seconds: float = 10) -> None:
    if not url.startswith(("https://", "http://")):
        raise ValueError("ResponseURL must be an HTTP(S) URL")
    body = json.dumps(answer).encode()
    # The URL is pre-signed for an empty Content-Type: urllib's default would break it.
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310
        logger.info(
            "custom resource answered", extra={"status": answer["Status"], "http": response.status}
        )
