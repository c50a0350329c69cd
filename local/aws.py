"""moto in server mode (or the tests' in-process mock), with the DynamoDB tables and SQS
queues of template.yaml.

Nothing here talks to real AWS: every client is pointed at the local moto endpoint with
fake credentials.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from local import template
from local.config import ACCOUNT_ID, REGION, STACK_NAME

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class Table:
    logical_id: str
    name: str
    arn: str
    stream_arn: str | None


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str


@dataclass
class LocalAws:
    endpoint: str | None  # None: boto3's own endpoints, as moto's in-process mock serves them
    tables: dict[str, Table]
    queues: dict[str, Queue]
    # SQS in a moto process of its own (the full stack); None: SQS is at `endpoint` too
    sqs_endpoint: str | None = None

    def client(self, service: str) -> Any:
        return client(service, self.endpoint_of(service))

    def endpoint_of(self, service: str) -> str | None:
        return self.sqs_endpoint if service == "sqs" and self.sqs_endpoint else self.endpoint

    def resolve(self, value: Any) -> str | None:
        """A template value (Ref, GetAtt, Sub or literal) as a string, if it is local."""
        return resolve(value, self)


def client(service: str, endpoint: str | None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        config=BotoConfig(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5),
        **CREDENTIALS,
    )


@contextmanager
def in_process_moto() -> Iterator[None]:
    """moto's in-process mock (`mock_aws`), its DynamoDB calls taken one at a time, as the
    stack's moto process takes them (local/moto_server.py): the mock serves each call in
    the caller's thread, so two threads' conditional writes to one item could both pass,
    which DynamoDB never allows."""
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    served = BotocoreStubber.process_request
    lock = threading.RLock()

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target") or b""
        if not (target if isinstance(target, bytes) else target.encode()).startswith(b"DynamoDB"):
            return served(self, request)
        with lock:
            return served(self, request)

    BotocoreStubber.process_request = one_at_a_time  # type: ignore[method-assign]
    try:
        with mock_aws():
            yield
    finally:
        BotocoreStubber.process_request = served  # type: ignore[method-assign]


def quiet_logs() -> None:
    """moto's server and werkzeug log every request; the local stack wants none of that."""
    for name in ("werkzeug", "moto", "botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


class MotoProcess:
    """moto in server mode in a child process (local/moto_server.py)."""

    def __init__(self, host: str, port: int, *, gated: bool = False) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.moto_server",
                host,
                str(port),
                *(["--gated"] if gated else []),
            ],
            cwd=template.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            start_new_session=True,  # Ctrl-C reaches the stack, which stops it
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError(f"moto did not start (it said {line.strip()!r})")
        self.host = host
        self.port = int(line.split()[1])
        # Gated (see local/moto_server.py): `port` is the private setup port until open().
        self.gated_port = port if gated else None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def open(self) -> None:
        """Open a gated moto on its public port (its tables and queues made)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        assert self.gated_port is not None
        self.process.stdin.write("open\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line.startswith("open "):
            raise RuntimeError(f"moto did not open (it said {line.strip()!r})")
        self.port = int(line.split()[1])
        self.gated_port = None

    def get_host_and_port(self) -> tuple[str, int]:
        return self.host, self.port

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def start_moto(host: str, port: int) -> tuple[MotoProcess, str]:
    """moto in a process of its own; returns (server, endpoint URL). `port` 0 picks one."""
    quiet_logs()
    server = MotoProcess(host, port)
    bound_host, bound_port = server.get_host_and_port()
    shown = "127.0.0.1" if bound_host in {"0.0.0.0", ""} else bound_host  # noqa: S104
    return server, f"http://{shown}:{bound_port}"


def substitute(text: str) -> str:
    """`Fn::Sub` of the pseudo parameters a local resource name may use."""
    values = {"AWS::StackName": STACK_NAME, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID}
    return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _name(value: Any, default: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return substitute(value["Fn::Sub"])
    return default


def table_name(logical_id: str) -> str:
    props = template.resources("AWS::DynamoDB::Table")[logical_id]
    return _name(props.get("TableName"), f"{STACK_NAME}-{logical_id}")


def queue_name(logical_id: str) -> str:
    props = template.resources("AWS::SQS::Queue")[logical_id]
    fifo = ".fifo" if props.get("FifoQueue") else ""
    return _name(props.get("QueueName"), f"{STACK_NAME}-{logical_id}{fifo}")


def queue_url(endpoint: str, logical_id: str) -> str:
    """The URL moto gives a queue of the template (its path is /<account>/<name>)."""
    return f"{endpoint}/{ACCOUNT_ID}/{queue_name(logical_id)}"


def _queue_order() -> list[str]:
    """Queues of the template, each dead-letter queue before the queues that use it."""
    ordered: list[str] = []

    def visit(logical_id: str) -> None:
        if logical_id in ordered:
            return
        target = template.redrive(logical_id)
        if target:
            visit(target[0])
        ordered.append(logical_id)

    for logical_id in template.resources("AWS::SQS::Queue"):
        visit(logical_id)
    return ordered


def create_resources(endpoint: str | None, sqs_endpoint: str | None = None) -> LocalAws:
    """Create (or find) every table and queue of the template in moto (a server at
    `endpoint`, SQS at `sqs_endpoint` if given, or the in-process mock when None)."""
    dynamodb = client("dynamodb", endpoint)
    tables: dict[str, Table] = {}
    for logical_id in template.resources("AWS::DynamoDB::Table"):
        name = table_name(logical_id)
        existing = dynamodb.list_tables()["TableNames"]
        if name not in existing:
            dynamodb.create_table(**template.table_definition(logical_id, name))
        ttl = template.ttl_attribute(logical_id)
        if ttl:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )
        described = dynamodb.describe_table(TableName=name)["Table"]
        tables[logical_id] = Table(
            logical_id, name, described["TableArn"], described.get("LatestStreamArn")
        )
    sqs = client("sqs", sqs_endpoint or endpoint)
    queues: dict[str, Queue] = {}
    for logical_id in _queue_order():
        name = queue_name(logical_id)
        attributes: dict[Any, str] = template.queue_attributes(logical_id)
        target = template.redrive(logical_id)
        if target:
            dlq_id, max_receives = target
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": queues[dlq_id].arn, "maxReceiveCount": max_receives}
            )
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queues[logical_id] = Queue(logical_id, name, url, arn)
    return LocalAws(endpoint=endpoint, tables=tables, queues=queues, sqs_endpoint=sqs_endpoint)


def resolve(value: Any, aws: LocalAws) -> str | None:
    """Resolve a template value against the local resources; None if it has no local meaning.

    `Ref` of a table is its name, of a queue its URL; `GetAtt` knows Arn, QueueName,
    QueueUrl and StreamArn. Anything else (the RDS proxy, the secret) has no local value.
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((kind, arg),) = value.items()
    if kind == "Fn::Sub" and isinstance(arg, str):
        return substitute(arg)
    if kind == "Ref" and isinstance(arg, str):
        if arg in aws.tables:
            return aws.tables[arg].name
        if arg in aws.queues:
            return aws.queues[arg].url
        return None
    if kind == "Fn::GetAtt" and isinstance(arg, list) and len(arg) == 2:
        logical_id, attribute = arg
        if logical_id in aws.tables:
            table = aws.tables[logical_id]
            return {"Arn": table.arn, "StreamArn": table.stream_arn}.get(attribute)
        if logical_id in aws.queues:
            queue = aws.queues[logical_id]
            return {"Arn": queue.arn, "QueueName": queue.name, "QueueUrl": queue.url}.get(attribute)
    return None
