"""A sweep's phase diagram: a heatmap of the mapped value over two grid keys, as Rich and as SVG.

One drawing from one `Facet` (engine/sweeps.py) for every view: the headless display (live and at
the end), the report (the same table saved as SVG, as the report saves every figure) and the explorer. Each cell shows the
mean over its seeds as a number on a colour (viridis, so it reads in grey too); a cell that has no
value yet is `·` (waiting) or `…` (running), one whose runs all failed or diverged is `✗`, and a
`!` after a number says some of its runs failed. The spread over seeds is in `cells_table`.

With a success test (`gradfail sweep --success`), a cell shows how many of its seeds passed, `3/4`, on
a colour for that share on a fixed scale from 0 to 1 (so sweeps compare), and `!` says some of its
seeds were left out (failed or interrupted); the table gives k of n and the 95% Wilson interval.

Refinement (`--refine N`) adds columns between the grid's: their heads are marked `+`, and a row the
refinement did not touch is blank there. `boundary_parts` names each row's boundary, where the share
that passed crosses one half, and draws it against y (plotext, imported only to draw it).
"""

from __future__ import annotations

import math
from typing import Any

from rich.color import Color
from rich.style import Style
from rich.table import Table
from rich.text import Text

from engine.status import RunStatus
from engine.sweeps import Boundary, Facet, Successes, SweepCell, SweepRecord, boundaries, facets
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


def cell_text(cell: SweepCell | None, success: bool = False) -> tuple[str, float | None]:
    """What a cell shows, and the value its colour comes from: the mean of its seeds' values, or with
    `success` the share of them that passed the test (`3/4`, `!` when some were left out)."""
    if cell is None or not cell.statuses:
        return "·", None
    if success:
        counted = cell.successes
        value, text = counted.rate, f"{counted.k}/{counted.n}"
        marked = "!" if counted.left_out else ""
        every_run_failed = counted.n == 0 and cell.done == len(cell.statuses)
    else:
        value, text = cell.mean, short(cell.mean) if cell.mean is not None else ""
        marked = "!" if cell.failed else ""
        every_run_failed = bool(cell.failed) and cell.done == len(cell.statuses)
    if value is None:
        if every_run_failed:
            return "✗", None
        going = any(s in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED) for s in cell.statuses)
        return ("…" if going else "·"), None
    return (text if len(text) <= 5 else short(value)) + marked, value


def heatmap(
    facet: Facet, low: float, high: float, title: str = "", colour: bool = True, success: bool = False
) -> Table:
    """The phase diagram as a Rich table: y down the side (highest at the top), x along the bottom;
    `success`: each cell's share of seeds that passed the test (cell_text)."""
    # Each cell 6 characters wide, its number (at most 6: "0.924!") centred: cells stay apart without colour
    # (NO_COLOR, a log), and 11 columns fit 80. An empty column keeps the row labels off the first cell.
    labels = max(len(str(label)) for label in (facet.y_key or "", *facet.y_values))
    natural = labels + 1 + 6 * len(facet.x_values)
    # a title wider than a small grid widens it rather than wrapping (a success test's is long)
    table = Table(
        title=title or None,
        show_edge=False,
        pad_edge=False,
        box=None,
        padding=0,
        min_width=len(title) if len(title) > natural else None,
    )
    table.add_column(facet.y_key or "", justify="right", style="bold", no_wrap=True)
    table.add_column("", width=1)
    refined = facet.refined_x
    for x in facet.x_values:
        table.add_column(f"+{x}" if x in refined else str(x), justify="center", no_wrap=True, width=6)
    for y in reversed(facet.y_values):
        row: list[Any] = [str(y) if facet.y_key else "", ""]
        for x in facet.x_values:
            cell = facet.cells.get((x, y))
            if cell is None and x in refined:  # a refined column, in a row its refinement did not need
                row.append(Text(""))
                continue
            text, value = cell_text(cell, success)
            if value is None or not colour:
                row.append(Text(text, style="dim" if value is None else ""))
                continue
            fraction = (value - low) / (high - low) if high > low else 0.5
            r, g, b = ramp(fraction)
            ink = Color.from_rgb(0, 0, 0) if fraction > 0.55 else Color.from_rgb(255, 255, 255)
            row.append(Text(text, style=Style(bgcolor=Color.from_rgb(r, g, b), color=ink)))
        table.add_row(*row)
    table.add_row("", "", *[Text("") for _ in facet.x_values])
    table.caption = (
        f"x: {facet.x_key}"
        + (f"   y: {facet.y_key}" if facet.y_key else "")
        + ("   +: added by refinement" if refined else "")
    )
    return table


def legend(low: float, high: float, what: str, success: bool = False) -> Text:
    """The colour scale in one line, and what the marks mean."""
    text = Text(f"{what}: {format_value(low)} ")
    for i in range(12):
        r, g, b = ramp(i / 11)
        text.append("  ", style=Style(bgcolor=Color.from_rgb(r, g, b)))
    failed = "! some seeds left out" if success else "! some runs failed"
    text.append(f" {format_value(high)}\n· waiting  … running  ✗ every run failed  {failed}")
    return text


def diagram(record: SweepRecord) -> list:
    """A sweep's phase diagram: a heatmap per facet, on one colour scale, then the scale; [] without a grid.
    With a success test the cells are shares of seeds that passed, on the scale 0 to 1."""
    found = facets(record)
    if not found:
        return []
    success = record.mapping.success is not None
    low, high = (0.0, 1.0) if success else value_range(found)
    what = record.mapping.describe_success() if success else record.mapping.describe()
    parts: list = [
        heatmap(f, low, high, title=what + (f" at {f.title}" if f.title else ""), success=success) for f in found
    ]
    parts.append(legend(low, high, "share of seeds that passed" if success else "mean over seeds", success))
    return parts


def interval_text(counted: Successes) -> str:
    """A cell's 95% Wilson interval, `0.05–0.70`; `-` before a seed is judged."""
    interval = counted.interval
    return "-" if interval is None else f"{interval[0]:.2f}–{interval[1]:.2f}"


def passed_text(counted: Successes) -> str:
    """`3 of 4`; `-` before a seed is judged."""
    return f"{counted.k} of {counted.n}" if counted.n else "-"


def ended_text(cell: SweepCell) -> str:
    """How its runs stand: `3 completed, 1 failed`."""
    ended: dict[str, int] = {}
    for status in cell.statuses:
        ended[status] = ended.get(status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in ended.items())


def cells_table(cells: list[SweepCell], keys: list[str], what: str, success: bool = False, x: str = "") -> Table:
    """Every cell: its settings (`+` on `x` for a cell refinement added), the mean, spread and range of its
    runs' values, and how they ended.
    With `success`: how many seeds passed (k of n), the 95% interval of that share, how many were left
    out of n (failed, interrupted), then the mean of the mapped value and how the runs ended."""
    table = Table(show_edge=False, pad_edge=False)
    for key in keys:
        table.add_column(key, justify="right")
    columns = ("passed", "95% interval", "left out", f"{what} (mean)", "runs") if success else None
    for column in columns or (f"{what} (mean)", "sd", "min", "max", "runs"):
        table.add_column(column, justify="right")
    for cell in in_order(cells, keys):
        values = cell.values
        mean = format_value(cell.mean) if cell.mean is not None else "-"
        if success:
            counted = cell.successes
            numbers = [passed_text(counted), interval_text(counted), str(counted.left_out or "-"), mean]
        else:
            numbers = [
                mean,
                format_value(cell.sd) if cell.sd is not None else "-",
                format_value(min(values)) if values else "-",
                format_value(max(values)) if values else "-",
            ]
        table.add_row(*settings_text(cell, keys, x), *numbers, ended_text(cell))
    return table


def in_order(cells: list[SweepCell], keys: list[str]) -> list[SweepCell]:
    """The cells in the grid's order; with refined cells, sorted by their settings, so that each stands
    between its neighbours (the grid's order where settings do not compare)."""
    if not any(cell.refined for cell in cells):
        return list(cells)
    try:
        return sorted(cells, key=lambda cell: tuple(cell.settings.get(k) for k in keys))
    except TypeError:
        return list(cells)


def settings_text(cell: SweepCell, keys: list[str], x: str = "") -> list[str]:
    """A cell's settings for a table; a refined cell's value of `x` (the axis refined) marked `+`, as the
    heatmap marks its column."""
    return [("+" if cell.refined and k == x else "") + str(cell.settings.get(k, "")) for k in keys]


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def boundary_parts(record: SweepRecord, width: int = 80) -> list:
    """A success map's boundaries along x, where the share of seeds that passed crosses one half: one line
    per row (engine/sweeps.py's `Boundary.describe`), and, with a y axis, the boundary drawn against y
    for each facet. [] for a map without a success test or a numeric x."""
    found = boundaries(record)
    if not found or not any(b.judged for b in found):
        return []
    plan = record.refinement
    resolution = plan.resolution if plan is not None else None
    head = f"Boundaries along {found[0].x_key} (the share of seeds that passed crosses one half between two neighbours)"
    if plan is not None:
        spent = plan.cells - plan.left
        if all(b.located(plan.resolution) for b in found):
            state = "every boundary located"
        elif plan.left <= 0:
            state = "no extra cell left (--resume DIR --refine N spends N more)"
        else:
            state = "going on" if not plan.ended else "a boundary waits for failed runs (--resume runs them)"
        head += f"; refined with {spent} of {plan.cells} extra cells, to {plan.resolution:g}: {state}"
    parts: list = [Text(head + ":", style="bold")]
    parts += [Text("  " + boundary.describe(resolution)) for boundary in found]
    for curve in boundary_curves(found, width):
        parts.append(curve)
    return parts


def boundary_series(found: list[Boundary]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """For each facet (its title), the two sides of each row's first crossing against y: the value that
    passes at least half the time and its neighbour that does not."""
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for boundary in found:
        if not boundary.crossings or boundary.y_key is None or not finite(boundary.y):
            continue
        a, b = boundary.crossings[0]
        passing, failing = (a, b) if a.passes else (b, a)
        title = ", ".join(f"{k}={v}" for k, v in boundary.pinned.items())
        lines = curves.setdefault(title, {})
        lines.setdefault(f"{boundary.x_key} that passes >= 1/2", []).append((float(boundary.y), float(passing.x)))
        lines.setdefault("its neighbour, < 1/2", []).append((float(boundary.y), float(failing.x)))
    return {title: lines for title, lines in curves.items() if len(next(iter(lines.values()))) > 1}


def boundary_curves(found: list[Boundary], width: int = 80) -> list:
    """The boundary against y, one plot per facet with at least two rows crossing one half."""
    curves = boundary_series(found)
    if not curves:
        return []
    from gradfail_tui.render.plots import render_plot  # plotext: only where a boundary is drawn

    x_key, y_key = found[0].x_key, found[0].y_key or ""
    drawn = []
    for title, lines in curves.items():
        name = f"{x_key}* against {y_key}" + (f" at {title}" if title else "")
        drawn.append(render_plot(lines, name, x_label=y_key, width=width, height=12))
    return drawn
