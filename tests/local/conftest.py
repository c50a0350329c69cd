"""Fixtures of the local stack's tests."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from local.aws import LocalAws, create_resources, start_moto
from local.gateway import GatewayServer
from tests.local.stack import SERVER_ERROR_LINE, StackProcess, processes_tagged, running_stack
from tests.local.support import FakeInvoker, gateway


@pytest.fixture
def served() -> Iterator[tuple[GatewayServer, FakeInvoker]]:
    """The gateway on a real threaded server on a free port, as the local stack runs it."""
    invoker = FakeInvoker()
    server = GatewayServer(gateway(invoker), "127.0.0.1", 0)
    server.start()
    try:
        yield server, invoker
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_aws() -> Iterator[LocalAws]:
    """moto in server mode (a process of its own) with the template's tables and queues."""
    server, endpoint = start_moto("127.0.0.1", 0)
    try:
        yield create_resources(endpoint)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[StackProcess]:
    """The stack with the test payment provider and the demo seeded, for a module of tests;
    afterwards it must have stopped cleanly, its workers with it, and have answered no 5xx
    and seen no event-source invocation fail or time out meanwhile."""
    with running_stack(database_url, PAYMENT_PROVIDER="test") as running:
        yield running
    assert "Stopped." in running.output
    assert processes_tagged(running.worker_tag()) == [], "worker processes outlived the stack"
    fives = [line for line in running.lines if SERVER_ERROR_LINE.search(line)]
    assert fives == [], "\n".join(fives)
    failed = [line for line in running.lines if re.search(r"^\S+ \S+ (error|timeout) ", line)]
    assert failed == [], "\n".join(failed)
