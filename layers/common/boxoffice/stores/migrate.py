"""Versioned, idempotent schema migrations: the numbered SQL files beside this module.

Each file runs once, in its own transaction, under an advisory lock so that two runners
(a deploy and a test, two local stacks) never apply the same file twice.
"""

from __future__ import annotations

from importlib import resources

from boxoffice.stores.database import Connection

_LOCK_KEY = 7_246_001  # any constant: the advisory lock that serialises migration runs


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("boxoffice.stores") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def migrate(conn: Connection) -> list[str]:
    """Apply the migrations not yet applied; return the versions applied now."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, script in migration_files():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(script.encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now
