"""Numbers, durations, metrics and names as text: for the headless display, the report and the explorer's status line.

Kept free of plotext and Rich: the explorer's status line imports it for its first frame.
"""

from __future__ import annotations

import math
from collections.abc import Container

from engine.walltimes import clock  # the one way gradfail writes a time


def unique_name(name: str, taken: Container[str], pattern: str = "{name} #{n}") -> str:
    """`name`, or the first of `pattern` with n = 2, 3, ... that is not taken (two runs of one preset
    in a list, a legend, or a report's files)."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = pattern.format(name=name, n=n), n + 1
    return candidate


def format_value(value: float) -> str:
    """Numbers for tables and status lines: 0.5132, 1.000, 3.2e-07."""
    if value == 0 or (1e-3 <= abs(value) < 1e5):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2e}"


def format_cell(cell: object) -> str:
    """A table cell: numbers as format_value writes them, anything else as text."""
    return format_value(cell) if isinstance(cell, float) else str(cell)


def format_metrics(values: dict[str, float], names: tuple[str, ...] | list[str]) -> str:
    """The named metrics that have a value, as "name value" pairs on one line."""
    return "  ".join(f"{name} {format_value(values[name])}" for name in names if name in values)


def format_duration(seconds: float | None) -> str:
    """A wall time or an ETA: 1:02:03, 4:05; "-" when it is not known."""
    return "-" if seconds is None else clock(seconds)
