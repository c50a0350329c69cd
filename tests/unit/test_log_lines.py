"""The shared logger writes one JSON object per line, whatever its `extra` holds."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO, cast
from uuid import uuid4

import pytest

from boxoffice.observability import logger


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    handler = cast(logging.StreamHandler[TextIO], logger.registered_handler)
    written = io.StringIO()
    stream, level = handler.setStream(written), logger.log_level
    logger.setLevel(logging.INFO)
    yield written
    logger.setLevel(level)
    if stream is not None:
        handler.setStream(stream)


def records(written: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in written.getvalue().splitlines()]


def test_extra_values_are_written_as_json(lines):
    checkout, when = uuid4(), datetime(2031, 6, 1, 19, 30, tzinfo=UTC)
    logger.info("checkout created", extra={"checkout_id": checkout, "at": when, "seq": 3})
    (record,) = records(lines)
    assert record["message"] == "checkout created"
    assert (record["checkout_id"], record["seq"]) == (str(checkout), 3)
    assert datetime.fromisoformat(record["at"]) == when
    assert (record["level"], record["service"]) == ("INFO", "boxoffice")


def test_a_message_is_its_text_even_when_it_reads_as_json(lines):
    logger.info('{"error": "not data"}')
    logger.info({"kept": "as an object"})
    first, second = records(lines)
    assert first["message"] == '{"error": "not data"}'
    assert second["message"] == {"kept": "as an object"}


def test_an_exception_is_written_with_its_name_and_traceback(lines):
    try:
        raise KeyError("seat")
    except KeyError as error:
        logger.exception("failed", extra={"error": error, "obj": object()})
    (record,) = records(lines)
    assert record["exception_name"] == "KeyError"
    assert "Traceback" in record["exception"]
    assert record["error"] == "'seat'"
    assert record["obj"].startswith("<object object")
