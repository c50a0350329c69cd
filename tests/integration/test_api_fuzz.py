"""schemathesis against the local stack, from the API's own OpenAPI document: no input it
can make gives a 5xx, and every answer is one the document describes (status, content
type, body schema). Bounded and repeatable: a fixed number of cases per operation, a
fixed seed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from local import openapi
from tests.local.stack import StackProcess, running_stack

CASES_PER_OPERATION = 30
schema = schemathesis.openapi.from_dict(openapi.document())


@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[StackProcess]:
    with running_stack(database_url) as running:
        yield running
    answered = [line for line in running.lines if re.search(r" [1-5]\d\d \d+ ms ", line)]
    print(f"\nschemathesis: {len(answered)} requests answered by the functions")
    assert len(answered) > 100


@schema.parametrize()
@settings(
    max_examples=CASES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented_and_none_is_a_server_error(case, stack):
    case.call_and_validate(
        base_url=stack.base,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
