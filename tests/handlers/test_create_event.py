from __future__ import annotations

import json

from tests.support import api_event, invoke, load_event


def test_admin_creates_an_event(deps):
    body = json.loads(load_event("create_event")["body"])
    status, created = invoke(
        "create_event", api_event("create_event", headers={"x-api-key": "test-admin-key"})
    )
    assert status == 201
    assert created["name"] == body["name"]
    assert created["seats_total"] == len(body["seats"])
    assert created["seats_available"] == len(body["seats"])
    assert created["admission_per_second"] == 1
    seat_ids = [
        s["seat_id"] for sec in created["sections"] for r in sec["rows"] for s in r["seats"]
    ]
    assert sorted(seat_ids) == sorted(s["seat_id"] for s in body["seats"])


def test_defaults_apply_when_settings_are_left_out(deps):
    body = json.loads(load_event("create_event")["body"])
    for key in ("hold_seconds", "checkout_seconds", "admission_per_second"):
        body.pop(key)
    status, created = invoke(
        "create_event",
        api_event("create_event", body=body, headers={"x-api-key": "test-admin-key"}),
    )
    assert status == 201
    assert (created["hold_seconds"], created["checkout_seconds"]) == (600, 300)
    assert created["admission_per_second"] == 1


def test_admin_key_is_required(deps):
    status, body = invoke("create_event", api_event("create_event", headers={"x-api-key": None}))
    assert (status, body["error"]) == (401, "unauthorized")
    status, body = invoke("create_event", api_event("create_event", headers={"x-api-key": "nope"}))
    assert (status, body["error"]) == (403, "forbidden")


def test_bad_events_are_400(deps):
    good = json.loads(load_event("create_event")["body"])
    seat = good["seats"][0]
    variants = [
        {**good, "seats": []},
        {**good, "seats": [seat, seat]},
        {**good, "name": ""},
        {**good, "starts_at": "tomorrow"},
        {**good, "hold_seconds": 0},
        {**good, "hold_seconds": "600"},
        {**good, "admission_per_second": 0},
        {**good, "admission_per_second": True},
        {**good, "seats": [{**seat, "price_cents": -1}]},
        {**good, "seats": [{**seat, "number": "1"}]},
        {**good, "seats": [{k: v for k, v in seat.items() if k != "row"}]},
        {**good, "surprise": 1},
        [],
    ]
    for body in variants:
        status, answer = invoke(
            "create_event",
            api_event("create_event", body=body, headers={"x-api-key": "test-admin-key"}),
        )
        assert status == 400, body
        assert answer["error"] == "invalid_request"


def test_strangers_learn_nothing_of_the_body(deps):
    for raw in ("{}", "[]", "{bad", '{"name": "x"}'):
        for key, status in ((None, 401), ("wrong", 403)):
            event = api_event("create_event", raw_body=raw, headers={"x-api-key": key})
            answer_status, body = invoke("create_event", event)
            assert (answer_status, body["error"]) == (
                status,
                "unauthorized" if status == 401 else "forbidden",
            ), (raw, key)


def test_values_postgres_or_python_cannot_hold_are_400(deps):
    good = json.loads(load_event("create_event")["body"])
    seat = good["seats"][0]
    variants = [
        {**good, "name": "a\u0000b"},
        {**good, "name": "   "},
        {**good, "seats": [{**seat, "seat_id": "A\u00001"}]},
        {**good, "starts_at": "9999-12-31T23:59:59-12:00"},
        {**good, "starts_at": "0001-01-01T00:00:00+12:00"},
        {**good, "admission_per_second": 1e-300},
    ]
    for body in variants:
        status, answer = invoke(
            "create_event",
            api_event("create_event", body=body, headers={"x-api-key": "test-admin-key"}),
        )
        assert (status, answer["error"]) == (400, "invalid_request"), body
    deep = '{"name":' * 20_000 + "1" + "}" * 20_000
    event = api_event("create_event", raw_body=deep, headers={"x-api-key": "test-admin-key"})
    assert invoke("create_event", event)[0] == 400


def test_starts_at_must_be_a_date_and_time_text(deps):
    good = json.loads(load_event("create_event")["body"])
    for starts_at in (12345, 1.5e9, True, None, ["2031-01-01T00:00:00Z"]):
        status, answer = invoke(
            "create_event",
            api_event(
                "create_event",
                body={**good, "starts_at": starts_at},
                headers={"x-api-key": "test-admin-key"},
            ),
        )
        assert (status, answer["error"]) == (400, "invalid_request"), starts_at
