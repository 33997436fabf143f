"""A sweep's phase diagram: a heatmap of the mapped value over two grid keys, as Rich and as SVG.

One drawing from one `Facet` (engine/sweeps.py) for every view: the headless display (live and at
the end), the report (the same table saved as SVG, as the report saves every figure) and the explorer. Each cell shows the
mean over its seeds as a number on a colour (viridis, so it reads in grey too); a cell that has no
value yet is `·` (waiting) or `…` (running), one whose runs all failed or diverged is `✗`, and a
`!` after a number says some of its runs failed. The spread over seeds is in `cells_table`.
"""

from __future__ import annotations

import math
from typing import Any

from rich.color import Color
from rich.style import Style
from rich.table import Table
from rich.text import Text

from engine.status import RunStatus
from engine.sweeps import Facet, SweepCell, SweepRecord, facets
from gradfail_tui.render.format import format_value

# viridis at six points: dark purple (low) to yellow (high)
RAMP = ((68, 1, 84), (65, 68, 135), (42, 120, 142), (34, 168, 132), (122, 209, 81), (253, 231, 37))


def ramp(fraction: float) -> tuple[int, int, int]:
    fraction = min(1.0, max(0.0, fraction))
    position = fraction * (len(RAMP) - 1)
    low = min(int(position), len(RAMP) - 2)
    t = position - low
    return tuple(round(a + (b - a) * t) for a, b in zip(RAMP[low], RAMP[low + 1]))  # type: ignore[return-value]


def value_range(facets: list[Facet]) -> tuple[float, float]:
    """The colour scale: the lowest and highest cell mean over every facet (shared, so facets compare)."""
    means = [c.mean for f in facets for c in f.cells.values() if c.mean is not None]
    if not means:
        return (0.0, 1.0)
    low, high = min(means), max(means)
    return (low, high if high > low else low + 1.0)


def short(value: float) -> str:
    """A cell's number in at most 5 characters: 0.981, 12.3, -0.95, 3e-05."""
    if value == 0 or 0.01 <= abs(value) < 1000:
        text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
        return text[:5] if abs(value) < 10 else text
    return f"{value:.0e}"


def cell_text(cell: SweepCell | None) -> tuple[str, float | None]:
    """What a cell shows, and the value its colour comes from."""
    if cell is None or not cell.statuses:
        return "·", None
    mean = cell.mean
    if mean is None:
        if cell.failed and cell.done == len(cell.statuses):
            return "✗", None
        going = any(s in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED) for s in cell.statuses)
        return ("…" if going else "·"), None
    return short(mean) + ("!" if cell.failed else ""), mean


def heatmap(facet: Facet, low: float, high: float, title: str = "", colour: bool = True) -> Table:
    """The phase diagram as a Rich table: y down the side (highest at the top), x along the bottom."""
    # Each cell 6 characters wide, its number (at most 6: "0.924!") centred: cells stay apart without colour
    # (NO_COLOR, a log), and 11 columns fit 80. An empty column keeps the row labels off the first cell.
    table = Table(title=title or None, show_edge=False, pad_edge=False, box=None, padding=0)
    table.add_column(facet.y_key or "", justify="right", style="bold", no_wrap=True)
    table.add_column("", width=1)
    for x in facet.x_values:
        table.add_column(str(x), justify="center", no_wrap=True, width=6)
    for y in reversed(facet.y_values):
        row: list[Any] = [str(y) if facet.y_key else "", ""]
        for x in facet.x_values:
            text, value = cell_text(facet.cells.get((x, y)))
            if value is None or not colour:
                row.append(Text(text, style="dim" if value is None else ""))
                continue
            fraction = (value - low) / (high - low) if high > low else 0.5
            r, g, b = ramp(fraction)
            ink = Color.from_rgb(0, 0, 0) if fraction > 0.55 else Color.from_rgb(255, 255, 255)
            row.append(Text(text, style=Style(bgcolor=Color.from_rgb(r, g, b), color=ink)))
        table.add_row(*row)
    table.add_row("", "", *[Text("") for _ in facet.x_values])
    table.caption = f"x: {facet.x_key}" + (f"   y: {facet.y_key}" if facet.y_key else "")
    return table


def legend(low: float, high: float, what: str) -> Text:
    """The colour scale in one line."""
    text = Text(f"{what}: {format_value(low)} ")
    for i in range(12):
        r, g, b = ramp(i / 11)
        text.append("  ", style=Style(bgcolor=Color.from_rgb(r, g, b)))
    text.append(f" {format_value(high)}\n· waiting  … running  ✗ every run failed  ! some runs failed")
    return text


def diagram(record: SweepRecord) -> list:
    """A sweep's phase diagram: a heatmap per facet, on one colour scale, then the scale; [] without a grid."""
    found = facets(record)
    if not found:
        return []
    low, high = value_range(found)
    what = record.mapping.describe()
    parts: list = [heatmap(f, low, high, title=what + (f" at {f.title}" if f.title else "")) for f in found]
    parts.append(legend(low, high, "mean over seeds"))
    return parts


def cells_table(cells: list[SweepCell], keys: list[str], what: str) -> Table:
    """Every cell: its settings, the mean, spread and range of its runs' values, and how they ended."""
    table = Table(show_edge=False, pad_edge=False)
    for key in keys:
        table.add_column(key, justify="right")
    for column in (f"{what} (mean)", "sd", "min", "max", "runs"):
        table.add_column(column, justify="right")
    for cell in cells:
        values = cell.values
        ended: dict[str, int] = {}
        for status in cell.statuses:
            ended[status] = ended.get(status, 0) + 1
        table.add_row(
            *[str(cell.settings.get(k, "")) for k in keys],
            format_value(cell.mean) if cell.mean is not None else "-",
            format_value(cell.sd) if cell.sd is not None else "-",
            format_value(min(values)) if values else "-",
            format_value(max(values)) if values else "-",
            ", ".join(f"{n} {s}" for s, n in ended.items()),
        )
    return table


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
