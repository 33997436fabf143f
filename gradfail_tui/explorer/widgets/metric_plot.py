"""One metric panel: the family's metrics that share a `MetricSpec.panel`, for one run or several."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.markup import escape
from textual.reactive import reactive

from gradfail_tui.explorer.widgets.cached_plot import CachedPlot
from gradfail_tui.render.colours import LineStyle, line_styles
from gradfail_tui.render.plots import PlotLine, draw_lines


@dataclass
class Line:
    label: str
    points: list[tuple[int, float]]  # (step, value), as RunState.series keeps them
    style: LineStyle | None = None  # None: the style its place among the panel's lines gives it


def thin(points: list[tuple[int, float]], most: int) -> list[tuple[int, float]]:
    """At most about `most` points, evenly strided, always keeping the newest one."""
    if len(points) <= most or most < 2:
        return points
    stride = math.ceil(len(points) / most)
    kept = points[::stride]
    return kept if kept[-1] == points[-1] else kept + [points[-1]]


class MetricPlot(CachedPlot):
    can_focus = True
    log_y: reactive[bool] = reactive(False)

    def __init__(self, panel: str, log_y: bool = False, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel metric-plot")
        self.panel = panel
        self.lines: list[Line] = []
        self.markers: list[str] = []  # the marker of each line drawn last
        self.changes: list[tuple[int, str]] = []  # (step, label) of the primary run's changed settings
        self.chance: float | None = None
        self.set_reactive(MetricPlot.log_y, log_y)
        self.border_title = panel + (" (log)" if log_y else "")

    def set_lines(self, lines: list[Line], changes: list[tuple[int, str]] = (), chance: float | None = None) -> None:
        self.lines, self.changes, self.chance = lines, list(changes), chance

    @property
    def point_count(self) -> int:
        return sum(len(line.points) for line in self.lines)

    def watch_log_y(self, log_y: bool) -> None:
        self.border_title = self.panel + (" (log)" if log_y else "")
        self.replot()

    def draw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        most = max(16, 2 * (self.size.width or 60))  # braille: two dots a column
        styles = line_styles([line.label for line in self.lines])
        lines = [
            PlotLine(line.label, thin(line.points, most), line.style or style)
            for line, style in zip(self.lines, styles)
        ]
        mono = getattr(self.app, "no_color", False)
        drawn = draw_lines(
            plt, lines, log_y=self.log_y, markers=self.changes, chance=self.chance, mono=mono, labels=False
        )
        self.markers = [self.marker(i) for i, line in enumerate(lines) if line.points][:drawn]
        # The legend goes under the plot, in its border, never over the data.
        shown = [line for line in lines if line.label and line.points]
        if len(shown) > 1 or self.chance is not None:
            parts = [
                f"[{line.style.rich}]━[/] {escape(line.label)}" if not mono else escape(line.label) for line in shown
            ]
            if self.chance is not None:
                parts.append(f"[dim]┄ chance {self.chance:g}[/dim]")
            self.border_subtitle = "  ".join(parts)
        else:
            self.border_subtitle = ""
        plt.xlabel("step")
        if not drawn:
            plt.title("waiting for points")
