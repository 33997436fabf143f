"""A group's figure, declared once as the paper draws it, and the numbers each surface draws from it.

A group preset (presets/fig-*.toml) ends with a `[figure]` table: what the paper's figure shows,
written as data beside the runs and claims it depends on, so that the talk, the explorer, the
headless display and the report draw the same picture (docs/architecture.md says why TOML):

    [figure]
    name = "figure-3"                            # the files it is written to: figure-3.svg, .pdf, .png
    title = "Figure 3: tuple accuracy, one panel per k"
    panels = { vary = "k", values = [1, 2, 3, 4] }   # small multiples: one panel per value of k
    x = { quantity = "step", name = "training iteration" }
    y = { quantity = "test_acc", name = "tuple test accuracy" }   # and unit = "...", log = true
    series = [                                   # "{k}" is the panel's value
        { name = "end-to-end", run = "k = {k}, end-to-end", colour = "red" },
        { name = "decomposition", run = "k = {k}, decomposition", colour = "blue" },
    ]
    references = [{ name = "chance", value = 0.5 }]
    caption = "Figure 3: Performance comparison, ..."   # the paper's own words, quoted (optional)

The x quantity is `step` (a metric against the training step), a metric (each evaluation's `y`
against its `x`: Theorem 1's variance against d), or a name with `values` (each series' metric names
it, "e2e_k{k}", and each value of it gives one point, the metric's last value: Figure 5's SNR against
k). A series draws `metric` (default: y's quantity) of `run` (default: the group's only run). A
reference is a constant (`value`: chance, float32's precision) or a metric (`metric`: the bound
G^2/2^d drawn against x; against an index, its last value as a level: the estimator's resolution),
drawn dashed and grey. Colours are named (`COLOURS`); a series without one gets the next free hue.
A run of several seeds is drawn as their mean, or with `seeds = "each"` each seed as its own line in
the series' colour (Figure 3 at --scale cpu: where learning is luck, a few seeds jump and the rest
stay at chance, and a mean would draw a slow rise that no seed made).

`picture = { snapshot = "curves", runs = [...], steps = [500, 10000, 50000] }` draws recorded
pictures ("lines" snapshots) instead: one panel per run and chosen step (the latest snapshot at or
before it; "last" for the run's last), each series matched to the snapshot's by `match` (its
"group", else the start of its label). Figure 6's decoded curves and Figure 7's staircases are these.

`caption` quotes the paper: its caption of the figure, or, for a result the paper draws no figure
of (Theorem 1, Theorem 2, Section 2's wider and deeper networks), the sentence the group checks and
where it stands. docs/gallery.md sets it beside gradfail's version of the figure; every shipped
group declares one.

`parse_figure` checks a declaration against the group's runs and their families' metrics (errors
name the key); `figure_data` turns it and the runs' states into panels of points, for any surface.
Torch-free, and no drawing here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.presets import check_keys

if TYPE_CHECKING:
    from engine.events import Snapshot
    from engine.registry import FamilySpec
    from engine.state import RunState

# The colours a declaration may name: the paper's red and blue, and others for what it does not name.
# gradfail_tui.render.colours gives each its RGB (one definition per surface's palette).
COLOURS = ("blue", "red", "green", "orange", "purple", "cyan", "yellow", "grey")
STEP = "step"
LAST = "last"
FLOAT32_EPS = 2.0**-23  # float32's precision: 1.19e-7 (Figure 5's end-to-end SNR falls below it from k = 3)

FIGURE_KEYS = {
    "name": str,
    "title": str,
    "x": dict,
    "y": dict,
    "panels": dict,
    "series": list,
    "references": list,
    "picture": dict,
    "caption": str,
    "seeds": str,
}
SEEDS_DRAWN = ("mean", "each")  # a run of several seeds: their mean, or each seed its own line
AXIS_KEYS = {"quantity": str, "name": str, "unit": str, "log": bool, "values": list}
PANELS_KEYS = {"vary": str, "values": list}
SERIES_KEYS = {"name": str, "run": str, "metric": str, "colour": str, "dashed": bool, "match": str}
REFERENCE_KEYS = {"name": str, "value": (int, float), "metric": str, "run": str}
PICTURE_KEYS = {"snapshot": str, "runs": list, "steps": list}


@dataclass(frozen=True)
class Axis:
    quantity: str  # "step", a metric's name ("d"), or an index's name ("k", with `values`)
    name: str  # for people: "training iteration", "d (input bits)"
    unit: str = ""
    log: bool = False
    values: tuple[Any, ...] = ()  # an index's values (Figure 5: k = 1..4)

    @property
    def label(self) -> str:
        """The axis's title: its name, and its unit in brackets."""
        return self.name + (f" [{self.unit}]" if self.unit else "")


@dataclass(frozen=True)
class Series:
    name: str  # the legend's: "end-to-end", "d = 5"
    run: str = ""  # a run's label; "{k}" is the panel's value
    metric: str = ""  # a metric's name; "{k}" is the x index's value
    colour: str = ""  # one of COLOURS, or "" for the next free hue
    dashed: bool = False
    match: str = ""  # a picture's series: the snapshot series' group, or the start of its label


@dataclass(frozen=True)
class Reference:
    name: str  # "chance", "Theorem 1's bound G²/2^d"
    value: float | None = None
    metric: str = ""
    run: str = ""


@dataclass(frozen=True)
class Picture:
    snapshot: str  # a "lines" snapshot's name: "curves", "staircase"
    runs: tuple[str, ...]  # one row of panels each
    steps: tuple[int | str, ...] = (LAST,)  # one panel per step and run


@dataclass(frozen=True)
class Figure:
    name: str  # the files' stem: "figure-1"
    title: str
    x: Axis
    y: Axis
    series: tuple[Series, ...]
    references: tuple[Reference, ...] = ()
    vary: str = ""  # what varies across the panels ("k"), with its values
    values: tuple[Any, ...] = ()
    picture: Picture | None = None
    declared: bool = True  # False: made from the group's `plot` (no [figure] table)
    caption: str = ""  # the paper's caption, quoted ("" where the preset gives none)
    seeds: str = "mean"  # a run of several seeds drawn as their mean, or "each" seed as its own line

    def panels(self) -> list[tuple[str, list[Series]]]:
        """(title, its series with the panel's value put in) for each panel of a plot (not a picture)."""
        if not self.vary:
            return [("", list(self.series))]
        return [
            (f"{self.vary} = {value}", [_replace(s, run=fill(s.run, self.vary, value)) for s in self.series])
            for value in self.values
        ]

    def series_metrics(self, series: Series) -> list[str]:
        """The metric names a series reads: one, or one per value of an index x."""
        metric = series.metric or self.y.quantity
        if self.x.values:
            return [fill(metric, self.x.quantity, v) for v in self.x.values]
        return [metric]

    def legend(self) -> list[Series]:
        """Each series once, by name, in the declared order (a picture's and a panel's alike)."""
        seen: dict[str, Series] = {}
        for series in self.series:
            seen.setdefault(series.name, series)
        return list(seen.values())


def fill(template: str, name: str, value: Any) -> str:
    return template.replace("{" + name + "}", str(value))


def _replace(series: Series, **changes: Any) -> Series:
    return Series(**{**series.__dict__, **changes})


# ---- reading -----------------------------------------------------------------------------------


def parse_figure(
    table: Any, families: Mapping[str, FamilySpec], plot: tuple[str, ...] = (), log_y: bool = False
) -> tuple[Figure | None, list[str]]:
    """The group's figure from its `[figure]` table (None: made from `plot`, if any) and what is wrong
    with it, one line per problem, each naming its key (figure.series[2].run: ...).

    `families` maps each run's declared label to its family, as the claims are checked."""
    if table is None:
        return default_figure(plot, log_y, families), []
    if not isinstance(table, dict):
        return None, ["figure: expected a [figure] table"]
    problems = check_keys(table, FIGURE_KEYS, "figure.")
    for key in ("name", "title", "x", "y"):
        if key not in table:
            problems.append(f"figure.{key}: missing (a figure names itself, its title and both axes)")
    if problems:
        return None, problems
    x, more = parse_axis(table["x"], "figure.x")
    y, also = parse_axis(table["y"], "figure.y")
    problems += more + also
    vary, values = "", ()
    if "panels" in table:
        panels = table["panels"]
        problems += check_keys(panels, PANELS_KEYS, "figure.panels.")
        vary, values = panels.get("vary", ""), tuple(panels.get("values", ()))
        if not vary or not values:
            problems.append('figure.panels: give vary = "NAME" and values = [...] (one panel per value)')
    if table.get("seeds", "mean") not in SEEDS_DRAWN:
        problems.append(f"figure.seeds: {table['seeds']!r} is not one of {', '.join(map(repr, SEEDS_DRAWN))}")
    picture = None
    if "picture" in table:
        picture, more = parse_picture(table["picture"], families)
        problems += more
    series = []
    raw = table.get("series", [])
    if not raw or not all(isinstance(s, dict) for s in raw):
        problems.append("figure.series: expected a list of { name = ..., ... } tables, one per series")
        raw = []
    for number, item in enumerate(raw, 1):
        where = f"figure.series[{number}]."
        more = check_keys(item, SERIES_KEYS, where)
        if not item.get("name"):
            more.append(f"{where}name: missing (every series is named, as its legend says)")
        if item.get("colour", "") and item["colour"] not in COLOURS:
            more.append(f"{where}colour: {item['colour']!r} is not one of {', '.join(COLOURS)}")
        if picture is not None and not item.get("match"):
            more.append(f"{where}match: missing (which of the picture's series this is: its group or label)")
        if picture is None and "match" in item:
            more.append(f"{where}match: only a picture's series match a snapshot's")
        problems += more
        if not more:
            series.append(Series(**item))
    references = []
    for number, item in enumerate(table.get("references", []), 1):
        where = f"figure.references[{number}]."
        if not isinstance(item, dict):
            problems.append(f"{where[:-1]}: expected {{ name = ..., value = ... }} or {{ name = ..., metric = ... }}")
            continue
        more = check_keys(item, REFERENCE_KEYS, where)
        if not item.get("name"):
            more.append(f"{where}name: missing (a reference line is named in the legend)")
        if ("value" in item) == ("metric" in item):
            more.append(f"{where}give exactly one of value = NUMBER or metric = NAME")
        problems += more
        if not more:
            references.append(Reference(**{**item, "value": float(item["value"]) if "value" in item else None}))
    if problems:
        return None, problems
    figure = Figure(
        table["name"],
        table["title"],
        x,
        y,
        tuple(series),
        tuple(references),
        vary,
        values,
        picture,
        caption=table.get("caption", "").strip(),
        seeds=table.get("seeds", "mean"),
    )
    return figure, check_against_runs(figure, families)


def parse_axis(table: dict[str, Any], where: str) -> tuple[Axis, list[str]]:
    problems = check_keys(table, AXIS_KEYS, where + ".")
    if not table.get("name"):
        problems.append(f"{where}.name: missing (every axis names its quantity)")
    values = table.get("values", [])
    if not all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in values):
        problems.append(f"{where}.values: expected a list of numbers or words")
    if problems:
        return Axis("", ""), problems
    return Axis(
        table.get("quantity", ""), table["name"], table.get("unit", ""), table.get("log", False), tuple(values)
    ), []


def parse_picture(table: dict[str, Any], families: Mapping[str, FamilySpec]) -> tuple[Picture | None, list[str]]:
    problems = check_keys(table, PICTURE_KEYS, "figure.picture.")
    runs, steps = table.get("runs", []), table.get("steps", [LAST])
    if not table.get("snapshot"):
        problems.append('figure.picture.snapshot: missing (the "lines" snapshot drawn: "curves", "staircase")')
    if not runs:
        problems.append("figure.picture.runs: expected the runs' labels, one row of panels each")
    problems += [f"figure.picture.runs: no run is labelled {r!r}" for r in runs if r not in families]
    if not steps or not all((isinstance(s, int) and not isinstance(s, bool) and s >= 0) or s == LAST for s in steps):
        problems.append(f'figure.picture.steps: expected steps (whole numbers) or "{LAST}"')
    if problems:
        return None, problems
    return Picture(table["snapshot"], tuple(runs), tuple(steps)), []


def check_against_runs(figure: Figure, families: Mapping[str, FamilySpec]) -> list[str]:
    """Every series' run exists and its family has the metrics it reads; so has the x metric, and a reference's."""
    if figure.picture is not None:
        return []
    problems = []
    only = next(iter(families)) if len(families) == 1 else ""
    for number, series in enumerate(figure.series, 1):
        where = f"figure.series[{number}]."
        if not series.run and not only:
            problems.append(f"{where}run: missing (the group has {len(families)} runs: name the one drawn)")
            continue
        for _, resolved in figure.panels():
            run = resolved[number - 1].run or only
            spec = families.get(run)
            if spec is None:
                problems.append(f"{where}run: no run is labelled {run!r}")
                continue
            names = figure.series_metrics(resolved[number - 1])
            if figure.x.quantity != STEP and not figure.x.values:
                names.append(figure.x.quantity)
            problems += [
                f"{where}metric: {name!r} is not a metric of {run!r} ({spec.name})"
                for name in names
                if spec.metric(name) is None
            ]
    for number, ref in enumerate(figure.references, 1):
        if ref.metric and not any(spec.metric(ref.metric) for spec in families.values()):
            problems.append(f"figure.references[{number}].metric: {ref.metric!r} is not a metric of any run")
        if ref.run and ref.run not in families:
            problems.append(f"figure.references[{number}].run: no run is labelled {ref.run!r}")
    return list(dict.fromkeys(problems))


def default_figure(plot: tuple[str, ...], log_y: bool, families: Mapping[str, FamilySpec]) -> Figure | None:
    """A group without a [figure] table: its first plotted metric against the step, every run a series."""
    if not plot:
        return None
    metric = next((spec.metric(plot[0]) for spec in families.values() if spec.metric(plot[0])), None)
    chance = metric.chance if metric is not None else None
    return Figure(
        name=plot[0],
        title=metric.label if metric else plot[0],
        x=Axis(STEP, "training step"),
        y=Axis(plot[0], metric.label if metric else plot[0], log=log_y or bool(metric and metric.log_scale)),
        series=tuple(Series(label, run=label) for label in families),
        references=(Reference("chance", chance),) if chance is not None else (),
        declared=False,
    )


# ---- the numbers drawn -------------------------------------------------------------------------

Points = list[tuple[float, float]]


@dataclass
class Line:
    name: str
    points: Points
    colour: str = ""  # one of COLOURS; "" for the surface's next free hue
    dashed: bool = False
    reference: bool = False  # a reference line (grey, dashed, named in the legend)
    one_seed: bool = False  # one of a run's several seeds, drawn each (`seeds = "each"`)

    @property
    def drawn_dashed(self) -> bool:
        """Drawn dashed (or dotted, in a terminal): declared so, or a reference line."""
        return self.dashed or self.reference


@dataclass
class Panel:
    title: str
    lines: list[Line] = field(default_factory=list)
    levels: list[tuple[str, float]] = field(default_factory=list)  # horizontal reference lines: (name, y)
    note: str = ""  # what is missing from it (no run recorded this)
    spacer: bool = False  # an empty cell that keeps a picture's rows one per run

    @property
    def empty(self) -> bool:
        return not any(line.points for line in self.lines)


@dataclass
class FigureData:
    figure: Figure
    panels: list[Panel]
    columns: int = 1  # panels in a row, where there is room: every panel, or a picture's steps

    def y_range(self) -> tuple[float, float] | None:
        """The lowest and highest y of every panel (levels included), so that panels share their y-axis."""
        ys = [y for p in self.panels for line in p.lines for _, y in line.points if math.isfinite(y)]
        ys += [y for p in self.panels if any(line.points for line in p.lines) for _, y in p.levels]
        return (min(ys), max(ys)) if ys else None

    def legend(self) -> list[Line]:
        """Every named line once (series, then references), for a legend beside the panels."""
        seen: dict[str, Line] = {}
        for panel in self.panels:
            for line in panel.lines:
                if line.name and line.points:
                    seen.setdefault(line.name, Line(line.name, [], line.colour, line.dashed, line.reference))
        for panel in self.panels:
            for name, _ in panel.levels:
                seen.setdefault(name, Line(name, [], "grey", True, True))
        series = [line for line in seen.values() if not line.reference]
        return series + [line for line in seen.values() if line.reference]


def figure_data(
    figure: Figure,
    states: Mapping[str, RunState],
    snapshots: Mapping[str, list[Snapshot]] | None = None,
) -> FigureData:
    """The panels of `figure` from the runs' states (as recorded, replayed or training live). A run of
    several seeds ("d = 30 (seed 0)", ...) is drawn as their mean, or each seed as its own line under
    the series' name where the figure says `seeds = "each"` (where learning is luck, a mean would draw a
    slow rise that no seed made). `snapshots`: every snapshot each run recorded, in order (for a
    picture's chosen steps); without them, each run's latest."""
    if figure.picture is not None:
        rows = picture_panels(figure, states, snapshots or {})
        columns = max(len(row) for row in rows) if rows else 1
        if columns == 1:  # one picture per run (Figure 7): the runs side by side, as the paper's panels
            return FigureData(figure, [cell for row in rows for cell in row], len(rows))
        panels = [cell for row in rows for cell in row + [Panel("", spacer=True)] * (columns - len(row))]
        return FigureData(figure, panels, columns)
    only = next(iter(_declared_labels(states)), "") if len(_declared_labels(states)) == 1 else ""
    panels = []
    for title, series_list in figure.panels():
        panel = Panel(title)
        for series in series_list:
            drawn = [series_points(figure, series, state) for state in _seed_states(states, series.run or only)]
            each = [points for points in drawn if points] if figure.seeds == "each" else []
            for points in each or [_mean(drawn)]:
                panel.lines.append(Line(series.name, points, series.colour, series.dashed, one_seed=len(each) > 1))
        for ref in figure.references:
            add_reference(figure, panel, ref, states, [s.run or only for s in series_list])
        if panel.empty:
            panel.note = "nothing recorded yet"
        panels.append(panel)
    return FigureData(figure, panels, len(panels))


def series_points(figure: Figure, series: Series, state: RunState) -> Points:
    metrics = figure.series_metrics(series)
    if figure.x.values:
        points = []
        for value, name in zip(figure.x.values, metrics):
            if state.series.get(name) and isinstance(value, (int, float)):
                points.append((float(value), state.series[name][-1][1]))
        return points
    values = state.series.get(metrics[0], [])
    if figure.x.quantity == STEP:
        return [(float(s), v) for s, v in values]
    xs = dict(state.series.get(figure.x.quantity, []))
    return sorted((xs[s], v) for s, v in values if s in xs)


def add_reference(figure: Figure, panel: Panel, ref: Reference, states, runs: list[str]) -> None:
    if ref.value is not None:
        panel.levels.append((ref.name, ref.value))
        return
    for label in [ref.run] if ref.run else runs:
        for state in _seed_states(states, label)[:1]:
            values = state.series.get(ref.metric)
            if not values:
                continue
            if figure.x.values:
                panel.levels.append((ref.name, values[-1][1]))
            else:
                points = series_points(figure, Series(ref.name, metric=ref.metric), state)
                panel.lines.append(Line(ref.name, points, "grey", True, reference=True))
            return


def picture_panels(
    figure: Figure, states: Mapping[str, RunState], snapshots: Mapping[str, list[Snapshot]]
) -> list[list[Panel]]:
    """One row of panels per run: its pictures at the chosen steps."""
    picture = figure.picture
    assert picture is not None
    rows = []
    for run in picture.runs:
        panels: list[Panel] = []
        rows.append(panels)
        labels = [run] if run in states else [label for label in states if label.startswith(run + " (seed ")][:1]
        label = labels[0] if labels else run
        history = [s for s in snapshots.get(label, []) if s.name == picture.snapshot]
        if not history and label in states and picture.snapshot in states[label].snapshots:
            history = [states[label].snapshots[picture.snapshot]]
        shown: list[int] = []
        for step in picture.steps:
            chosen = _at_step(history, step)
            if chosen is None:
                if not history:
                    panels.append(Panel(f"{run}", note="no picture recorded yet"))
                    break
                continue
            if chosen.step in shown:
                continue
            shown.append(chosen.step)
            panels.append(Panel(f"{run}, step {chosen.step:,}", picture_lines(figure, chosen)))
    return rows


def _at_step(history: list[Snapshot], step: int | str) -> Snapshot | None:
    if not history:
        return None
    if step == LAST:
        return history[-1]
    before = [s for s in history if s.step <= step]
    return before[-1] if before else history[0]


def picture_lines(figure: Figure, snap: Snapshot) -> list[Line]:
    """A "lines" snapshot's series under the declared names (matched by group, else label), in the
    declared order; one the declaration does not match keeps its own label."""
    lines = []
    for item in snap.data.get("series", []):
        if not isinstance(item, dict):
            continue
        label, group = str(item.get("label", "")), str(item.get("group", ""))
        points = [
            (float(x), float(y))
            for x, y in zip(item.get("x", []), item.get("y", []))
            if isinstance(x, (int, float)) and isinstance(y, (int, float))
        ]
        declared = next(
            (s for s in figure.series if s.match == group or label.lower().startswith(s.match.lower())), None
        )
        if declared is None:
            lines.append(Line(label, points))
        else:
            lines.append(Line(declared.name, points, declared.colour, declared.dashed))
    order = [s.name for s in figure.series]
    return sorted(lines, key=lambda line: order.index(line.name) if line.name in order else len(order))


def _declared_labels(states: Mapping[str, RunState]) -> list[str]:
    return list(dict.fromkeys(label.split(" (seed ")[0] for label in states))


def _seed_states(states: Mapping[str, RunState], label: str) -> list[RunState]:
    """The run `label`'s state, or its seeds' ("label (seed N)")."""
    if label in states:
        return [states[label]]
    return [state for name, state in states.items() if name.startswith(label + " (seed ")]


def _mean(runs: list[Points]) -> Points:
    """One run's points as they are; several seeds' as their mean at each x they all have."""
    runs = [r for r in runs if r]
    if len(runs) <= 1:
        return runs[0] if runs else []
    common = set.intersection(*({x for x, _ in r} for r in runs))
    by_x: dict[float, list[float]] = {}
    for r in runs:
        for x, y in r:
            if x in common and math.isfinite(y):
                by_x.setdefault(x, []).append(y)
    return [(x, statistics.fmean(ys)) for x, ys in sorted(by_x.items())]
