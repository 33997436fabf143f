"""One metric panel: the family's metrics that share a `MetricSpec.panel`, for one run or several."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.reactive import reactive

from gradfail_tui.explorer.widgets.cached_plot import CachedPlot


@dataclass
class Line:
    label: str
    points: list[tuple[int, float]]  # (step, value), as RunState.series keeps them


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
        self.set_reactive(MetricPlot.log_y, log_y)
        self.border_title = panel + (" (log)" if log_y else "")

    def set_lines(self, lines: list[Line]) -> None:
        self.lines = lines

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
        drawn = 0
        self.markers = []
        for index, line in enumerate(self.lines):
            points = [(s, v) for s, v in line.points if math.isfinite(v) and (v > 0 or not self.log_y)]
            points = thin(points, most)
            if not points:
                continue
            self.markers.append(self.marker(index))
            plt.plot([s for s, _ in points], [v for _, v in points], label=line.label, marker=self.markers[-1])
            drawn += 1
        if self.log_y and drawn:
            plt.yscale("log")
        plt.xlabel("step")
        if not drawn:
            plt.title("waiting for points")
