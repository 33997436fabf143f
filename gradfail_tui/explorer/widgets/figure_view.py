"""A group's figure as the paper draws it: the panels, axes and series its preset declares
(engine/figures.py), drawn by the renderer every terminal surface shares (render/figure.py).

The same picture the talk shows and `gradfail run` prints at a group's end: the panels side by side
where they fit, every axis named, one legend under them (never over the data), reference lines
dotted grey. Where the panels do not all fit (Figure 3's four at 80x24), a page of them is drawn, the
title says which, and `[` / `]` turn the pages (the app's keys, shown in the footer while there are
pages to turn).

Drawn from the group's runs as they stand (training here, or read from their records). `show` only
says the runs changed, as the redraw pacer allows (redraws.py); the figure (10-30 ms of plotext) is
built at the next render that needs it, and again only when the runs, the size or the page changed.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from engine.events import Snapshot
from engine.figures import Figure, figure_data
from engine.state import RunState
from gradfail_tui.explorer.pacing import Paced
from gradfail_tui.render.figure import Page, render_figure


class FigureView(Paced, Widget):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.figure: Figure | None = None
        self.states: dict[str, RunState] = {}
        self.snapshots: dict[str, list[Snapshot]] | None = None
        self.page = 0  # the page of panels asked for
        self.pages: Page | None = None  # how the figure on screen was paged
        self._version = 0
        self._cache_key: tuple | None = None
        self._cache = Text()

    def show(
        self,
        figure: Figure | None,
        states: dict[str, RunState] | None = None,
        snapshots: dict[str, list[Snapshot]] | None = None,
    ) -> None:
        """Draw `figure` from these runs at the next render (None: no figure, the view hidden). Another
        figure starts on its first page."""
        if figure is not self.figure:
            self.page, self.pages = 0, None
        self.figure, self.states, self.snapshots = figure, states or {}, snapshots
        self.set_class(figure is not None, "-shown")
        self._version += 1
        self.refresh()

    @property
    def paged(self) -> bool:
        """Whether its panels are drawn a page at a time (`[` and `]` turn the pages)."""
        return self.figure is not None and self.pages is not None and self.pages.pages > 1

    def turn(self, direction: int) -> bool:
        """The next (+1) or previous (-1) page of panels, wrapping; False if there is only one."""
        if not self.paged:
            return False
        self.page = (self.pages.number + direction) % self.pages.pages
        self.refresh()
        return True

    def render(self) -> Text:
        if self.figure is None:
            return Text()
        width, height = max(self.size.width, 20), max(self.size.height, 5)
        key = (self._version, width, height, self.page)
        if key != self._cache_key:
            self._cache_key = key
            paged = self.paged
            try:
                data = figure_data(self.figure, self.states, self.snapshots)
                self._cache, self.pages = render_figure(data, width, height, page=self.page)
            except Exception as exc:  # a record plotext cannot draw must not end the explorer: say so here
                self._cache, self.pages = Text(f"(this figure could not be drawn: {exc})", style="dim"), None
            if self.paged != paged:  # the footer's [ ] come or go
                self.call_after_refresh(self.app.refresh_bindings)
        return self._cache
