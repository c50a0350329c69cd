"""The Lambda connection: lazy, one per warm container, reopened once broken."""

from __future__ import annotations

import psycopg
import pytest

from boxoffice.stores.database import LazyConnection


def test_nothing_connects_until_first_use():
    def never() -> str:
        raise AssertionError("connected too early")

    LazyConnection(never)  # building it (at import, in a handler module) touches nothing


def test_one_connection_is_reused_then_replaced_when_broken(database_url):
    opened = []

    def conninfo() -> str:
        opened.append(1)
        return database_url

    source = LazyConnection(conninfo)
    with source() as first:
        row = first.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    pid = row[0]
    with source() as again:
        assert again is first
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with source() as broken, pytest.raises(psycopg.OperationalError):
        broken.execute("SELECT 1")  # the invocation that meets the dead connection fails
    with source() as fresh:
        assert fresh is not first
        assert fresh.execute("SELECT 1").fetchone() == (1,)
    assert len(opened) == 2
