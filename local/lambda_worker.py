"""One Lambda execution environment: `python -m local.lambda_worker FD MODULE ATTRIBUTE ...`.

Started by local/lambdas/worker.py with the function's environment. It imports the handler's
module once (the init phase), then runs one invocation at a time for as long as it lives,
so module state behaves as in a warm Lambda container. It talks to its parent over the
socket FD (JSON lines); the handler's own output goes to stdout/stderr as Lambda's goes
to its log.

Messages: worker -> parent {"ready": true} or {"ready": false, "errorType", "errorMessage"};
parent -> worker {"event", "context"}; worker -> parent {"ok": true, "result"} or
{"ok": false, "errorType", "errorMessage"}. The worker exits when the parent closes the
socket (or disappears).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
import traceback
from importlib import import_module
from typing import Any, BinaryIO

from local import log


class LambdaContext:
    """The context object the Python runtime passes to a handler."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name: str = fields["function_name"]
        self.function_version: str = fields.get("function_version", "$LATEST")
        self.invoked_function_arn: str = fields["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(fields["memory_limit_in_mb"])
        self.aws_request_id: str = fields["aws_request_id"]
        self.log_group_name: str = fields.get("log_group_name", "")
        self.log_stream_name: str = fields.get("log_stream_name", "")
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms: int = int(fields["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _send(out: BinaryIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")
    out.flush()


def _error(error: BaseException) -> dict[str, Any]:
    return {"ok": False, "errorType": type(error).__name__, "errorMessage": str(error)}


def serve(fd: int, module: str, attribute: str) -> int:
    channel = socket.socket(fileno=fd)
    reader = channel.makefile("rb")
    writer = channel.makefile("wb")
    try:
        return _serve(reader, writer, module, attribute)
    finally:
        # A parent gone mid-answer leaves the answer unsent: drop it here, not as an
        # "Exception ignored" when the interpreter collects the writer.
        with contextlib.suppress(OSError):
            writer.close()


def _serve(reader: BinaryIO, writer: BinaryIO, module: str, attribute: str) -> int:
    try:
        handler = getattr(import_module(module), attribute)
    except Exception as error:  # Lambda's Runtime.ImportModuleError / HandlerNotFound
        traceback.print_exc()
        _send(writer, {"ready": False, **_error(error)})
        return 1
    _send(writer, {"ready": True})
    for line in reader:
        request = json.loads(line)
        context = LambdaContext(request["context"])
        try:
            result = handler(request["event"], context)
        except Exception as error:
            # As the Python runtime does: the traceback goes to the function's log.
            traceback.print_exc()
            payload = json.dumps(_error(error))
        else:
            try:
                payload = json.dumps({"ok": True, "result": result})
            except (TypeError, ValueError) as error:
                payload = json.dumps(
                    {"ok": False, "errorType": "Runtime.MarshalError", "errorMessage": str(error)}
                )
        log.write(sys.stdout)
        log.write(sys.stderr)
        writer.write(payload.encode() + b"\n")
        writer.flush()
    return 0


def main(argv: list[str]) -> int:
    # argv: FD MODULE ATTRIBUTE [--stack-tag TAG]; the tag only marks the process.
    fd, module, attribute = int(argv[0]), argv[1], argv[2]
    try:
        return serve(fd, module, attribute)
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
