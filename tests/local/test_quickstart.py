"""The README's quick start, run as written (bash, curl, jq) against a local stack, and
`make demo`'s script doing the same in Python."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.local.stack import StackProcess, running_stack
from tests.support import ROOT

MARKER = "<!-- quickstart:"


def quickstart_block() -> str:
    """The bash block that follows the quickstart marker in README.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme[readme.index(MARKER) :]
    found = re.search(r"```bash\n(.*?)```", after, re.DOTALL)
    assert found, "README.md: no bash block after the quickstart marker"
    return found.group(1)


@pytest.fixture(scope="module", params=["stripe", "test"])
def stack(database_url: str, request: pytest.FixtureRequest) -> Iterator[StackProcess]:
    """`make dev` (the Stripe stand-in) and `PAYMENT_PROVIDER=test make dev`."""
    with running_stack(database_url, PAYMENT_PROVIDER=str(request.param), SEED_DEMO="1") as running:
        yield running


def test_the_readme_quick_start_runs_as_written(stack):
    for tool in ("bash", "curl", "jq"):
        assert shutil.which(tool), f"the quick start needs {tool}"
    script = "set -euo pipefail\n" + quickstart_block()
    done = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "API": stack.base},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"event [0-9a-f-]{36}, suggested seats \[\"FL-A-\d+\",\"FL-A-\d+\"\]", out)
    assert re.search(r"checkout [0-9a-f-]{36}: admitted", out), out
    objects = [json.loads(chunk) for chunk in re.findall(r"^\{.*?^\}", out, re.DOTALL | re.M)]
    payment, booked, cancelled = objects
    assert payment["provider"] in {"stripe", "test"}
    assert payment["amount_cents"] == 24_000
    assert booked["status"] == "completed"
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{4}", booked["reference"])
    assert cancelled["status"] == "cancelled"
    seats = stack.seat_statuses(_demo(stack))
    assert sorted(booked["seat_ids"]) == sorted(k for k, v in seats.items() if v == "booked")
    assert {seats[s] for s in cancelled["seat_ids"]} == {"available"}


def test_make_demo_does_the_same_in_python(stack):
    done = subprocess.run(
        [sys.executable, "-m", "local.demo", "--api", stack.base, "--pay-timeout", "30"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("event", "suggested", "held", "payment", "booked", "cancelled"):
        assert re.search(rf"^{step} ", done.stdout, re.M), done.stdout


def _demo(stack: StackProcess) -> str:
    events = stack.request("GET", "/events").body
    return str(next(e["id"] for e in events if e["name"] == "Demo Night"))
