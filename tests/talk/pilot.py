"""What the talk's Pilot tests share: a widget's text, and waiting for a view to catch up."""

from __future__ import annotations

import time


def text_of(app, widget: str) -> str:
    """The text widget `#widget` shows now."""
    return str(app.query_one(f"#{widget}").render())


async def until(pilot, predicate, timeout: float = 20) -> bool:
    """Wait until `predicate()` holds (a view polls, an engine trains), at most `timeout` s; the caller asserts."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await pilot.pause(0.05)
    return predicate()
