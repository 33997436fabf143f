"""The figures printed into a terminal (not inside the explorer), drawn with plotext as Rich renderables.

For the end of `gradfail run` (a run's or a group's figure, its last snapshots) and for the report,
which prints the same renderables into a recording console and saves them as SVG.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

import plotext
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gradfail_tui.render.format import format_cell

if TYPE_CHECKING:
    from engine.events import Snapshot
    from engine.registry import FamilySpec
    from engine.state import RunState

# One colour per line, in a fixed order, so a figure's legend tells its runs apart (plotext's "clear"
# theme would draw every line alike). Rich drops them where colour is off (NO_COLOR, a log file).
LINE_COLOURS = ("blue", "red", "green", "orange", "magenta", "cyan", "gray", "yellow")
MAX_SEED_LINES = 6  # a group's figure draws each seed up to this many, else only their mean


def figure_width(columns: int) -> int:
    """The width a figure is drawn at on a terminal `columns` wide: all of it, within 40..100."""
    return max(40, min(columns, 100))


def render_plot(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    x_label: str = "step",
    width: int = 80,
    height: int = 14,
    log_y: bool = False,
    marker: str = "braille",
) -> Text:
    """Lines of (x, y) points, one per label, with a legend; returned as Rich text. `marker`: plotext's
    ("braille" is finest; "hd" draws thicker lines, for a talk's projector)."""
    plt = plotext  # plotext keeps one global figure; clear it first and build it to a string
    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    for number, (label, points) in enumerate(series.items()):
        points = [(x, y) for x, y in points if math.isfinite(y) and (y > 0 or not log_y)]
        if points:
            xs, ys = zip(*points)
            plt.plot(list(xs), list(ys), label=label, marker=marker, color=LINE_COLOURS[number % len(LINE_COLOURS)])
    if log_y:
        plt.yscale("log")
    plt.title(title)
    plt.xlabel(x_label)
    return Text.from_ansi(plt.build())


def family_figure(
    spec: FamilySpec, states: list[RunState], width: int, height: int = 14, marker: str = "braille"
) -> Text | None:
    """The family's first panel (accuracy for parity) against the step; None when there is no curve to show.
    Several seeds of one run: the panel's first metric, per seed when few, and their mean."""
    panel = spec.metrics[0].panel
    metrics = [m for m in spec.metrics if m.panel == panel and len(states[0].series.get(m.name, [])) >= 2]
    if not metrics:
        return None
    if len(states) == 1:
        series = {m.label: states[0].series[m.name] for m in metrics}
    else:
        metric = metrics[0]
        runs = [s.series.get(metric.name, []) for s in states]
        series = {f"seed {s.seed}": points for s, points in zip(states, runs)} if len(states) <= MAX_SEED_LINES else {}
        steps = sorted(set.intersection(*[{x for x, _ in points} for points in runs]))
        by_step = [dict(points) for points in runs]
        series[f"{metric.label}, mean"] = [(x, statistics.fmean(d[x] for d in by_step)) for x in steps]
    return render_plot(
        series, f"{states[0].label}: {panel}", width=width, height=height, log_y=metrics[0].log_scale, marker=marker
    )


def overlay_figure(
    title: str,
    metric: str,
    states: dict[str, RunState],
    specs,
    log_y: bool,
    width: int,
    height: int = 16,
    marker: str = "braille",
) -> Text | None:
    """One metric of every run that has it, overlaid and labelled by run; None when no run has it."""
    series = {label: state.series[metric] for label, state in states.items() if state.series.get(metric)}
    if not series:
        return None
    described = next((spec.metric(metric) for spec in specs if spec is not None and spec.metric(metric)), None)
    return render_plot(
        series,
        f"{title}: {described.label if described else metric}",
        width=width,
        height=height,
        log_y=log_y or bool(described and described.log_scale),
        marker=marker,
    )


def snapshot_renderable(snap: Snapshot, width: int) -> Text | Table | None:
    """One snapshot as the terminal draws it ("lines" a plot, "table" a table); None for other kinds."""
    data = snap.data
    if snap.kind == "lines":
        series = {
            s.get("label", f"series {i}"): list(zip(s.get("x", []), s.get("y", [])))
            for i, s in enumerate(data.get("series", []))
        }
        return render_plot(
            series,
            f"{data.get('title', snap.name)} (step {snap.step:,})",
            x_label=data.get("x_label", ""),
            width=width,
            height=16,
            log_y=bool(data.get("log_y")),
        )
    if snap.kind == "table":
        table = Table(title=escape(str(data.get("title", snap.name))), title_justify="left")
        for column in data.get("columns", []):
            table.add_column(escape(str(column)))
        for row in data.get("rows", []):
            table.add_row(*[escape(format_cell(c)) for c in row])
        return table
    return None
