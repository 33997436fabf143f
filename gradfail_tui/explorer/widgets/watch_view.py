"""The watch view: one plot per metric panel and one panel per snapshot, for the runs on screen.

Panels come from the families' MetricSpecs (metrics sharing `panel` share a plot) and snapshots
from the Snapshot events, so any family is drawn without UI code of its own. With several runs
(the primary one and those added to the comparison) every plot overlays them, with a legend.
A group preset on screen limits the panels to its `plot` metrics, one panel each; one that declares
the paper's figure has it drawn above this view instead (figure_view.py), and here only its pictures.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.registry import FamilySpec, MetricSpec
from gradfail_tui.explorer.entries import RunEntry
from gradfail_tui.explorer.widgets.metric_plot import Line, MetricPlot
from gradfail_tui.explorer.widgets.snapshot_panel import SnapshotPanel
from gradfail_tui.render.colours import HUES, LineStyle
from gradfail_tui.render.format import unique_name
from gradfail_tui.render.plots import band_lines, seed_band

EMPTY = "Nothing to watch yet: start a run with [b]s[/b], or open one on [b]Runs[/b] (key 3)."


def metric_specs(entry: RunEntry, families: dict[str, FamilySpec]) -> list[MetricSpec]:
    """The run's metrics, as its family declares them; any undeclared one gets a panel of its own."""
    spec = families.get(entry.state.family)
    declared = list(spec.metrics) if spec else []
    known = {m.name for m in declared}
    return declared + [MetricSpec(name, name, name) for name in entry.state.series if name not in known]


def panel_lines(
    entries: list[RunEntry], families: dict[str, FamilySpec], metrics: tuple[str, ...] = ()
) -> dict[str, tuple[list[Line], bool]]:
    """panel -> (its lines, whether it starts on a log axis), in the order the families declare them.

    With `metrics` (a group's `plot`), only those, each in a panel of its own named by its label."""
    panels: dict[str, tuple[list[Line], bool]] = {}
    names: list[str] = []  # what the legend calls each run: its label, made unique
    for entry in entries:
        name = unique_name(entry.label, names, "{name} ({n})")
        names.append(name)
        specs = metric_specs(entry, families)
        if metrics:
            known = {m.name: m for m in specs}
            specs = [known.get(name, MetricSpec(name, name, name)) for name in metrics]
            specs = [MetricSpec(m.name, m.label, m.label, log_scale=m.log_scale) for m in specs]
        per_panel = {m.panel: sum(1 for n in specs if n.panel == m.panel) for m in specs}
        for m in specs:
            lines, log = panels.setdefault(m.panel, ([], False))
            panels[m.panel] = (lines, log or m.log_scale)
            if len(entries) == 1 and not metrics:  # a group's lines go by their runs, even the first alone
                label = m.label
            else:
                label = name if per_panel[m.panel] == 1 else f"{name} {m.label}"
            lines.append(Line(label, entry.state.series.get(m.name, [])))
    return panels


PICKED = LineStyle(HUES[3], 0)  # a seed picked out of a band: orange, apart from the bands' hues


def band_panels(
    entries: list[RunEntry], families: dict[str, FamilySpec], picked: RunEntry | None = None
) -> dict[str, tuple[list[Line], bool]]:
    """Seeds of one config: each metric as its seeds' mean over their min-max band, and the seed
    picked out (if any) over them; panel -> (its lines, whether it starts on a log axis)."""
    panels: dict[str, tuple[list[Line], bool]] = {}
    count = 0
    for m in metric_specs(entries[0], families):
        runs = [e.state.series.get(m.name, []) for e in entries]
        if not any(runs) and m.name not in entries[0].state.series and panels.get(m.panel):
            continue
        lines, log = panels.setdefault(m.panel, ([], False))
        panels[m.panel] = (lines, log or m.log_scale)
        hue = HUES[[0, 1, 2, 4, 5][count % 5]]  # orange is the picked seed's
        count += 1
        band = seed_band(runs)
        edges = f"{m.label} min-max of {len(entries)}"
        for line in band_lines(band, f"{m.label} mean", hue, edges=edges):
            lines.append(Line(line.label, line.points, line.style))
        if picked is not None:
            lines.append(Line(f"{picked.label}: {m.label}", picked.state.series.get(m.name, []), PICKED))
    return panels


def panel_chances(
    entries: list[RunEntry], families: dict[str, FamilySpec], metrics: tuple[str, ...] = ()
) -> dict[str, float]:
    """panel -> the chance level of a metric in it (parity's accuracy: 0.5), drawn as a line."""
    chances: dict[str, float] = {}
    for entry in entries:
        for m in metric_specs(entry, families):
            if m.chance is not None and (not metrics or m.name in metrics):
                chances.setdefault(m.label if metrics else m.panel, m.chance)
    return chances


class WatchView(VerticalScroll):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plots: dict[str, MetricPlot] = {}
        self.snapshot_panels: dict[str, SnapshotPanel] = {}
        self._layout: list[str] = []
        self.add_class("-empty")

    def compose(self):
        yield Static(EMPTY, id="watch-empty")

    def show(
        self,
        entries: list[RunEntry],
        families: dict[str, FamilySpec],
        *,
        metrics: tuple[str, ...] = (),
        snapshots_of: RunEntry | None = None,
        log_y: bool = False,
        band: bool = False,
        picked: RunEntry | None = None,
        beside_figure: bool = False,
    ) -> None:
        """Draw these runs, with the snapshots of the first (the primary one).

        A group passes `metrics` (its `plot`: only these panels), `snapshots_of` (the run whose
        snapshots are shown, or None for none) and `log_y` (its panels start on a log axis). Under a
        group's figure (`beside_figure`, no runs), only the snapshots of `snapshots_of`; none, and the
        view is hidden."""
        self.set_class(beside_figure, "-beside-figure")
        if band and entries:  # seeds of one config: mean and band, every panel of the family
            panels, metrics = band_panels(entries, families, picked), ()
        else:
            panels = panel_lines(entries, families, metrics) if entries else {}
        if log_y:
            panels = {name: (lines, True) for name, (lines, _) in panels.items()}
        # A panel none of these runs has a point for (a diagnostic switched off) is left out,
        # unless nothing has points yet: then every panel says it is waiting.
        with_points = {name: v for name, v in panels.items() if any(line.points for line in v[0])}
        panels = with_points or panels
        # A group's figure shows snapshots only of the run it names; a single run, its own.
        source = snapshots_of if metrics or snapshots_of is not None else (entries[0] if entries else None)
        snapshots = source.state.snapshots if source is not None else {}
        layout = [f"plot:{p}" for p in panels] + [f"snapshot:{n}" for n in snapshots]
        if layout != self._layout:
            self._rebuild(panels, list(snapshots), layout)
        chances = panel_chances(entries, families, metrics)
        changes = entries[0].state.change_markers() if entries else []  # the primary run's
        for name, (lines, _) in panels.items():
            plot = self.plots[name]
            plot.set_lines(lines, changes, chances.get(name))
            plot.replot()
        for name, snapshot in snapshots.items():
            self.snapshot_panels[name].show(snapshot)

    def _rebuild(
        self, panels: dict[str, tuple[list[Line], bool]], snapshot_names: list[str], layout: list[str]
    ) -> None:
        keep_log = {name: plot.log_y for name, plot in self.plots.items()}
        for widget in [*self.plots.values(), *self.snapshot_panels.values()]:
            widget.remove()
        # No ids: the widgets being removed may still be in the DOM when the new ones mount.
        self.plots = {name: MetricPlot(name, keep_log.get(name, log)) for name, (_, log) in panels.items()}
        self.snapshot_panels = {name: SnapshotPanel(name) for name in snapshot_names}
        widgets = [*self.plots.values(), *self.snapshot_panels.values()]
        if widgets:
            self.mount_all(widgets)
        self._layout = layout
        count = len(widgets)
        self.set_class(count == 0, "-empty")
        self.set_class(count == 1, "-single")  # one panel: the whole width
        # Textual CSS has no "number of children" selector: the grid's rows are set by class.
        for n in (1, 2, 3):
            self.set_class(count and (count + 1) // 2 == n, f"-rows-{n}")
        self.set_class((count + 1) // 2 > 3, "-rows-many")

    def toggle_log(self, focused: MetricPlot | None) -> bool:
        """Log scale on the focused plot, or on all of them; returns the new setting."""
        targets = [focused] if focused is not None else list(self.plots.values())
        if not targets:
            return False
        value = not all(plot.log_y for plot in targets)
        for plot in targets:
            plot.log_y = value
        return value
