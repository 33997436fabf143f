"""gradfail-tui: the explorer, a Textual app over the orchestration layer.

Pick a failure family, a preset or your own values (the form is generated from the family's
config), start / pause / stop the run from the keyboard and watch its metrics and snapshots drawn
live; compare runs in one plot; open or replay the records under ./runs; run a figure of the paper
(a group preset) and read its verdict; run a sweep preset and watch its phase diagram fill in.

The app only displays. The orchestration layer (engine/orchestration) drives the engine process
(`python -m engine.worker`, which imports torch: the UI never does), records every event and folds
it into the run's state; the bridge (bridge.py) brings the engine's items to the UI thread in
batches, where the Conductor applies them and reports to the ExplorerListener (listener.py). What
is on screen, and what each key does now, is decided by a plain ExplorerModel (model.py); the app
wires it to the widgets and the Conductor. Runs and groups train on one engine; a sweep on a local pool
of them, as `gradfail sweep` runs it (engines.py). Its helpers (listener, redraws, live controls) see it as an
ExplorerHost (host.py). `build_app` is the one factory, for the command line and for the tests, which
pass a scripted engine instead of the real one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.markup import escape
from textual.reactive import reactive
from textual.widgets import TabbedContent, TabPane

from engine.client import Backend, EngineProcess
from engine.groups import GroupPreset
from engine.orchestration import Conductor, Job, JobKind
from engine.presets import Preset
from engine.record import RecordError
from engine.registry import FamilySpec
from engine.status import RunStatus
from engine.sweeps import SweepPreset
from gradfail_tui.explorer import live_controls
from gradfail_tui.explorer import messages as msg
from gradfail_tui.explorer.bridge import EngineBridge
from gradfail_tui.explorer.engines import EnginePool
from gradfail_tui.explorer.entries import RunEntry, is_group_key
from gradfail_tui.explorer.listener import ExplorerListener
from gradfail_tui.explorer.model import GATED_ACTIONS, ExplorerModel
from gradfail_tui.explorer.pacing import PLOT_CPU_BUDGET, RedrawPacer
from gradfail_tui.explorer.redraws import TICK_HZ, Redraws, View
from gradfail_tui.explorer.signals import handle_signals, release_signals
from gradfail_tui.explorer.widgets.config_form import ConfigForm
from gradfail_tui.explorer.widgets.keys_footer import KeysFooter
from gradfail_tui.explorer.widgets.setup_pane import Offer, SetupPane
from gradfail_tui.explorer.widgets.status_line import StatusLine

if TYPE_CHECKING:  # imported when first needed, after the first frame (plotext is not free)
    from gradfail_tui.explorer.widgets.figure_view import FigureView
    from gradfail_tui.explorer.widgets.group_panel import GroupPanel
    from gradfail_tui.explorer.widgets.runs_panel import RunsPanel
    from gradfail_tui.explorer.widgets.watch_view import WatchView

ENGINE_STARTING = "engine: starting (loading torch)…"
PANELS = Binding.Group("Panels")  # the footer shows "[ ] Panels" once


class GradfailApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "gradfail"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [
        Binding("s", "start", "Start", id="start"),
        Binding("p", "pause", "Pause", id="pause"),
        Binding("x", "stop", "Stop", id="stop"),
        Binding("r", "restart", "Restart", id="restart"),
        Binding("c", "compare", "Compare", id="compare"),
        Binding("e", "live_settings", "Settings", id="live-settings"),
        Binding("n", "step(1)", "Step", id="step-1"),
        Binding("N", "step(10)", "Step 10", id="step-10", show=False),
        Binding("ctrl+n", "step(100)", "Step 100", id="step-100", show=False),
        # ] and [ turn the pages of a group's figure where its panels do not all fit (shown then), else pick
        # out a seed in a band of seeds: a key's first binding whose action may act now is the one run.
        Binding("left_square_bracket", "page_panels(-1)", "Panels", id="previous-panels", group=PANELS),
        Binding("right_square_bracket", "page_panels(1)", "Panels", id="next-panels", group=PANELS),
        Binding("right_square_bracket", "pick_seed(1)", "Next seed", id="next-seed", show=False),
        Binding("left_square_bracket", "pick_seed(-1)", "Previous seed", id="previous-seed", show=False),
        Binding("l", "log_scale", "Log", id="log-scale"),
        Binding("ctrl+s", "svg", "SVG", id="screenshot", priority=True),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("1", "show_tab('setup')", "Setup", id="tab-setup", show=False),
        Binding("2", "show_tab('watch')", "Watch", id="tab-watch", show=False),
        Binding("3", "show_tab('runs')", "Runs", id="tab-runs", show=False),
        Binding("t", "toggle_theme", "Theme", id="theme", show=False),
        Binding("plus,equals_sign", "speed(1)", "Faster", id="faster", show=False),
        Binding("minus", "speed(-1)", "Slower", id="slower", show=False),
        Binding("escape", "leave_field", "Leave field", id="leave", show=False),
    ]
    engine_text: reactive[str] = reactive(ENGINE_STARTING, init=False)

    def __init__(
        self,
        engine_factory: Callable[[], Backend],
        offer: Offer,
        runs_dir: Path,
        *,
        preset: str | None = None,
        autostart: bool = False,
        screenshot_dir: Path | None = None,
        plot_budget: float | None = None,
    ) -> None:
        super().__init__()
        self.offer, self.families = offer, offer.families  # what Setup offers (build_app reads it)
        self.runs_dir = runs_dir
        self.screenshot_dir = screenshot_dir or Path("screenshots")
        self.initial_preset, self.autostart = preset, autostart
        # None: the plots' share of a core follows the run the engine trains (plot_budget_for); tests fix it.
        self.pacer = RedrawPacer(budget=plot_budget or PLOT_CPU_BUDGET)
        self.adaptive_plot_budget = plot_budget is None
        self.model = ExplorerModel()
        self.redraws = Redraws(self, self.pacer)
        self.conductor = Conductor(engine_factory, ExplorerListener(self), warmup=True)
        self.pool = EnginePool(self.conductor)  # one engine; a sweep widens it to a local pool
        self.bridge: EngineBridge | None = None

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with TabbedContent(initial="setup", id="tabs"):
            with TabPane("1 Setup", id="setup"):
                yield SetupPane(self.offer, id="setup-body")
            # The watch view and the runs panel are mounted just after the first frame.
            with TabPane("2 Watch", id="watch"):
                yield Vertical(id="watch-holder")
            with TabPane("3 Runs", id="runs"):
                yield Vertical(id="runs-holder")
        yield KeysFooter(show_command_palette=False, compact=True)

    @property
    def setup(self) -> SetupPane:
        return self.query_one(SetupPane)

    @property
    def form(self) -> ConfigForm:
        return self.setup.form

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    @property
    def status_line(self) -> StatusLine:
        return self.query_one("#status", StatusLine)

    @property
    def watch_view(self) -> WatchView:
        return self.query_one("#watch-view")  # type: ignore[return-value]

    @property
    def figure_view(self) -> FigureView:
        return self.query_one("#figure-view")  # type: ignore[return-value]

    @property
    def group_panel(self) -> GroupPanel:
        return self.query_one("#group-panel")  # type: ignore[return-value]

    @property
    def runs_panel(self) -> RunsPanel:
        return self.query_one("#runs-panel")  # type: ignore[return-value]

    @property
    def engine_ready(self) -> bool:
        return any(slot.ready for slot in self.conductor.slots)

    def on_mount(self) -> None:
        for problem in self.offer.problems:
            self.notify(problem, title="A preset did not load", severity="warning", timeout=8)
        self.query_one("#families").focus()
        self.redraws.draw_status()
        self._ticker = self.set_interval(1 / TICK_HZ, self.redraws.tick)
        self.call_after_refresh(self._after_first_frame)
        handle_signals(self.shutdown, self.exit)

    async def _after_first_frame(self) -> None:
        """What the first frame does not need: the engine (seconds: it imports torch), the plots
        (plotext), the runs panel, the form, and the run records on disk."""
        try:
            self.conductor.start()
            self.bridge = EngineBridge(self.conductor.poll, self.post_message).start()
        except OSError as exc:
            self.report(f"cannot start the engine process: {exc}")
        from gradfail_tui.explorer.widgets.figure_view import FigureView
        from gradfail_tui.explorer.widgets.group_panel import GroupPanel
        from gradfail_tui.explorer.widgets.runs_panel import RunsPanel
        from gradfail_tui.explorer.widgets.watch_view import WatchView

        await self.query_one("#watch-holder").mount(
            GroupPanel(id="group-panel"), FigureView(id="figure-view"), WatchView(id="watch-view")
        )
        headline = {name: spec.headline for name, spec in self.families.items()}
        await self.query_one("#runs-holder").mount(RunsPanel(self.model, self.runs_dir, headline, id="runs-panel"))
        if self.tabs.active == "runs" and self.focused is None:  # someone was quicker than the mount
            self.query_one("#runs-table").focus()
        await self.setup.pick_first(self.initial_preset)
        self.runs_panel.scan()
        if self.autostart:
            self.action_start()

    # -- what the engines say -------------------------------------------------------------------
    def on_engine_items_received(self, message: msg.EngineItemsReceived) -> None:
        try:
            with self.batch_update():
                for slot, item in message.items:
                    if self.pool.holds(slot):  # else an engine of a sweep's pool, closed since it ended
                        self.conductor.handle(slot, item)
        finally:
            if self.bridge is not None:
                self.bridge.batch_applied()

    def watch_engine_text(self) -> None:
        self.stale(View.STATUS)

    def report(self, text: str, title: str = "Error") -> None:
        """Every error the user must see goes through here: a notification that stays a while."""
        self.notify(escape(text), title=title, severity="error", timeout=12)

    # -- starting runs --------------------------------------------------------------------------
    def on_job_requested(self, message: msg.JobRequested) -> None:
        """A form's choice becomes a job in a new run directory, joins the model and goes to the engine."""
        choice = message.choice
        wait = self.model.busy(group=not choice.alone)
        if wait is not None:
            self.notify(escape(wait), severity="warning")
            return
        try:
            job = choice.job(self.runs_dir)
        except RecordError as exc:
            self.report(f"cannot record {choice.label}, so it was not started: {exc}")
            return
        shown = self.model.start(choice, job)
        if job.kind is JobKind.SWEEP:  # on a local pool, as `gradfail sweep` runs it (engines.py)
            try:
                shown.engines = self.pool.for_sweep(job)
            except OSError as exc:
                self.report(f"cannot start another engine process, so the sweep runs on fewer: {exc}")
                shown.engines = sum(1 for slot in self.conductor.slots if slot.engine is not None)
        self.show_tab("watch")
        self.conductor.submit(job)

    def run_ended(self, entry: RunEntry | None) -> None:
        again = self.model.restart_due(entry)  # r asked for it while the run went
        if again is not None:
            self.post_message(msg.JobRequested(again))

    def job_ended(self, job: Job) -> None:
        # After the conductor's own bookkeeping of this item (it is iterating its slots now): a sweep's
        # pool goes back to the one engine.
        if job.kind is JobKind.SWEEP:
            self.call_later(self.pool.narrow)

    # -- actions --------------------------------------------------------------------------------
    def refresh_bindings(self) -> None:
        # The footer rebuilds itself on every refresh; only ask when a key's state has changed.
        states = tuple(self.check_action(name, ()) for name in (*GATED_ACTIONS, "page_panels"))
        if states != getattr(self, "_binding_states", None) and self.screen_stack:  # no screen: the app is ending
            self._binding_states = states
            super().refresh_bindings()

    def on_form_validated(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which keys act now: the model decides (`key_state`); Start also needs a form without problems
        (and a Setup pane: it has gone while the app ends)."""
        if action == "page_panels":  # False: hidden, and ] and [ pick out a seed instead
            on_watch = [tabs.active for tabs in self.query(TabbedContent)] == ["watch"]
            return on_watch and any(view.paged for view in self.query("#figure-view"))
        ready = action == "start" and any(not pane.problems for pane in self.query(SetupPane))
        return self.model.key_state(action, form_ready=ready)

    def action_start(self) -> None:
        """Start what the Setup tab shows: the family's run, or the figure's group of runs."""
        if not self.setup.request_start():
            self.show_tab("setup")

    def action_pause(self) -> None:
        if self.model.pause_replay():  # p acts on the replay on screen, if there is one
            self.stale(View.STATUS)
        elif (sweep := self.model.live_sweep) is not None:  # every engine of its pool
            sweep.paused = not sweep.paused
            told = self.pool.pause(sweep.job, pause=sweep.paused)
            word = "paused" if sweep.paused else "resumed"
            self.notify(f"{escape(sweep.name)}: {word} on {told} engine{'s' if told != 1 else ''}", timeout=3)
            self.stale(View.STATUS, View.PLOTS)
        elif (entry := self.model.training()) is not None:
            self.conductor.pause(entry.key, pause=entry.status == RunStatus.RUNNING)

    def action_stop(self) -> None:
        """x: the model says what it stops (`stop_target`): the replay on screen, the group, or the run."""
        target = self.model.stop_target()
        if target is None:
            return
        if target.notice:
            self.notify(escape(target.notice), timeout=4)
        if target.replay is not None:
            self.model.stop_replay()
            self.stale(View.STATUS, View.PLOTS)
            self.refresh_bindings()
        elif target.job is not None:
            self.conductor.stop_job(target.job)
        elif target.run is not None:
            self.conductor.stop(target.run)

    def action_restart(self) -> None:
        if self.model.last_choice is None:
            self.action_start()
        elif self.model.restart_after_stop():  # a run goes: it stops, and starts again once it has ended
            self.action_stop()
        else:
            self.post_message(msg.JobRequested(self.model.last_choice))

    def action_live_settings(self) -> None:
        live_controls.open_live_settings(self)

    def action_step(self, steps: int) -> None:
        live_controls.step(self, steps)

    def action_pick_seed(self, direction: int) -> None:
        live_controls.pick_seed(self, direction)

    def action_page_panels(self, direction: int) -> None:
        self.figure_view.turn(direction)

    def action_compare(self) -> None:
        if self.model.primary:
            self.toggle_compare(self.model.primary)

    def action_log_scale(self) -> None:
        from gradfail_tui.explorer.widgets.metric_plot import MetricPlot

        focused = self.focused if isinstance(self.focused, MetricPlot) else None
        try:
            on_ = self.watch_view.toggle_log(focused)
        except NoMatches:
            return
        self.notify(f"log scale {'on' if on_ else 'off'}" + (f" for {focused.panel}" if focused else ""), timeout=2)

    def action_speed(self, direction: int) -> None:
        self.notify(f"replay speed {self.model.change_speed(direction):g}x", timeout=2)
        self.stale(View.STATUS, View.RUNS)

    def action_show_tab(self, tab: str) -> None:
        self.show_tab(tab)

    def show_tab(self, tab: str) -> None:
        # Focus first: a focused widget left in a hidden pane would pull its tab back.
        target = {"setup": "#families", "runs": "#runs-table"}.get(tab)
        found = self.query(target) if target else None
        if found:
            found.first().focus()
        else:
            self.screen.set_focus(None)
        self.tabs.active = tab

    def action_leave_field(self) -> None:
        self.screen.set_focus(None)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_svg(self) -> None:
        try:
            self.screenshot_dir.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(
                filename=f"gradfail-{time.strftime('%Y%m%d-%H%M%S')}.svg", path=str(self.screenshot_dir)
            )
        except OSError as exc:
            self.report(f"cannot save the screenshot in {self.screenshot_dir}: {exc}")
            return
        self.notify(f"screenshot saved: {escape(str(Path(path).resolve()))}", title="SVG", timeout=8)

    # -- the runs tab ---------------------------------------------------------------------------
    def on_run_opened(self, message: msg.RunOpened) -> None:
        self.open_entry(message.key, replay=message.replay)

    def open_entry(self, key: str, replay: bool = False) -> None:
        """Show a run (replayed if asked) or a group on the Watch tab, as the model allows."""
        shown, notice = self.model.open(key, replay=replay)
        if notice:
            self.notify(escape(notice), severity="warning")
        if shown:
            self.show_tab("watch")
        self.stale(View.STATUS, View.PLOTS, View.RUNS)
        self.refresh_bindings()

    def on_compare_toggled(self, message: msg.CompareToggled) -> None:
        if is_group_key(message.key):
            self.open_entry(message.key)  # a group's runs are always overlaid
        else:
            self.toggle_compare(message.key)

    def toggle_compare(self, key: str) -> None:
        notice = self.model.toggle_compare(key)
        if notice is not None:
            self.notify(escape(notice), timeout=3)
            self.stale(View.PLOTS, View.RUNS)

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "runs":
            self.stale(View.RUNS)
            self.runs_panel.scan()
        elif event.pane.id == "watch":
            self.stale(View.PLOTS, View.STATUS)
        self.refresh_bindings()  # [ ] page a figure's panels on the Watch tab only

    # -- drawing --------------------------------------------------------------------------------
    def stale(self, *views: View) -> None:
        """These views ("status", "plots", "runs") are redrawn at the next tick (the plots as paced)."""
        self.redraws.mark(*views)

    # -- ending ---------------------------------------------------------------------------------
    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit()

    async def shutdown(self) -> None:
        """Stop the run (recorded as interrupted), judge a group on what it recorded, close the
        engine: no orphan processes."""
        if self.conductor.closing:
            return
        self._ticker.stop()
        self.model.replay = None
        if self.bridge is not None:
            self.bridge.stop()
        await asyncio.to_thread(self.conductor.shutdown, RunStatus.INTERRUPTED, "the explorer was closed")
        await asyncio.to_thread(self.pool.join)  # and the engines of a sweep's pool still being closed

    def on_unmount(self) -> None:
        release_signals()
        # However the app ends (an exception, a signal), the engine must not outlive it.
        if not self.conductor.closing:
            if self.bridge is not None:
                self.bridge.stop(timeout=0.5)
            self.conductor.shutdown(RunStatus.INTERRUPTED, "the explorer was closed")
        self.pool.join()


def build_app(
    engine_factory: Callable[[], Backend] | None = None,
    *,
    families: dict[str, FamilySpec] | None = None,
    presets: list[Preset] | None = None,
    runs_dir: Path = Path("runs"),
    preset: str | None = None,
    autostart: bool = False,
    screenshot_dir: Path | None = None,
    plot_budget: float | None = None,
    groups: list[GroupPreset] | None = None,
    sweeps: list[SweepPreset] | None = None,
) -> GradfailApp:
    """The app, for the command line (defaults: the real engine, the registry) and for tests.

    `groups` (the figures) and `sweeps` (the phase diagrams) are read from the presets directory
    with the presets; tests that pass `presets` get none unless they pass `groups` or `sweeps` too. PresetError if `preset` names a bad file."""
    from engine.catalog import load_preset, scan
    from engine.registry import families as registry_families
    from engine.registry import family_errors

    errors = family_errors() if families is None else {}
    families = registry_families() if families is None else families
    preset_problems: list[str] = []
    if presets is None:
        catalog = scan()
        presets, found_groups = catalog.offered(families)
        preset_problems = list(catalog.problems)
        groups = found_groups if groups is None else groups
        sweeps = [s for s in catalog.sweeps if sweep_family(s) in families] if sweeps is None else sweeps
    groups, sweeps = groups or [], sweeps or []
    if preset is not None and preset not in {p.name for p in [*presets, *groups, *sweeps]}:
        chosen = load_preset(preset)  # a .toml path: PresetError says what is wrong with it
        if isinstance(chosen, SweepPreset):
            sweeps = [*sweeps, chosen]
        elif isinstance(chosen, GroupPreset):
            groups = [*groups, chosen]
        else:
            presets = [*presets, chosen]
        preset = chosen.name
    offer = Offer(families, presets, groups, sweeps, family_errors=errors, problems=preset_problems)
    return GradfailApp(
        engine_factory or EngineProcess,
        offer,
        runs_dir,
        preset=preset,
        autostart=autostart,
        screenshot_dir=screenshot_dir,
        plot_budget=plot_budget,
    )


def sweep_family(sweep: SweepPreset) -> str | None:
    """The family a sweep preset trains (its base may be a single-run preset), or None if it cannot say."""
    if sweep.family is not None:
        return sweep.family
    from engine.catalog import load_preset
    from engine.presets import PresetError

    try:
        return getattr(load_preset(sweep.preset), "family", None)
    except PresetError:
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    # argparse, not Typer: the first frame should not wait for imports it does not need.
    parser = argparse.ArgumentParser(prog="gradfail-tui", description="The gradfail explorer (a terminal UI).")
    parser.add_argument("--preset", "-p", help="open with this preset chosen (see `gradfail presets`)")
    parser.add_argument("--start", action="store_true", help="start the preset's run at once")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run records go (default: runs)")
    return parser.parse_args(argv)


def run_explorer(preset: str | None = None, start: bool = False, runs_dir: Path = Path("runs")) -> int:
    """Open the explorer in this terminal; returns the exit code. `gradfail tui` and `gradfail-tui` both come here."""
    from engine.presets import PresetError

    if start and not preset:
        print("gradfail-tui: --start needs --preset NAME", file=sys.stderr)
        return 2
    try:
        app = build_app(runs_dir=runs_dir, preset=preset, autostart=start)
    except PresetError as exc:
        print(f"gradfail-tui: {exc}", file=sys.stderr)
        return 2
    app.run()
    return app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_explorer(args.preset, args.start, args.runs_dir)


if __name__ == "__main__":
    sys.exit(main())
