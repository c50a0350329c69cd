from __future__ import annotations

import psycopg

from boxoffice.stores.migrate import migrate, migration_files


def test_migrations_are_applied_once(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert migrate(conn) == []  # the session fixture applied them all already
        applied = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(applied) == [version for version, _ in migration_files()]


def test_seat_state_is_guarded_by_the_schema(db):
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO events (id, name, venue, starts_at, hold_seconds, checkout_seconds,"
            " admission_per_second) VALUES (gen_random_uuid(), 'x', 'y', now(), 1, 1, 1)"
        )
        try:
            conn.execute(
                "INSERT INTO seats (event_id, seat_id, section, row_label, number, price_cents,"
                " status) SELECT id, 's', 'A', '1', 1, 1, 'held' FROM events"
            )
        except psycopg.errors.CheckViolation:
            return
    raise AssertionError("a held seat without a holder was accepted")
