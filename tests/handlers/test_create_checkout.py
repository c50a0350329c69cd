from __future__ import annotations

import json
import time
from uuid import UUID

import boto3
import pytest

from tests.support import api_event, hold, invoke


def test_holds_seats_and_joins_the_line(deps, make_event, aws):
    event_id = make_event()
    status, body = hold(event_id, ["A-1-2", "A-1-1"])
    assert status == 201
    assert body["status"] == "queued"
    assert body["position"] == 0
    assert body["seat_ids"] == ["A-1-2", "A-1-1"]
    assert [s["seat_id"] for s in body["seats"]] == ["A-1-2", "A-1-1"]
    assert body["token"]
    assert UUID(body["checkout_id"])
    message = boto3.client("sqs").receive_message(
        QueueUrl=aws.queue_url, AttributeNames=["MessageGroupId"]
    )["Messages"][0]
    assert message["Attributes"]["MessageGroupId"] == str(event_id)
    assert body["checkout_id"] in message["Body"]


def test_second_fan_gets_409_naming_the_taken_seats(deps, make_event):
    event_id = make_event()
    assert hold(event_id, ["A-1-1", "A-1-2"])[0] == 201
    status, body = hold(event_id, ["A-1-3", "A-1-2", "A-1-1"])
    assert status == 409
    assert body["error"] == "seats_unavailable"
    assert body["seat_ids"] == ["A-1-1", "A-1-2"]
    # all or nothing: the free seat asked for alongside was not held
    assert hold(event_id, ["A-1-3"])[0] == 201


def test_positions_count_people_ahead(deps, make_event):
    event_id = make_event()
    positions = [hold(event_id, [f"A-1-{n}"])[1]["position"] for n in (1, 2, 3)]
    assert positions == [0, 1, 2]


def test_unknown_event_and_seat_are_404(deps, make_event):
    event_id = make_event()
    status, body = hold(UUID(int=7), ["A-1-1"])
    assert (status, body["error"]) == (404, "event_not_found")
    status, body = hold(event_id, ["A-1-1", "Z-9-9"])
    assert (status, body["error"], body["seat_ids"]) == (404, "seat_not_found", ["Z-9-9"])


def test_bad_bodies_are_400(deps, make_event):
    event_id = str(make_event())
    bad = [
        {"seat_ids": []},
        {"seat_ids": ["A-1-1", "A-1-1"]},
        {"seat_ids": "A-1-1"},
        {"seat_ids": [1, 2]},
        {"seat_ids": [None]},
        {"seats": ["A-1-1"]},
        {"seat_ids": ["A-1-1"], "extra": True},
        {"seat_ids": [f"A-1-{n}" for n in range(1, 12)]},
        [],
        "A-1-1",
    ]
    for body in bad:
        status, answer = invoke(
            "create_checkout", api_event("create_checkout", event_id=event_id, body=body)
        )
        assert status == 400, body
        assert answer["error"] == "invalid_request"
        assert answer["message"]
    for raw in ("{not json", "", "null"):
        status, answer = invoke(
            "create_checkout", api_event("create_checkout", event_id=event_id, raw_body=raw)
        )
        assert status == 400, raw
        assert answer["error"] == "invalid_request"


def test_a_json_body_labelled_as_a_form_is_read_as_json(deps, make_event):
    event_id = str(make_event())
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    event = api_event(
        "create_checkout", event_id=event_id, body={"seat_ids": ["A-1-1"]}, headers=form
    )
    status, body = invoke("create_checkout", event)
    assert (status, body["seat_ids"]) == (201, ["A-1-1"])


def test_bodies_no_parser_should_meet_are_400_not_500(deps, make_event):
    import base64

    event_id = str(make_event())
    raw_bodies = [
        '{"seat_ids":' * 20_000 + "[]" + "}" * 20_000,  # nested past the parser's depth
        '{"seat_ids": [' + "9" * 5_000 + "]}",  # an integer longer than Python will parse
        '{"seat_ids": ["A-1-1\\u0000"]}',  # NUL: Postgres cannot store it
        '{"seat_ids": ["\\n"]}',
    ]
    for raw in raw_bodies:
        status, body = invoke(
            "create_checkout", api_event("create_checkout", event_id=event_id, raw_body=raw)
        )
        assert (status, body["error"]) == (400, "invalid_request"), raw[:40]
    event = api_event("create_checkout", event_id=event_id)
    event["body"], event["isBase64Encoded"] = base64.b64encode(b"\xff\xfe{").decode(), True
    status, body = invoke("create_checkout", event)
    assert (status, body["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("count", [101, 20_000, 60_000])
def test_a_huge_list_of_seats_is_refused_before_anything_else(deps, make_event, count):
    event_id = make_event(seats=6)
    ids = [f"X-{n}" for n in range(count)] + ["X-0"]  # duplicates too: the size comes first
    began = time.perf_counter()
    status, body = hold(event_id, ids)
    took = time.perf_counter() - began
    print(f"{count} seat ids refused in {took * 1000:.1f} ms")
    assert (status, body["error"]) == (400, "invalid_request")
    assert "at most 100 seats" in body["message"]


def test_a_checkout_is_counted_in_the_invocations_emf_record_with_its_ids(deps, make_event, capsys):
    event_id = make_event()
    event = api_event("create_checkout", event_id=str(event_id), body={"seat_ids": ["A-1-1"]})
    capsys.readouterr()
    status, body = invoke("create_checkout", event)
    assert status == 201
    (record,) = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "CheckoutsCreated", "Unit": "Count"}]
    assert record["CheckoutsCreated"] == [1.0]
    # the ids are the record's metadata, not dimensions: searchable, never a metric each
    assert ["checkout_id"] not in directive["Dimensions"]
    assert (record["checkout_id"], record["event_id"], record["seq"]) == (
        body["checkout_id"],
        str(event_id),
        1,
    )
    assert record["correlation_id"] == event["requestContext"]["requestId"]
