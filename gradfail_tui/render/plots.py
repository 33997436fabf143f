"""The figures printed into a terminal (not inside the explorer), drawn with plotext as Rich renderables.

For the end of `gradfail run` (a run's or a group's figure, its last snapshots) and for the report,
which prints the same renderables into a recording console and saves them as SVG.
"""

from __future__ import annotations

import bisect
import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

import plotext
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gradfail_tui.render.colours import HUES, MARKER_GREY, LineStyle, line_styles
from gradfail_tui.render.format import format_cell

if TYPE_CHECKING:
    from engine.events import Snapshot
    from engine.registry import FamilySpec
    from engine.state import RunState

MAX_SEED_LINES = 6  # a group's figure draws each seed up to this many, else only their mean
MONO_MARKERS = ("braille", "dot", "x", "o", "+", "*")  # tell lines apart where colour cannot (NO_COLOR)


@dataclass
class PlotLine:
    label: str
    points: list[tuple[float, float]]
    style: LineStyle


def styled(series: dict[str, list[tuple[float, float]]]) -> list[PlotLine]:
    """The series as lines, each with its style (render.colours.line_styles: no two alike)."""
    return [PlotLine(label, points, style) for (label, points), style in zip(series.items(), line_styles(list(series)))]


def figure_width(columns: int) -> int:
    """The width a figure is drawn at on a terminal `columns` wide: all of it, within 40..100."""
    return max(40, min(columns, 100))


def tick_label(value: float) -> str:
    """A log axis's tick: plain from 0.001 to 1000, else in scientific notation (2e-09 reads 2e-9)."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:g}"
    mantissa, _, exponent = f"{value:.0e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def log_ticks(low: float, high: float, most: int = 6) -> tuple[list[float], list[str]]:
    """Ticks for a log axis over [low, high] (both > 0): powers of ten (every few when there are many),
    or 1, 2 and 5 times them when the range spans less than about two decades."""
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    decades = [10.0**e for e in range(lo, hi + 1) if low * (1 - 1e-9) <= 10.0**e <= high * (1 + 1e-9)]
    if len(decades) < 3:
        candidates = [m * 10.0**e for e in range(lo, hi + 1) for m in (1, 2, 5)]
        decades = [v for v in candidates if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]
    if len(decades) > most:
        stride = math.ceil(len(decades) / most)
        decades = decades[::stride]
    if len(decades) < 2:  # a narrow range: its ends, in the same notation
        decades = [low, high]
        return decades, [f"{v:.2g}" for v in decades]
    return decades, [tick_label(v) for v in decades]


def step_ticks(low: float, high: float, most: int = 5, whole: bool | None = None) -> tuple[list[float], list[str]]:
    """Ticks for a linear axis over [low, high] and their labels: multiples of 1, 2, 2.5 or 5 times a power
    of ten, at most `most` of them (plotext's own divide the range evenly, "3891.8", "-0.0", and move a
    column from one draw to the next). `whole`: whole numbers ("1,000"; by default when both ends are,
    as steps are), else as many decimals as the stride needs ("-0.5", "0.25")."""
    if whole is None:
        whole = float(low).is_integer() and float(high).is_integer()
    span = high - low
    if span <= 0:
        return [low], [f"{low:,}" if whole else tick_label(low)]
    raw = span / max(1, most - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    if whole:
        power = max(power, 1.0)
    steps = (1, 2, 5, 10) if whole and power == 1 else (1, 2, 2.5, 5, 10)  # no 2.5 between whole steps
    stride = next(m * power for m in steps if m * power >= raw * (1 - 1e-9))
    decimals = 0 if whole else max(0, -math.floor(math.log10(stride) + 1e-9) + (stride / power % 1 > 0))
    first = math.ceil(low / stride - 1e-9)
    ticks = [round(n * stride, decimals) for n in range(first, math.floor(high / stride + 1e-9) + 1)]
    if whole:
        return [int(t) for t in ticks], [f"{int(t):,}" for t in ticks]
    return ticks, [f"{t + 0.0:,.{decimals}f}" for t in ticks]  # + 0.0: "-0.0" reads "0.0"


def spaced_ticks(
    ticks: list[float], names: list[str], low: float, high: float, cells: int, *, log: bool = False, across: bool = True
) -> tuple[list[float], list[str]]:
    """The ticks that fit on an axis `cells` long from `low` to `high`, each far enough from the one
    before that plotext places its label the same whatever the order. (plotext puts the labels in a
    set, so their order changes with the hash seed, and a label near another is moved off it: by a column
    one run, not the next; two on one row, either wins.) `across`: an x axis, where a label's centre is
    at least both labels' lengths from the previous one's; else a y axis, on rows of their own."""
    if high <= low or len(ticks) < 2:
        return ticks, names
    scale = math.log10 if log else float
    start, span = scale(low), scale(high) - scale(low)
    kept: list[tuple[float, str, float]] = []
    for tick, name in zip(ticks, names):
        at = (scale(tick) - start) / span * (cells - 1)
        if kept:
            room = len(kept[-1][1]) + len(name) + 1 if across else 1
            if at - kept[-1][2] < room:
                continue
        kept.append((tick, name, at))
    return [t for t, _, _ in kept], [n for _, n, _ in kept]


TITLE_MARGIN = 4  # plotext drops a title longer than the plot's width less this, silently


def fitted_title(title: str, width: int) -> str:
    """`title` cut to what plotext draws over a plot `width` cells wide, rather than dropped whole: its
    head shortened, its last part after a comma kept ("non-flat approxim…, step 10,000": which step a
    picture shows matters more than the end of a run's name)."""
    room = width - TITLE_MARGIN
    if len(title) <= room:
        return title
    head, comma, tail = title.rpartition(", ")
    if comma and room - len(tail) - len(comma) - 1 >= 4:
        return head[: room - len(tail) - len(comma) - 1] + "…" + comma + tail
    return title[: max(0, room - 1)] + "…"


def fitted_ticks(
    low: float, high: float, cells: int, *, log: bool = False, across: bool = True
) -> tuple[list[float], list[str]]:
    """An axis's ticks (`step_ticks`, or `log_ticks` for a log axis), as many as fit `cells` evenly
    (`spaced_ticks`; down, a label every other row at most): fewer, wider apart, rather than some of
    them dropped. A y axis (not `across`) is not held to whole numbers: 0 to 1 reads 0.0, 0.2, ... 1.0."""
    fitted: tuple[list[float], list[str]] = ([], [])
    for most in range(8, 1, -1):
        ticks = log_ticks(low, high, most) if log else step_ticks(low, high, most, whole=None if across else False)
        if not across and len(ticks[0]) > max(2, cells // 2):
            continue
        fitted = spaced_ticks(*ticks, low, high, cells, log=log, across=across)
        if len(fitted[0]) == len(ticks[0]):
            return fitted
    return fitted


def draw_lines(
    plt,
    lines: list[PlotLine],
    *,
    log_y: bool = False,
    markers: list[tuple[int, str]] = (),
    chance: float | None = None,
    mono: bool = False,
    labels: bool = False,
    line_marker: str = "braille",
) -> int:
    """Plot `lines` on `plt` (the plotext module, or a textual-plotext widget's `plt`); returns how
    many had points. Log axes get ticks in powers of ten; `markers` (a run's changed settings: step,
    label) are drawn as labelled vertical lines; `chance` as a horizontal one. `labels`: plotext's
    own legend, inside the plot (the figures here put theirs under it, off the data)."""
    drawn, xs_all, ys = 0, [], []
    for index, line in enumerate(lines):
        points = [(x, y) for x, y in line.points if math.isfinite(y) and (y > 0 or not log_y)]
        if not points:
            continue
        xs, values = zip(*points)
        xs_all += [xs[0], xs[-1]]
        ys += values
        marker = MONO_MARKERS[index % len(MONO_MARKERS)] if mono else line_marker
        plt.plot(list(xs), list(values), marker=marker, color=line.style.rgb, label=line.label if labels else None)
        drawn += 1
    if chance is not None and drawn and (chance > 0 or not log_y):
        plt.hline(chance, MARKER_GREY)
        ys.append(chance)
    if drawn:
        top, middle = max(ys), (min(xs_all) + max(xs_all)) / 2
        for step, label in markers:
            plt.vline(step, MARKER_GREY)
            # The label reads away from the nearer edge, so that it is never cut off.
            plt.text(label, step, top, color=MARKER_GREY, alignment="right" if step > middle else "left")
    if drawn and all(float(x).is_integer() for x in xs_all):  # steps: whole numbers on the axis
        plt.xticks(*step_ticks(min(xs_all), max(xs_all)))
    if log_y and drawn:
        plt.yscale("log")
        ticks, names = log_ticks(min(ys), max(ys))
        plt.yticks(ticks, names)
    return drawn


def legend(lines: list[PlotLine], chance: float | None = None, colour: bool = True) -> Text:
    """The figure's legend, as a line of text to put under it: a coloured mark and the label of each."""
    text = Text()
    for index, line in enumerate(line for line in lines if line.label):
        if index:
            text.append("   ")
        mark = "━━" if colour else MONO_MARKERS[index % len(MONO_MARKERS)].replace("braille", "⣿")
        text.append(mark, style=line.style.rich if colour else "")
        text.append(" " + line.label)
    if chance is not None:
        text.append(("   " if lines else "") + "┄┄ chance " + f"{chance:g}", style="dim")
    return text


def render_plot(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    *,
    x_label: str = "step",
    width: int = 80,
    height: int = 14,
    log_y: bool = False,
    markers: list[tuple[int, str]] = (),
    chance: float | None = None,
    marker: str = "braille",
) -> Text:
    """Lines of (x, y) points, one per label, with the legend under the plot; returned as Rich text.
    `marker`: plotext's ("braille" is finest; "hd" draws thicker lines, for a talk's projector)."""
    return render_lines(
        styled(series),
        title,
        x_label=x_label,
        width=width,
        height=height,
        log_y=log_y,
        markers=markers,
        chance=chance,
        marker=marker,
    )


def render_lines(
    lines: list[PlotLine],
    title: str,
    *,
    x_label: str = "step",
    width: int = 80,
    height: int = 14,
    log_y: bool = False,
    markers: list[tuple[int, str]] = (),
    chance: float | None = None,
    marker: str = "braille",
) -> Text:
    """`render_plot` for lines already styled (a band's edges share its mean's colour)."""
    plt = plotext  # plotext keeps one global figure; clear it first and build it to a string
    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    draw_lines(plt, lines, log_y=log_y, markers=markers, chance=chance, line_marker=marker)
    plt.title(fitted_title(title, width))
    plt.xlabel(x_label)
    figure = Text.from_ansi(plt.build())
    if len(lines) > 1 or chance is not None or markers:
        figure.append("\n")
        figure.append(legend(lines if len(lines) > 1 or chance is not None else [], chance))
    return figure


def family_figure(
    spec: FamilySpec, states: list[RunState], width: int, height: int = 14, marker: str = "braille"
) -> Text | None:
    """The family's first panel (accuracy for parity) against the step; None when there is no curve to show.
    Several seeds of one run: the panel's first metric, per seed when few, and their mean."""
    panel = spec.metrics[0].panel
    metrics = [m for m in spec.metrics if m.panel == panel and len(states[0].series.get(m.name, [])) >= 2]
    if not metrics:
        return None
    chance = next((m.chance for m in metrics if m.chance is not None), None)
    markers = states[0].change_markers()  # seeds trained together change together
    title = f"{states[0].label}: {panel}"
    if len(states) == 1:
        series = {m.label: states[0].series[m.name] for m in metrics}
        return render_plot(
            series,
            title,
            width=width,
            height=height,
            log_y=metrics[0].log_scale,
            markers=markers,
            chance=chance,
            marker=marker,
        )
    metric = metrics[0]
    if len(states) <= MAX_SEED_LINES:
        series = {f"seed {s.seed}": s.series.get(metric.name, []) for s in states}
        series[f"{metric.label}, mean"] = seed_band([s.series.get(metric.name, []) for s in states]).mean
        return render_plot(
            series,
            title,
            width=width,
            height=height,
            log_y=metric.log_scale,
            markers=markers,
            chance=chance,
            marker=marker,
        )
    band = seed_band([s.series.get(metric.name, []) for s in states])
    lines = band_lines(band, f"{metric.label}, mean of {len(states)} seeds", HUES[0])
    return render_lines(
        lines, title, width=width, height=height, log_y=metric.log_scale, markers=markers, chance=chance, marker=marker
    )


@dataclass
class Band:
    """Several seeds' values of one metric at the steps they all have: mean, lowest and highest."""

    mean: list[tuple[float, float]]
    low: list[tuple[float, float]]
    high: list[tuple[float, float]]


def seed_band(runs: list[list[tuple[float, float]]]) -> Band:
    """The mean and the min-max band of the seeds' (step, value) series. At each step any seed has, a
    seed counts with its latest value up to that step, if its series reaches that far (seeds trained one
    after another, or whose training averages were sent at other steps, still make one band)."""
    runs = [sorted(r) for r in runs if r]
    if not runs:
        return Band([], [], [])
    steps = sorted({x for points in runs for x, _ in points})
    mean, low, high = [], [], []
    for x in steps:
        values = []
        for points in runs:
            if points[0][0] <= x <= points[-1][0]:
                index = bisect.bisect_right(points, (x, math.inf)) - 1
                values.append(points[index][1])
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            mean.append((x, statistics.fmean(finite)))
            low.append((x, min(finite)))
            high.append((x, max(finite)))
    return Band(mean, low, high)


def band_lines(band: Band, label: str, rgb: tuple[int, int, int], edges: str = "min-max over seeds") -> list[PlotLine]:
    """A band drawn as lines: its edges in a light shade of the mean's colour, then the mean over them."""
    light = tuple(round(c + (255 - c) * 0.55) for c in rgb)
    return [
        PlotLine(edges, band.low, LineStyle(light, 1)),
        PlotLine("", band.high, LineStyle(light, 1)),
        PlotLine(label, band.mean, LineStyle(rgb, 0)),
    ]


def overlay_figure(
    title: str,
    metric: str,
    states: dict[str, RunState],
    specs,
    *,
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
        chance=described.chance if described else None,
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
