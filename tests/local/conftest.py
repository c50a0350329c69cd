"""Fixtures of the local stack's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.aws import LocalAws, create_resources, start_moto
from local.gateway import GatewayServer
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
