"""Lambda's event filtering (FilterCriteria patterns) for stream records."""

from __future__ import annotations

import json
from typing import Any


def _matches_value(pattern: Any, value: Any, present: bool) -> bool:
    """One EventBridge-style pattern list against a record value."""
    if not isinstance(pattern, list):
        raise ValueError(f"filter pattern values must be lists, not {pattern!r}")
    candidates = value if isinstance(value, list) else [value]
    for rule in pattern:
        if isinstance(rule, dict):
            if "exists" in rule:
                if bool(rule["exists"]) == present:
                    return True
                continue
            if not present:
                continue
            if "prefix" in rule:
                if any(isinstance(c, str) and c.startswith(rule["prefix"]) for c in candidates):
                    return True
            elif "anything-but" in rule:
                banned = rule["anything-but"]
                banned = banned if isinstance(banned, list) else [banned]
                if all(c not in banned for c in candidates):
                    return True
            else:
                raise ValueError(f"unsupported filter rule {rule!r}")
        elif present and rule in candidates:
            return True
    return False


def matches(pattern: dict[str, Any], record: Any) -> bool:
    """Whether `record` matches a Lambda event filter pattern (EventBridge pattern syntax;
    exact values, prefix, exists and anything-but)."""
    if not isinstance(record, dict):
        return False
    for key, wanted in pattern.items():
        present = key in record
        value = record.get(key)
        if isinstance(wanted, dict):
            if not (present and matches(wanted, value)):
                return False
        elif not _matches_value(wanted, value, present):
            return False
    return True


def filter_patterns(props: dict[str, Any]) -> list[dict[str, Any]]:
    filters = ((props.get("FilterCriteria") or {}).get("Filters")) or []
    patterns = []
    for item in filters:
        raw = item.get("Pattern")
        patterns.append(json.loads(raw) if isinstance(raw, str) else dict(raw))
    return patterns
