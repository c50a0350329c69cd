"""Fixtures of the local stack's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
