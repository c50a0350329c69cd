"""schemathesis against the local stack, from the API's own OpenAPI document: no input it
can make gives a 5xx, and every answer is one the document describes (status, content
type, body schema). Bounded and repeatable: a fixed number of cases per operation (60,
valid and invalid inputs drawn together), a fixed seed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation

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


def _operations() -> list[APIOperation]:
    """Every operation of the document (one it cannot read fails the collection). A pytest
    test each, each its own node id: `schema.parametrize()` gives every operation the same
    one, and pytest-xdist, which schedules tests by node id, ran only one of them."""
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    return operations


OPERATIONS = _operations()


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_answer_is_documented_and_none_is_a_server_error(
    operation: APIOperation, stack: StackProcess
) -> None:
    """Valid and invalid inputs (schemathesis' two generation modes) alike."""
    cases = st.one_of([operation.as_strategy(mode) for mode in GenerationMode])

    @given(case=cases)
    @settings(
        max_examples=CASES_PER_OPERATION * len(GenerationMode),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answer_is_documented(case: Case) -> None:
        case.call_and_validate(
            base_url=stack.base,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )

    answer_is_documented()
