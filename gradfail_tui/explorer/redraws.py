"""What the explorer redraws, and when: views are marked stale as events arrive and drawn on the tick.

The status line and the runs table are cheap and drawn at the next tick (the runs table only while
its tab is shown, and once a second while a run goes); the plots cost 10-30 ms of plotext each, so
they wait for the pacer (pacing.py), which keeps their share of a core small while the engine
trains. A replay advances on the same tick.
"""

from __future__ import annotations

import time

from textual.css.query import NoMatches
from textual.markup import escape

from gradfail_tui.explorer.host import ExplorerHost, View
from gradfail_tui.explorer.pacing import RedrawPacer

__all__ = ["TICK_HZ", "Redraws", "View"]

TICK_HZ = 5  # the UI's clock: status line, replay, and the chance of a (paced) plot redraw


class Redraws:
    def __init__(self, app: ExplorerHost, pacer: RedrawPacer):
        """`app`: the GradfailApp, as its helpers see it (host.py)."""
        self.app = app
        self.model = app.model
        self.pacer = pacer
        self.stale: set[View] = set(View)
        self._last_runs = 0.0

    def mark(self, *views: View) -> None:
        self.stale.update(views)

    def tick(self) -> None:
        if self.app.conductor.closing:
            return
        try:
            self._draw_due()
        except NoMatches:  # the app is ending and its widgets are gone: nothing left to draw
            pass

    def _draw_due(self) -> None:
        app, replay = self.app, self.model.replay
        if replay is not None and replay.advance():
            self.mark(View.PLOTS, View.STATUS)
            if replay.done:
                app.notify(f"{replay.entry.label}: replay finished", timeout=4)
                self.model.replay = None
                app.refresh_bindings()
        if View.STATUS in self.stale:
            self.draw_status()
        now = time.monotonic()
        tab = app.tabs.active
        if tab == "runs" and (
            View.RUNS in self.stale or (self.model.active is not None and now - self._last_runs > 1.0)
        ):
            self.stale.discard(View.RUNS)
            self._last_runs = now
            app.runs_panel.redraw()
        if View.PLOTS in self.stale and tab == "watch" and self.pacer.ready():
            self.draw_plots()

    def draw_status(self) -> None:
        self.stale.discard(View.STATUS)
        entry, engine = self.model.entry(self.model.primary), self.app.engine_text
        if (where := self.model.engines_note()) is not None:  # what runs where: a sweep on its pool of engines
            engine = f"[b]{escape(where)}[/b] · {engine}"
        self.app.status_line.show(entry.state if entry else None, engine, self.model.status_note())

    def draw_plots(self) -> None:
        """Redraw the plots now (the tick calls this when the pacer allows; tests call it directly)."""
        self.stale.discard(View.PLOTS)
        group, view = self.model.shown_group, self.app.watch_view
        figure = group.figure if group is not None else None
        with self.app.batch_update():
            self.app.group_panel.show(group)
            self.app.figure_view.show(figure, *(self.model.figure_runs(group) if figure is not None else ()))
            if group is None:
                view.show(self.model.shown_entries(), self.app.families)
            elif group.seeds:  # one config, several seeds: their band, and the seed picked out
                entries = self.model.shown_entries()
                picked = self.model.entry(group.keys.get(self.model.picked_seed or ""))
                first = picked or (entries[0] if entries else None)
                view.show(entries, self.app.families, snapshots_of=first, band=True, picked=picked)
            elif figure is not None:
                # The paper's figure replaces the overlay of the group's `plot` metrics: it draws the same
                # runs as the paper does (its panels, named axes, the paper's colours, a legend), and the
                # overlay beside it would show the same curves again in half the room. Under it, the
                # pictures of the run the group shows them for (as before); every metric of one run is on
                # that run's own view (its row on Runs).
                view.show([], self.app.families, snapshots_of=self.model.snapshots_source(), beside_figure=True)
            else:
                view.show(
                    self.model.shown_entries(),
                    self.app.families,
                    metrics=group.plot,
                    snapshots_of=self.model.snapshots_source(),
                    log_y=group.log_y,
                )
        self.pacer.redrawn()
