"""Fixtures of the handler tests."""

from __future__ import annotations

import pytest

from tests.handlers.support import HELD_SEATS
from tests.support import consume_all, hold


@pytest.fixture
def held(deps, make_event):
    """A queued checkout of seats A-1-1 and A-1-2 (60 s hold, 30 s to pay once admitted):
    (event id, checkout id, token)."""
    event_id = make_event(seats=12, hold_seconds=60, checkout_seconds=30)
    status, body = hold(event_id, list(HELD_SEATS))
    assert status == 201
    return event_id, body["checkout_id"], body["token"]


@pytest.fixture
def admitted(held, aws):
    """The `held` checkout, admitted (the admission queue consumed)."""
    consume_all(aws.queue_url)
    return held
