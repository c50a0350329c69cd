"""A session's DynamoDB item: what `to_item` writes is what boto3's TypeSerializer writes,
and reads back as the same session."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from boxoffice.models.checkouts import Session
from boxoffice.models.events import SeatInfo
from boxoffice.stores.sessions import from_item, to_item

text = st.text(max_size=12)
small = st.integers(min_value=0, max_value=2**53)
seats = st.builds(
    SeatInfo,
    seat_id=text,
    section=text,
    row=text,
    number=st.integers(min_value=0, max_value=10_000),
    price_cents=small,
)
moments = st.datetimes(timezones=st.just(UTC))
sessions = st.builds(
    Session,
    checkout_id=st.uuids(),
    event_id=st.uuids(),
    seq=small,
    status=st.sampled_from(["queued", "admitted", "completed", "cancelled", "expired", "refunded"]),
    token_hash=text,
    seats=st.lists(seats, max_size=4),
    created_at=moments,
    hold_seconds=small,
    checkout_seconds=small,
    admission_per_second=st.floats(min_value=1e-9, max_value=1e6),
    hold_until_ms=small,
    expires_at=small,
    admitted_at=st.none() | moments,
    completed_at=st.none() | moments,
    event_name=st.none() | text,
    currency=st.sampled_from(["usd", "eur"]),
    reference=st.none() | text,
    payment_attempt=small,
    payment_attempt_expires_at=st.none() | small,
    payment_attempt_spent=st.booleans(),
    payment_session_id=st.none() | text,
    payment_url=st.none() | text,
    payment_expires_at=st.none() | small,
    payment_open=st.none() | st.just("1"),
)


def _by_boto3(session: Session) -> dict[str, Any]:
    plain = json.loads(session.model_dump_json(exclude_none=True), parse_float=Decimal)
    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in plain.items()}


@given(sessions)
def test_the_item_is_what_boto3s_serializer_writes_and_reads_back_the_same(session: Session):
    item = to_item(session)
    assert item == _by_boto3(session)
    assert from_item(item) == session
