"""Fixtures of the browser tests: the local stack and Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.local.stack import StackProcess, running_stack

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def stack(database_url: str) -> Iterator[StackProcess]:
    """The stack with the test payment provider (Pay books at once), the demo seeded."""
    with running_stack(database_url, PAYMENT_PROVIDER="test") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "make test installs Debian's chromium; run it through make"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()
