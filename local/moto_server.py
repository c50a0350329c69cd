"""moto in a process of its own: `python -m local.moto_server HOST PORT`.

As in AWS, DynamoDB and SQS do not share an interpreter (nor a GIL) with the API gateway,
the event-source pollers or each other: local/aws.py starts one of these per service group.
It prints `ready <port>` once it listens, logs no requests, and exits when its parent
closes its stdin (or dies), so it never outlives the stack.

`--gated` (a restart after moto died): it first listens on a private port only, says
`ready <private port>`, and opens HOST:PORT once its parent writes `open` (after making the
tables and queues there), so that no client meets a moto without them.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any


def _exit_with_parent() -> None:
    sys.stdin.buffer.read()  # returns at EOF: the parent has gone or closed the pipe
    os._exit(0)


def _remember_pure_lookups() -> None:
    """Three things moto's server recomputes on every request although they never change:
    the list of its own service packages (a directory listing and ~200 stat calls, under
    its dispatch lock), the CamelCase-to-snake_case names of API fields (dozens per
    request) and the names of a handler class's methods (`inspect.getmembers` over a few
    hundred attributes, a tenth of a PutItem). Remembering them takes a third of moto's
    CPU per call away. Every patch of a handler's methods here is made before the first
    request, so the remembered names are the served ones."""
    import moto.backends
    import moto.core.responses
    import moto.core.utils
    import moto.sqs.models

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    convert = functools.lru_cache(maxsize=4096)(moto.core.utils.camelcase_to_underscores)
    for module in (moto.core.utils, moto.core.responses, moto.sqs.models):
        module.camelcase_to_underscores = convert  # type: ignore[attr-defined]
    methods = functools.cache(moto.core.utils.method_names_from_class)
    moto.core.responses.method_names_from_class = methods  # type: ignore[attr-defined]


def _fifo_redelivery_in_order() -> None:
    """SQS FIFO hands a message group's messages back in order once its in-flight ones are
    visible again (their visibility timeout over, or set to end sooner). moto frees the
    group only as its receive loop passes those messages, one by one, so it skips them and
    delivers the group's later messages first: after a consumer's failure (an outage) the
    line would be admitted out of order. Letting the visible ones go before the loop
    starts gives SQS's order back."""
    import moto.sqs.models

    receive = moto.sqs.models.SQSBackend.receive_message

    def receive_in_order(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        for message in [m for m in queue.pending_messages if m.visible]:
            queue.pending_messages.discard(message)
        return receive(self, queue_name, *args, **kwargs)

    moto.sqs.models.SQSBackend.receive_message = receive_in_order  # type: ignore[method-assign]


class _OneAttribute(Mapping[str, Any]):
    """A queue's attributes computed one at a time, on demand (what `Queue.attributes`
    returns while messages are sent or received: only single names are asked of it)."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def __getitem__(self, name: str) -> Any:
        import moto.core.utils

        try:
            value = getattr(self._queue, moto.core.utils.camelcase_to_underscores(name))
        except AttributeError:
            raise KeyError(name) from None
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        raise TypeError("only single attributes are read while sending")

    def __len__(self) -> int:
        raise TypeError("only single attributes are read while sending")


def _messages_without_counting_the_queue() -> None:
    """Sending a message asks the queue's attributes for `ContentBasedDeduplication` three
    or four times, and moto computes every attribute each time, among them the message
    counts: a walk over every message waiting, with a clock read per message. So a send
    cost grew with the queue's depth (+71 ms per 1,000 messages waiting). A receive asks
    for `MessageRetentionPeriod` so for every message it looks at: its cost grew with the
    square of the depth (two thirds of SQS's CPU while admission caught up). While sending
    or receiving, the attributes are computed only as asked, one at a time."""
    import moto.sqs.models

    queue_class = moto.sqs.models.Queue
    every_attribute = queue_class.attributes
    sending = threading.local()

    def attributes(queue: Any) -> Any:
        if getattr(sending, "active", False):
            return _OneAttribute(queue)
        return every_attribute.fget(queue)  # type: ignore[attr-defined]

    queue_class.attributes = property(attributes)  # type: ignore[assignment,method-assign]

    def while_sending(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def send(*args: Any, **kwargs: Any) -> Any:
            sending.active = True
            try:
                return method(*args, **kwargs)
            finally:
                sending.active = False

        return send

    backend = moto.sqs.models.SQSBackend
    backend.send_message = while_sending(backend.send_message)  # type: ignore[method-assign]
    backend.send_message_batch = while_sending(backend.send_message_batch)  # type: ignore[method-assign]
    backend.receive_message = while_sending(backend.receive_message)  # type: ignore[method-assign]


def _wire(value: Any) -> Any:
    """JSON 1.0's forms: timestamps as epoch seconds, binary values as base64."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _stream_records_as_json() -> None:
    """GetRecords answered as the JSON its records already are. moto keeps stream records
    in their wire form (typed attribute values), then passes them through its generic,
    model-driven serializer, which tries six aliases for each of the ten members of every
    attribute value: half of DynamoDB's CPU under load went there (py-spy), since every
    write of an item is read back from its stream."""
    import moto.dynamodbstreams.responses

    def get_records(self: Any) -> str:
        limit = self._get_param("Limit") or 1000
        result = self.backend.get_records(self._get_param("ShardIterator"), limit)
        return json.dumps(result, default=_wire)

    handler = moto.dynamodbstreams.responses.DynamoDBStreamsHandler
    handler.get_records = get_records  # type: ignore[assignment,method-assign]


# The item calls: their answers are items (and counts, keys, capacity), nothing else.
_ITEM_ANSWERS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "Query", "Scan"}
)


def _item_answers_as_json() -> None:
    """The item calls answered as the JSON their results already are: moto builds each
    answer as plain attribute values, then walks it through the same model-driven
    serializer as stream records (a third of an UpdateItem's CPU, most of a GetItem's).
    Only the output shape's members are sent, and no null member, as the serializer
    does; errors and every other call keep moto's own path."""
    from moto.core.responses import ActionResult
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    original = DynamoHandler.serialized
    members: dict[str, frozenset[str]] = {}

    def serialized(self: Any, action_result: ActionResult) -> Any:
        action = self._get_action()
        result = action_result.result
        if action not in _ITEM_ANSWERS or type(action_result) is not DynamoResult:
            return original(self, action_result)
        if action not in members:
            output = get_service_model("dynamodb").operation_model(action).output_shape
            members[action] = frozenset(output.members if output is not None else ())
        shown = members[action]
        assert isinstance(result, dict)
        body = json.dumps(
            {k: v for k, v in result.items() if k in shown and v is not None}, default=_wire
        )
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, body

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]


def _parse_each_update_expression_once() -> None:
    """moto parses an UpdateExpression twice per UpdateItem (to check it, then to apply
    it), a tokenizer and parser in Python for the same few expressions every time. The
    parsed tree is only read (the validator works on its own deep copy), so one parse per
    distinct expression is kept. A failed parse raises, and is not kept."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    parse = functools.lru_cache(maxsize=1024)(UpdateExpressionParser.make)
    UpdateExpressionParser.make = staticmethod(parse)


def _processing_maps_built_once() -> None:
    """moto checks and applies an UpdateExpression by walking its tree ten times, and at
    every node of every walk it builds the walker's map of node types to steps twice
    (a new dict each time). A walker's map never changes, so each walker builds it once."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

    def steps(self: Any) -> dict[type, Callable[[Any], Any]]:
        built: dict[type, Callable[[Any], Any]] | None = self.__dict__.get("_steps")
        if built is None:
            built = self.__dict__["_steps"] = self._processing_map()
        return built

    def kinds(self: Any) -> tuple[type, ...]:
        found: tuple[type, ...] | None = self.__dict__.get("_kinds")
        if found is None:
            found = self.__dict__["_kinds"] = tuple(steps(self))
        return found

    def process(self: Any, node: Any) -> Any:
        for kind, step in steps(self).items():
            if isinstance(node, kind):
                return step(node)
        return None

    DepthFirstTraverser.nodes_to_be_processed = kinds
    DepthFirstTraverser.process = process


def _sqs_reads_the_clock_cheaply() -> None:
    """moto's SQS reads the time as a datetime and subtracts the epoch (another datetime)
    twice for each message it looks at (visible? delayed?), and a receive looks at every
    message waiting: that was 28% of the SQS process's CPU under the HTTP bench (py-spy).
    `time.time()` is the same number of seconds; a given datetime still converts as
    before."""
    import moto.sqs.models
    from moto.core.utils import unix_time as convert

    def unix_time(dt: datetime | None = None) -> float:
        return time.time() if dt is None else convert(dt)

    def unix_time_millis(dt: datetime | None = None) -> float:
        return 1000.0 * unix_time(dt)

    moto.sqs.models.unix_time = unix_time  # type: ignore[attr-defined]
    moto.sqs.models.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]


def _lex_each_condition_once() -> None:
    """A condition's tokens depend on its text alone, and the stack sends the same few
    conditions all the time; moto's lexer tries a list of regular expressions at each
    position, twice per conditional UpdateItem. The tokens of each text are kept, and
    every parse gets fresh copies of them (later steps may change a token's children)."""
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    lex = ConditionExpressionParser._lex_condition_expression
    kept: dict[str, tuple[Any, ...]] = {}

    def lexed(self: Any) -> deque[Any]:
        text = self.condition_expression
        tokens = kept.get(text)
        if tokens is None:
            tokens = tuple(lex(self))
            if len(kept) < 1024:
                kept[text] = tokens
        return deque(token._replace(children=[]) for token in tokens)

    ConditionExpressionParser._lex_condition_expression = lexed  # type: ignore[method-assign]


def _straight_to_the_handlers(app: Any) -> Any:
    """The stack's DynamoDB, Streams and SQS calls (a POST with an X-Amz-Target) go to
    moto's handler for that service directly; anything else goes through moto's own app.
    moto's app picks a Flask app per service, routes the path through it and rebuilds the
    request and the answer for Flask on every call: an eighth of each process's CPU
    (py-spy) for a service the target header names already."""
    from botocore.exceptions import ClientError
    from moto.core.request import Request
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.sqs.responses import SQSResponse
    from werkzeug.wrappers import Response

    handlers: dict[str, Callable[..., Any]] = {
        "DynamoDB_20120810": DynamoHandler.dispatch,
        "DynamoDBStreams_20120810": DynamoDBStreamsHandler.dispatch,
        "AmazonSQS": SQSResponse.dispatch,
    }

    def straight(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        service = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0]
        handler = handlers.get(service)
        if handler is None or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        request = Request(environ)
        try:
            result = handler(request, request.raw_url, dict(request.headers))
        except ClientError as error:  # as moto's app answers one
            result = 400, {}, error.response["Error"]["Message"]
        status, headers, body = result if len(result) == 3 else (200, {}, result)
        return Response(body, status=status, headers=headers)(environ, start_response)

    return straight


def _dynamodb_one_call_at_a_time(app: Any) -> Any:
    """DynamoDB applies each write whole: of two conditional writes to one item, one sees
    the other's result. moto checks a condition and applies the write in steps, with
    nothing held, on the server's threads, so two requests could both pass and both
    write (3 items in 1,500 with 8 clients claiming each). Its DynamoDB and Streams calls
    are taken one at a time; they never wait on anything, and moto's work is all under
    the GIL anyway. SQS keeps its threads: a long poll waits inside moto, which locks each
    queue itself."""
    lock = threading.Lock()

    def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return app(environ, start_response)
        with lock:
            return app(environ, start_response)

    return one_at_a_time


def _serve(app: Any, host: str, port: int) -> Any:
    """moto's WSGI app on waitress, not werkzeug's development server: waitress keeps
    HTTP/1.1 connections open, where werkzeug's closes every one, so each boto3 call paid
    for a new connection and moto for a new thread (1.9 vs 2.5-3.2 ms CPU per PutItem,
    client and server together)."""
    from waitress.server import create_server

    return create_server(
        app,
        host=host,
        port=port,
        threads=8,
        connection_limit=1000,  # every worker keeps its connections
        asyncore_use_poll=True,  # not select(): more than 1,024 sockets
        clear_untrusted_proxy_headers=False,
    )


def main(argv: list[str]) -> int:
    host, port = argv[0], int(argv[1])
    gated = "--gated" in argv[2:]
    for name in ("werkzeug", "waitress", "moto", "botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    _remember_pure_lookups()
    _fifo_redelivery_in_order()
    _messages_without_counting_the_queue()
    _stream_records_as_json()
    _item_answers_as_json()
    _parse_each_update_expression_once()
    _processing_maps_built_once()
    _lex_each_condition_once()
    _sqs_reads_the_clock_cheaply()
    app = DomainDispatcherApplication(create_backend_app)
    app = _dynamodb_one_call_at_a_time(_straight_to_the_handlers(app))
    if gated:
        private = _serve(app, "127.0.0.1", 0)
        threading.Thread(target=private.run, name="setup", daemon=True).start()
        sys.stdout.write(f"ready {private.effective_port}\n")
        sys.stdout.flush()
        if sys.stdin.readline().strip() != "open":
            return 0
    server = _serve(app, host, port)
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    sys.stdout.write(f"{'open' if gated else 'ready'} {server.effective_port}\n")
    sys.stdout.flush()
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
