"""The Postgres connection: lazy, one per warm container, re-opened when broken."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from boxoffice.settings import Settings

Connection = psycopg.Connection[Any]
ConnectionSource = Callable[[], AbstractContextManager[Connection]]


class LazyConnection:
    """A `ConnectionSource` holding a single autocommit connection.

    Lambda runs one invocation at a time per container, so one connection is enough;
    it is opened on first use (never at import) and replaced if the last use broke it.
    """

    def __init__(self, conninfo: Callable[[], str], connect_timeout: int = 5) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._conn: Connection | None = None

    @contextmanager
    def __call__(self) -> Iterator[Connection]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self._conninfo(), autocommit=True, connect_timeout=self._connect_timeout
            )
        yield self._conn


def conninfo_from_settings(settings: Settings) -> str:
    """A full URL when given (local, tests); else RDS Proxy host + Secrets Manager secret."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if not (settings.db_host and settings.db_secret_arn):
        raise RuntimeError("Set DATABASE_URL, or DB_HOST and DB_SECRET_ARN, to reach Postgres")
    from aws_lambda_powertools.utilities.parameters import get_secret

    secret = get_secret(settings.db_secret_arn, transform="json", max_age=300)
    if not isinstance(secret, dict):
        raise RuntimeError("The database secret must be a JSON object with username and password")
    return make_conninfo(
        host=settings.db_host,
        port=settings.db_port,
        dbname=settings.db_name,
        user=secret["username"],
        password=secret["password"],
        **tls_verified(),
    )


def tls_verified() -> dict[str, str]:
    """TLS that checks whom it talks to: the certificate chain and the host name.

    The functions reach Postgres through RDS Proxy, whose certificate is issued by ACM under
    Amazon Root CA 1 (not by the RDS CA, which signs the instance's own certificate behind
    the proxy, a hop the proxy encrypts itself: RequireTLS). certifi's bundle (a layer
    dependency already, for Stripe) holds the Amazon roots, so nothing is downloaded.
    """
    import certifi

    return {"sslmode": "verify-full", "sslrootcert": certifi.where()}
