"""A "lines" snapshot drawn as a plotext plot: decoded curves, a sweep, a prediction."""

from __future__ import annotations

import math
from typing import Any

from gradfail_tui.explorer.widgets.cached_plot import CachedPlot


class LinesPlot(CachedPlot):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="snapshot-body")
        self.data: dict[str, Any] = {}

    def set_data(self, data: dict[str, Any]) -> None:
        self.data = data
        self.replot()

    def draw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        for index, series in enumerate(self.data.get("series") or []):
            pairs = [(x, y) for x, y in zip(series.get("x") or [], series.get("y") or []) if _finite(x) and _finite(y)]
            if pairs:
                plt.plot(
                    [x for x, _ in pairs],
                    [y for _, y in pairs],
                    label=str(series.get("label", "")),
                    marker=self.marker(index),
                )
        if self.data.get("x_label"):
            plt.xlabel(str(self.data["x_label"]))
        if self.data.get("y_label"):
            plt.ylabel(str(self.data["y_label"]))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
