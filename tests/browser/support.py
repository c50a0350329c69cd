"""Helpers of the browser tests: a seat's button on the map, and a screenshot of a step."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


def seat(page: Page, seat_id: str) -> Locator:
    return page.locator(f'#seat-map button[data-seat-id="{seat_id}"]')


def shot(page: Page, name: str) -> None:
    """tests/artifacts/screenshots/<name>.png, the whole page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
