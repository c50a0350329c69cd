"""Event filtering: the stream mapping's FilterCriteria patterns match as Lambda's do."""

from __future__ import annotations

import json

from local.sources import matches
from tests.local.support import event_source


def test_filter_patterns_match_like_event_filtering():
    [pattern] = [
        json.loads(f["Pattern"]) for f in event_source("DynamoDB")[1]["FilterCriteria"]["Filters"]
    ]
    ttl = {
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
    }
    assert matches(pattern, ttl)
    assert not matches(pattern, {"eventName": "REMOVE"})
    assert not matches(pattern, {**ttl, "eventName": "MODIFY"})
    assert not matches(pattern, {**ttl, "userIdentity": {"type": "User", "principalId": "x"}})
    assert matches({"a": [{"prefix": "ab"}]}, {"a": "abc"})
    assert matches({"a": [{"exists": False}]}, {})
    assert matches({"a": [{"anything-but": ["x"]}]}, {"a": "y"})
    assert matches({"a": ["x"]}, {"a": ["w", "x"]})
