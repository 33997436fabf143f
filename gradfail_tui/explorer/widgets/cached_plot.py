"""A PlotextPlot that builds its figure only when its data, size or theme changed.

textual-plotext builds the whole figure on every render, and Textual renders a widget again for
reasons that have nothing to do with its data (a neighbour's layout, a tab switch); a figure is
10-30 ms of pure Python. Here `replot()` only says the data changed; the figure is drawn at the
next render that needs it: `draw()` (clear, plot: textual-plotext's own pattern, on `self.plt`,
never the global plotext module) and then the build. Drawing again from the data every time
matters for more than speed: plotext turns the y values of a log axis to logs in place when it
builds, so building one figure twice takes the log of a log.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from gradfail_tui.explorer.pacing import Paced
from gradfail_tui.render.plots import MONO_MARKERS  # tell runs apart where colour cannot (NO_COLOR)


class CachedPlot(Paced, PlotextPlot):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._version = 0
        self._cache_key: tuple | None = None
        self._cache: Text | None = None

    def on_unmount(self) -> None:
        # PlotextPlot subscribes to the app's theme signal on mount (a lambda over the plot) and
        # never unsubscribes; the signal's WeakKeyDictionary cannot drop an entry whose value holds
        # its key (python/cpython#88846), so without this every plot the watch view replaces
        # would live as long as the app.
        self.app.theme_changed_signal.unsubscribe(self)

    def replot(self) -> None:
        """The data changed: draw the figure again at the next render."""
        self._version += 1
        self.refresh()

    def draw(self) -> None:
        """Clear `self.plt` and plot the data on it (subclasses)."""
        raise NotImplementedError

    def marker(self, index: int) -> str:
        if getattr(self.app, "no_color", False):
            return MONO_MARKERS[index % len(MONO_MARKERS)]
        return "braille"

    def render(self) -> RenderResult:
        key = (self._version, self.size.width, self.size.height, self.app.theme, self.theme)
        if key != self._cache_key or self._cache is None:
            self.draw()
            self._cache = super().render()
            self._cache_key = key
        return self._cache
