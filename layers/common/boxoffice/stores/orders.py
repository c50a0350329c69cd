"""Orders in Postgres: how each payment ended (booked with a reference, or refunded).

An order is written in the same transaction that books its seats, or that finds they
cannot be booked (then it is `refund_pending` until Stripe has returned the money), so
money taken is always on record before anything is said to Stripe.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from boxoffice.stores.database import Connection, ConnectionSource

OrderStatus = Literal["booked", "refund_pending", "refunded"]
# No 0/O, 1/I/L: a code read out over the phone must not be misheard.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    """A short booking code a person can read out, e.g. BX7-K2Q9 (31^7 ~ 2.7e10 codes)."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(7))
    return f"{code[:3]}-{code[3:]}"


@dataclass(frozen=True)
class Order:
    checkout_id: UUID
    event_id: UUID
    status: OrderStatus
    seat_ids: list[str]
    amount_cents: int
    reference: str | None
    payment_intent: str | None
    refund_attempt: int
    refund_key_spent: bool


_COLUMNS = (
    "checkout_id, event_id, status, seat_ids, amount_cents, reference, payment_intent,"
    " refund_attempt, refund_key_spent"
)


@dataclass(frozen=True)
class Payment:
    """What a provider reports about the money it took for a checkout."""

    provider: str
    amount_cents: int
    currency: str = "usd"
    session_id: str | None = None
    payment_intent: str | None = None


def insert_order(
    conn: Connection,
    checkout_id: UUID,
    event_id: UUID,
    seat_ids: Sequence[str],
    payment: Payment,
    status: OrderStatus,
    refund_reason: str | None = None,
) -> bool:
    """Insert the checkout's order (a fresh reference if booked); False if it has one."""
    while True:
        reference = new_reference() if status == "booked" else None
        try:
            with conn.transaction():
                return bool(
                    conn.execute(
                        "INSERT INTO orders (checkout_id, event_id, seat_ids, amount_cents,"
                        " payment_provider, status, reference, currency, payment_session_id,"
                        " payment_intent, refund_reason)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (checkout_id) DO NOTHING",
                        (
                            checkout_id,
                            event_id,
                            list(seat_ids),
                            payment.amount_cents,
                            payment.provider,
                            status,
                            reference,
                            payment.currency,
                            payment.session_id,
                            payment.payment_intent,
                            refund_reason,
                        ),
                    ).rowcount
                )
        except psycopg.errors.UniqueViolation:
            continue  # another order has this reference: draw again


def assign_reference(conn: Connection, checkout_id: UUID) -> str:
    """Mark the checkout's order booked under a fresh reference."""
    while True:
        reference = new_reference()
        try:
            with conn.transaction():
                conn.execute(
                    "UPDATE orders SET status = 'booked', reference = %s WHERE checkout_id = %s",
                    (reference, checkout_id),
                )
            return reference
        except psycopg.errors.UniqueViolation:
            continue


def select_order(conn: Connection, checkout_id: UUID, *, lock: bool = False) -> Order | None:
    with conn.cursor(row_factory=class_row(Order)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM orders WHERE checkout_id = %s"
            + (" FOR UPDATE" if lock else ""),
            (checkout_id,),
        )
        return cur.fetchone()


class OrderStore:
    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    def get(self, checkout_id: UUID) -> Order | None:
        with self._connection() as conn:
            return select_order(conn, checkout_id)

    def refund_attempt(self, checkout_id: UUID) -> int:
        """The attempt whose idempotency key the next refund call uses: the current one,
        or a new one once Stripe has answered the current key with an error."""
        with self._connection() as conn:
            row = conn.execute(
                "UPDATE orders SET"
                " refund_attempt = CASE WHEN refund_attempt = 0 OR refund_key_spent"
                "   THEN refund_attempt + 1 ELSE refund_attempt END,"
                " refund_key_spent = false"
                " WHERE checkout_id = %s AND status = 'refund_pending' RETURNING refund_attempt",
                (checkout_id,),
            ).fetchone()
        return int(row[0]) if row else 0

    def spend_refund_key(self, checkout_id: UUID, attempt: int) -> None:
        with self._connection() as conn:
            conn.execute(
                "UPDATE orders SET refund_key_spent = true"
                " WHERE checkout_id = %s AND refund_attempt = %s",
                (checkout_id, attempt),
            )

    def mark_refunded(self, checkout_id: UUID, refund_id: str | None, now: datetime) -> None:
        with self._connection() as conn:
            conn.execute(
                "UPDATE orders SET status = 'refunded', refund_id = %s, refunded_at = %s"
                " WHERE checkout_id = %s AND status = 'refund_pending'",
                (refund_id, now, checkout_id),
            )
