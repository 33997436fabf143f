"""What the explorer's helpers may use of the app: `ExplorerHost`, and the views they mark stale.

The listener (listener.py), the redraws (redraws.py) and the live controls (live_controls.py) work
for the app but cannot import it (app.py imports them). They are typed against this Protocol
instead, which names exactly what they touch; `GradfailApp` satisfies it (a test checks), and a
test can hand them a small fake.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # types only: the widgets import plotext, which the first frame does without
    from textual.notifications import SeverityLevel
    from textual.screen import Screen
    from textual.widgets import TabbedContent

    from engine.orchestration import Conductor, Job
    from engine.registry import FamilySpec
    from gradfail_tui.explorer.engines import EnginePool
    from gradfail_tui.explorer.entries import RunEntry
    from gradfail_tui.explorer.model import ExplorerModel
    from gradfail_tui.explorer.pacing import RedrawPacer
    from gradfail_tui.explorer.widgets.figure_view import FigureView
    from gradfail_tui.explorer.widgets.group_panel import GroupPanel
    from gradfail_tui.explorer.widgets.runs_panel import RunsPanel
    from gradfail_tui.explorer.widgets.setup_pane import SetupPane
    from gradfail_tui.explorer.widgets.status_line import StatusLine
    from gradfail_tui.explorer.widgets.watch_view import WatchView


class View(StrEnum):
    """What can be marked stale, to be drawn on the next tick."""

    STATUS = "status"  # the status line
    PLOTS = "plots"  # the watch view: its plots and the group band (paced)
    RUNS = "runs"  # the Runs tab's table


@runtime_checkable
class ExplorerHost(Protocol):
    """The app, as its helpers see it: its state, the Conductor, its widgets, and how to tell the person."""

    model: ExplorerModel  # what is on screen (model.py)
    conductor: Conductor  # the engines: pause, stop, step, change; `closing` once the app ends
    pool: EnginePool  # its slots as the explorer uses them: one engine, or a sweep's local pool
    families: dict[str, FamilySpec]
    pacer: RedrawPacer  # the plots' share of a core
    adaptive_plot_budget: bool  # whether that share follows the run the engine trains
    engine_text: str  # the status line's word on the engine

    @property
    def setup(self) -> SetupPane: ...

    @property
    def tabs(self) -> TabbedContent: ...

    @property
    def status_line(self) -> StatusLine: ...

    @property
    def watch_view(self) -> WatchView: ...

    @property
    def figure_view(self) -> FigureView: ...

    @property
    def group_panel(self) -> GroupPanel: ...

    @property
    def runs_panel(self) -> RunsPanel: ...

    def stale(self, *views: View) -> None:
        """Redraw these views at the next tick."""

    def refresh_bindings(self) -> None:
        """The keys' states may have changed: the footer asks again."""

    def run_ended(self, entry: RunEntry | None) -> None:
        """A run of this session has ended (r may start it again)."""

    def job_ended(self, job: Job) -> None:
        """A job has finished (a sweep's pool goes back to one engine)."""

    def report(self, text: str, title: str = "Error") -> None:
        """An error the person must see."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...

    def push_screen(self, screen: Screen[Any], callback: Callable[[Any], None] | None = None) -> Any: ...

    def batch_update(self) -> AbstractContextManager[None]: ...
