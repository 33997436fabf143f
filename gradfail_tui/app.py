"""gradfail-tui: the explorer, a Textual app over the engine process.

Pick a failure family, a preset or your own values (the form is generated from the family's
config), start / pause / stop the run from the keyboard and watch its metrics and snapshots
drawn live; compare runs in one plot; open or replay the records under ./runs.

The UI process never imports torch: the engine is a child process (`python -m engine.worker`,
through engine.client.EngineProcess), started in the background after the first frame. Its events
reach the app through the bridge (bridge.py) in batches and are folded into one RunState per run,
the same model the headless CLI draws; each live run is recorded by a LiveRun into its own
directory under ./runs as the events arrive. `build_app` is the one factory, for the command
line and for the tests, which pass a scripted engine instead of the real one.

Group presets (the paper's figures: fig-parity, ...) are listed on the setup screen below the
families. Starting one runs its runs one after another through the one engine process, each a
run of its own recorded in the group's directory (the layout `gradfail run --preset fig-...`
writes, so `gradfail report` reads both); the watch view overlays them with a band saying how far
the group is and, once its last run has ended or `x` stopped it, the verdict on its claims.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Button, Input, Static, TabbedContent, TabPane

from engine.catalog import load_preset, scan
from engine.claims import judge
from engine.client import EngineExited, EngineProcess, LiveRun, RunRequest
from engine.events import Event, RunFinished, RunStarted, StatusChanged, worst_status
from engine.config import config_to_dict
from engine.groups import GroupPreset
from engine.presets import Preset, PresetError
from engine.record import GroupRecorder, RecordError, new_run_dir
from engine.registry import FamilySpec
from engine.state import RunState
from gradfail_tui import messages as msg
from gradfail_tui.bridge import Backend, EngineBridge
from gradfail_tui.pacing import PLOT_CPU_BUDGET, RedrawPacer, plot_budget_for
from gradfail_tui.session import (
    REPLAY_SPEEDS, GroupEntry, Replay, RunEntry, group_key, is_group_key, label_members, load_recorded, scan_groups,
    scan_recorded,
)
from gradfail_tui.widgets.config_form import ConfigForm, RunChoice
from gradfail_tui.widgets.family_list import GROUP_PREFIX, FamilyList
from gradfail_tui.widgets.group_form import GroupChoice, GroupForm
from gradfail_tui.widgets.keys_footer import KeysFooter
from gradfail_tui.widgets.status_line import StatusLine

if TYPE_CHECKING:  # imported when first needed, after the first frame (plotext is not free)
    from gradfail_tui.widgets.runs_panel import RunsPanel
    from gradfail_tui.widgets.watch_view import WatchView

TICK_HZ = 5  # the UI's clock: status line, replay, and the chance of a (paced) plot redraw
STOP_GRACE_S = 5.0  # on quit, how long a running run may take to say it has stopped
RESTARTS = (3, 60.0)
EXIT_GRACE_S = 3.0  # after SIGTERM / SIGHUP, how long Textual may take to restore the terminal  # give up restarting an engine that died this many times in this many seconds


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

    def __init__(self, engine_factory: Callable[[], Backend], families: dict[str, FamilySpec],
                 presets: list[Preset], runs_dir: Path, family_errors: dict[str, str] | None = None,
                 preset: str | None = None, autostart: bool = False, screenshot_dir: Path | None = None,
                 plot_budget: float | None = None, preset_problems: list[str] | None = None,
                 groups: list[GroupPreset] | None = None) -> None:
        super().__init__()
        self.engine_factory = engine_factory
        self.families = families
        self.presets = presets
        self.group_presets = groups or []
        self.family_errors = family_errors or {}
        self.preset_problems = preset_problems or []
        self.runs_dir = runs_dir
        self.screenshot_dir = screenshot_dir or Path("screenshots")
        self.initial_preset = preset
        self.autostart = autostart
        # None: the plots' share of a core follows the run the engine trains (plot_budget_for); tests fix it.
        self.pacer = RedrawPacer(budget=plot_budget or PLOT_CPU_BUDGET)
        self.adaptive_plot_budget = plot_budget is None

        self.engine: Backend | None = None
        self.bridge: EngineBridge | None = None
        self.engine_ready = False
        self.engine_text = "engine: starting (loading torch)…"
        self.engine_deaths: list[float] = []
        self.closing = False

        self.entries: list[RunEntry] = []  # this session's runs (newest first), then recorded ones
        self.active: RunEntry | None = None  # the run the engine is (or will be) running
        self.pending: RunEntry | None = None  # a run waiting for the engine to be ready
        self.restart_after: RunEntry | None = None
        self.last_choice: RunChoice | None = None
        self.primary: str | None = None  # the run on screen
        self.compared: dict[str, None] = {}  # runs overlaid on the plots, in the order added
        self.replay: Replay | None = None
        self.replay_speed = 10
        self.form_problems: list[str] = ["no family chosen yet"]  # those of the form on screen
        self.setup_mode = "run"  # the form on the setup screen: "run" (a family) or "group" (a figure)
        self.groups: list[GroupEntry] = []  # this session's groups (newest first), then recorded ones
        self.live_group: GroupEntry | None = None  # the group whose runs the engine is going through
        self.shown_group: GroupEntry | None = None  # the group on the watch view
        self._dirty = {"status", "plots", "runs"}
        self._last_runs_refresh = 0.0

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with TabbedContent(initial="setup", id="tabs"):
            with TabPane("1 Setup", id="setup"):
                with Horizontal(id="setup-body"):
                    yield FamilyList(self.families, self.family_errors, self.group_presets, id="families")
                    with Vertical(id="setup-right"):
                        yield ConfigForm(self.presets, id="form")
                        yield GroupForm(id="group-form")
                        with Horizontal(id="actions"):
                            yield Button("Start (s)", id="start", variant="success", disabled=True, compact=True)
                            yield Static("", id="start-problems")
            # The watch view and the runs panel are mounted just after the first frame.
            with TabPane("2 Watch", id="watch"):
                yield Vertical(id="watch-holder")
            with TabPane("3 Runs", id="runs"):
                yield Vertical(id="runs-holder")
        yield KeysFooter(show_command_palette=False, compact=True)

    @property
    def form(self) -> ConfigForm:
        return self.query_one(ConfigForm)

    @property
    def group_form(self) -> GroupForm:
        return self.query_one(GroupForm)

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one(TabbedContent)

    @property
    def watch_view(self) -> "WatchView":
        return self.query_one("#watch-view")  # type: ignore[return-value]

    @property
    def runs_panel(self) -> "RunsPanel":
        return self.query_one("#runs-panel")  # type: ignore[return-value]

    def on_mount(self) -> None:
        for problem in self.preset_problems:
            self.notify(problem, title="A preset did not load", severity="warning", timeout=8)
        self.query_one(FamilyList).focus()
        self.draw_status()
        self._ticker = self.set_interval(1 / TICK_HZ, self._tick)
        self.call_after_refresh(self._after_first_frame)
        self._handle_signals(True)

    def _handle_signals(self, install: bool) -> None:
        """SIGTERM, and SIGHUP (the terminal or the SSH session went away), end the app as `q` does:
        the run is stopped and recorded as interrupted, the engine closed."""
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                if install:
                    loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self._signalled()))
                else:
                    loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here: the default (end at once) stays

    async def _after_first_frame(self) -> None:
        """What the first frame does not need: the engine (seconds: it imports torch), the plots
        (plotext), the runs panel, the form, and the run records on disk."""
        self.start_engine()
        from gradfail_tui.widgets.group_panel import GroupPanel
        from gradfail_tui.widgets.runs_panel import RunsPanel
        from gradfail_tui.widgets.watch_view import WatchView

        await self.query_one("#watch-holder").mount(GroupPanel(id="group-panel"), WatchView(id="watch-view"))
        self.query_one("#group-panel").display = False
        await self.query_one("#runs-holder").mount(
            RunsPanel(headline={name: spec.headline for name, spec in self.families.items()}, id="runs-panel"))
        if self.tabs.active == "runs" and self.focused is None:  # someone was quicker than the mount
            self.query_one("#runs-table").focus()
        chosen = next((p for p in self.presets if p.name == self.initial_preset), None)
        first = chosen.family if chosen else next(iter(self.families), None)
        if first:
            await self.pick_family(first, chosen.name if chosen else None)
        if any(g.name == self.initial_preset for g in self.group_presets):
            await self.pick_group(self.initial_preset)
        self.scan_runs()
        if self.autostart:
            self.action_start()

    # -- the engine -----------------------------------------------------------------------------
    def start_engine(self) -> None:
        self.engine_ready = False
        self.engine_text = "engine: starting (loading torch)…"
        self.mark("status")
        self._spawn_engine()

    @work(thread=True, group="engine", exit_on_error=False)
    def _spawn_engine(self) -> None:
        try:
            engine = self.engine_factory().start()
        except OSError as exc:
            self.call_from_thread(self.report, f"cannot start the engine process: {exc}")
            return
        if self.closing:  # the app was closed while the engine started
            engine.close()
            return
        self.engine = engine
        self.bridge = EngineBridge(engine, self.post_message).start()

    def on_engine_loaded(self, message: msg.EngineLoaded) -> None:
        ready = message.ready
        self.engine_ready = True
        devices = ", ".join(ready.devices) or "cpu"
        self.engine_text = f"engine ready · torch {escape(ready.torch_version)} · devices: {escape(devices)}"
        self.form.set_devices(list(ready.devices))
        self.group_form.set_devices(list(ready.devices))
        if self.engine is not None:
            # The first run's imports (about 2 s of torch), paid while the person is still choosing.
            self.engine.send("warmup")
        if self.pending is not None:
            entry, self.pending = self.pending, None
            self._send_start(entry)
        self.mark("status")
        self.refresh_bindings()

    def on_engine_died(self, message: msg.EngineDied) -> None:
        if self.closing:
            return
        dead, self.engine, self.engine_ready = self.engine, None, False
        why = message.exited.describe()
        entry = self.active
        if entry is not None and entry.running and entry.live is not None:
            finished = entry.live.engine_died(message.exited)
            entry.state.apply(finished)
            self.run_ended(entry, finished)
        else:
            self.report(f"The engine process stopped: {why}")
        if dead is not None:
            self._close_engine(dead)
        now = time.monotonic()
        self.engine_deaths = [t for t in self.engine_deaths if now - t < RESTARTS[1]] + [now]
        if len(self.engine_deaths) >= RESTARTS[0]:
            self.engine_text = (f"[$error]engine: died {len(self.engine_deaths)} times in a minute "
                                f"({escape(why)}); restart gradfail-tui to try again[/]")
        else:
            self.engine_text = "engine: restarting after it stopped…"
            self.start_engine()
        self.mark("status", "runs")
        self.refresh_bindings()

    @work(thread=True, group="engine-close", exit_on_error=False)
    def _close_engine(self, engine: Backend) -> None:
        engine.close()

    def on_events_received(self, message: msg.EventsReceived) -> None:
        try:
            with self.batch_update():
                for event in message.events:
                    self.apply_event(event)
        finally:
            if self.bridge is not None:
                self.bridge.batch_applied()

    def apply_event(self, event: Event) -> None:
        entry = self.entry(event.run_id)
        if entry is None or entry.live is None:
            return  # not a run of this session (a late event of a run already given up on)
        entry.live.handle(event)
        if self.replay is not None and self.replay.entry is entry:
            return
        entry.state.apply(event)
        if entry.key == self.primary or entry.key in self.compared:
            self.mark("plots", "status")
        if isinstance(event, RunFinished):
            self.run_ended(entry, event)
        elif isinstance(event, (RunStarted, StatusChanged)):
            if isinstance(event, RunStarted) and self.adaptive_plot_budget:  # the engine trains one run at a time
                self.pacer.budget = plot_budget_for(event.device, event.cpu_threads)
            self.mark("runs", "status")
            self.refresh_bindings()

    # -- runs -----------------------------------------------------------------------------------
    def entry(self, key: str | None) -> RunEntry | None:
        return next((e for e in self.entries if e.key == key), None) if key else None

    def unique_label(self, label: str) -> str:
        taken = {e.label for e in self.entries if e.origin == "session"}
        n, candidate = 2, label
        while candidate in taken:
            candidate, n = f"{label} #{n}", n + 1
        return candidate

    def launch(self, choice: RunChoice) -> RunEntry | None:
        request = RunRequest(family=choice.family, config=choice.config, seed=choice.seed, device=choice.device,
                             preset=choice.preset)
        try:
            run_dir = new_run_dir(self.runs_dir, choice.label)
            live = LiveRun(request, run_dir)
        except RecordError as exc:
            self.report(f"cannot record the run, so it was not started: {exc}")
            return None
        self.leave_group()
        self.stop_replay()
        entry = self.begin_run(request, live, self.unique_label(choice.label))
        self.primary = entry.key
        self.last_choice = choice
        self.show_tab("watch")
        return entry

    def begin_run(self, request: RunRequest, live: LiveRun, label: str, where: str = "") -> RunEntry:
        """A new run of this session, sent to the engine (or waiting for it to be ready). What is on
        screen is the caller's choice: a group's later runs do not take over another view."""
        state = RunState(run_id=request.run_id, label=label, family=request.family,
                         total_steps=int(request.config.get("steps", 0)), config=request.config, seed=request.seed)
        entry = RunEntry(key=request.run_id, label=label, state=state, origin="session", path=live.run_dir,
                         request=request, live=live, where=where)
        self.entries.insert(0, entry)  # newest first, above the recorded runs
        self.active = entry
        if self.engine_ready and self.engine is not None:
            self._send_start(entry)
        else:
            self.pending = entry
            state.status = "waiting"
        self.mark("status", "plots", "runs")
        self.refresh_bindings()
        return entry

    # -- groups: a figure's runs, one after another ---------------------------------------------
    def launch_group(self, choice: GroupChoice) -> GroupEntry | None:
        from gradfail_tui.group_run import group_manifest  # headless, plotext: not for the first frame

        group, scale = choice.group, choice.scale
        try:
            path = new_run_dir(self.runs_dir, group.record_label(scale))
            recorder = GroupRecorder(path, group_manifest(group, choice.members, scale, choice.device))
        except RecordError as exc:
            self.report(f"cannot record the group, so it was not started: {exc}")
            return None
        entry = GroupEntry(key=group_key(path), name=group.name, title=group.title, origin="session",
                           labels=[m.label for m in choice.members], plot=group.plot, log_y=group.log_y,
                           scale=scale, path=path, statuses={m.label: "waiting" for m in choice.members},
                           preset=group, members=list(choice.members), recorder=recorder, device=choice.device,
                           started=time.monotonic())
        self.groups.insert(0, entry)
        self.live_group = entry
        self.stop_replay()
        self.show_group(entry)
        self.show_tab("watch")
        self.next_group_run(entry)
        return entry

    def next_group_run(self, group: GroupEntry) -> None:
        """Start the group's next run, or, when there is none (or it was stopped), judge it."""

        if group.stopping or group.number >= len(group.members):
            self.finish_group(group, "stopped" if group.stopping else None)
            return
        group.number += 1
        member = group.members[group.number - 1]
        request = RunRequest(family=member.family, config=config_to_dict(member.config), seed=member.seed,
                             device=group.device, preset=member.preset)
        try:
            run_dir = group.recorder.run_dir(group.number, member.label)
            live = LiveRun(request, run_dir)
            group.recorder.set_member(group.number, status="running", dir=run_dir.name, run_id=request.run_id)
        except RecordError as exc:
            self.report(f"{group.name}: cannot record {member.label}, so the group ends here: {exc}")
            group.number -= 1
            self.finish_group(group, "failed")
            return
        group.statuses[member.label] = "running"
        entry = self.begin_run(request, live, member.label, where=f"{group.path.name}/{run_dir.name}")
        group.keys[member.label] = entry.key
        if self.shown_group is group:
            self.show_group(group, primary=entry.key)

    def group_run_ended(self, group: GroupEntry, entry: RunEntry, finished: RunFinished) -> None:

        label = next(label for label, key in group.keys.items() if key == entry.key)
        number = group.labels.index(label) + 1
        group.statuses[label] = finished.status
        try:
            group.recorder.set_member(number, status=finished.status, steps=finished.step)
        except RecordError as exc:
            self.report(f"{group.name}: the group record is incomplete: {exc}")
        self.next_group_run(group)

    def finish_group(self, group: GroupEntry, status: str | None) -> None:
        """Judge the group on what its runs recorded; the runs it never reached are "not run".

        `status` None: the worst of its runs' statuses (as `gradfail run` records it); "stopped" (x)
        or "interrupted" (the explorer closed)."""

        states = {}
        try:
            for label, key in group.keys.items():
                entry = self.entry(key)
                if entry is None:
                    continue
                if entry.live is not None and entry.live.finished is not None and not entry.state.finished:
                    entry.state.apply(entry.live.finished)  # ended as the explorer closed, after the last batch
                    group.recorder.set_member(group.labels.index(label) + 1, status=entry.state.status,
                                              steps=entry.state.step)
                group.statuses[label] = entry.state.status
                states[label] = entry.state
            group.verdict = judge(group.preset.claims, states)
            if status is None:
                status = worst_status(group.statuses.get(label, "") for label in group.labels)
            group.status = status
            for label in group.labels:
                if label not in group.keys:
                    group.statuses[label] = "not run"
            group.recorder.finish(status, verdict=group.verdict.as_dict(),
                                  wall_s=round(time.monotonic() - group.started, 1))
        except RecordError as exc:
            self.report(f"{group.name}: the group record is incomplete: {exc}")
        if self.live_group is group:
            self.live_group = None
        if not self.closing:
            severity = {"reproduced": "information", "not reproduced": "error"}.get(group.verdict.outcome, "warning")
            self.notify(f"{escape(group.title)}: {escape(group.verdict.outcome)}", title="Verdict",
                        severity=severity, timeout=8)
            self.mark("status", "plots", "runs")
            self.refresh_bindings()

    def show_group(self, group: GroupEntry, primary: str | None = None) -> None:
        """Overlay the group's runs (the comparison, in the group's order) and show its band."""
        if self.shown_group is not None and self.shown_group is not group:
            self.leave_group()
        self.shown_group = group
        keys = [group.keys[label] for label in group.labels if label in group.keys]
        self.compared = {key: None for key in keys}
        running = self.active.key if self.active is not None and self.active.key in keys else None
        self.primary = primary or running or (keys[-1] if keys else None)
        self.mark("status", "plots", "runs")

    def leave_group(self) -> None:
        """The watch view goes back to single runs: the group's runs leave the overlay."""
        group, self.shown_group = self.shown_group, None
        if group is not None:
            for key in group.keys.values():
                self.compared.pop(key, None)
            self.mark("plots")

    def _send_start(self, entry: RunEntry) -> None:
        if not entry.live.start(self.engine):
            self.pending = entry  # the engine went away just now; its EngineDied restarts it

    def run_ended(self, entry: RunEntry, finished: RunFinished) -> None:
        if entry is self.active:
            self.active = None
        group = self.live_group
        in_group = group is not None and entry.key in group.keys.values()
        if self.pending is entry:
            self.pending = None
        where = f" (record: {entry.path})" if entry.path else ""
        if finished.status == "completed":
            self.notify(f"{entry.label}: completed, {entry.state.step:,} steps", timeout=5)
        elif finished.status == "stopped":
            self.notify(f"{entry.label}: {finished.message or 'stopped'}", timeout=5)
        else:
            self.report(f"{entry.label}: {finished.status}: {finished.message or 'no reason given'}{where}",
                        title=f"Run {finished.status}")
        if entry.live is not None and entry.live.record_error:
            self.report(f"{entry.label}: the run record is incomplete: {entry.live.record_error}")
        self.mark("status", "runs", "plots")
        self.refresh_bindings()
        if in_group:
            self.group_run_ended(group, entry, finished)
        elif self.restart_after is entry:
            self.restart_after = None
            if self.last_choice is not None:
                self.launch(self.last_choice)

    def report(self, text: str, title: str = "Error") -> None:
        """Every error the user must see goes through here: a notification that stays a while."""
        self.notify(escape(text), title=title, severity="error", timeout=12)

    # -- recorded runs --------------------------------------------------------------------------
    def scan_runs(self) -> None:
        self._scan_runs()

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _scan_runs(self) -> None:
        skip = {e.path.resolve() for e in self.entries if e.path is not None and e.origin == "session"}
        found = scan_recorded(self.runs_dir, skip)
        groups = scan_groups(self.runs_dir, {g.path.resolve() for g in self.groups
                                             if g.path is not None and g.origin == "session"})
        label_members(groups, found)
        self.call_from_thread(self._runs_found, found, groups)

    def _runs_found(self, found: list[RunEntry], groups: list[GroupEntry] | None = None) -> None:
        shown = self.shown_group
        if shown is not None and shown.origin != "recorded":
            shown = None  # a group of this session is not among the recorded ones
        # The group on screen stays the same object, in its place in the list (the band refers to it).
        recorded_groups = [shown if shown is not None and g.key == shown.key else g for g in groups or []]
        if shown is not None and shown not in recorded_groups:
            recorded_groups.append(shown)  # on screen: kept even if its directory has gone
        self.groups = [g for g in self.groups if g.origin == "session"] + recorded_groups
        known = {e.key: e for e in self.entries if e.origin == "recorded"}
        recorded = [known.get(e.key, e) for e in found]
        # Keep a run that is on screen even if its directory has gone meanwhile.
        keep = [e for e in known.values() if e not in recorded and (e.key == self.primary or e.key in self.compared)]
        if shown is not None:  # the entries the band and the plots refer to go by its labels
            label_members([shown], recorded + keep)
        self.entries = [e for e in self.entries if e.origin == "session"] + recorded + keep
        self.mark("runs")

    def on_run_opened(self, message: msg.RunOpened) -> None:
        if is_group_key(message.key):
            if message.replay:
                self.notify("A group is not replayed as a whole: enter shows its runs; "
                            "each of its runs can be replayed from its own row", severity="warning")
                return
            self.open_group(message.key)
        else:
            self.open_run(message.key, replay=message.replay)

    def group(self, key: str | None) -> GroupEntry | None:
        return next((g for g in self.groups if g.key == key), None) if key else None

    def open_group(self, key: str) -> None:
        group = self.group(key)
        if group is None:
            return
        if not group.keys:
            self.notify(f"{escape(group.name)}: none of its runs has a record to show", severity="warning")
        self.stop_replay()
        self.show_group(group)
        self.show_tab("watch")
        self.refresh_bindings()

    def open_run(self, key: str, replay: bool = False) -> None:
        entry = self.entry(key)
        if entry is None:
            return
        self.leave_group()  # a run's own row shows that run alone; the group's row shows the group
        if entry.running:
            if replay:
                self.notify(f"{entry.label} is still running: it can be replayed once it has ended",
                            severity="warning")
            self.primary = key
        else:
            if self.replay is not None and (replay or self.replay.entry is entry):
                self.stop_replay()
            if replay:
                if entry.origin == "session" and entry.path is not None:
                    entry.events = load_recorded(entry.path).events
                if not entry.events:
                    self.notify(f"{entry.label}: its record holds no events to replay", severity="warning")
                    return
                self.replay = Replay(entry, self.replay_speed)
            self.primary = key
        self.show_tab("watch")
        self.mark("status", "plots", "runs")
        self.refresh_bindings()

    def stop_replay(self) -> None:
        if self.replay is not None:
            self.replay.finish()
            self.replay = None
            self.mark("status", "plots")

    def on_compare_toggled(self, message: msg.CompareToggled) -> None:
        if is_group_key(message.key):
            self.open_group(message.key)  # a group's runs are always overlaid
        else:
            self.toggle_compare(message.key)

    def toggle_compare(self, key: str) -> None:
        entry = self.entry(key)
        if entry is None:
            return
        if key in self.compared:
            del self.compared[key]
            self.notify(f"{entry.label}: taken out of the comparison", timeout=3)
        else:
            self.compared[key] = None
            self.notify(f"{entry.label}: overlaid on the plots", timeout=3)
        self.mark("plots", "runs")

    def shown_entries(self) -> list[RunEntry]:
        keys = ([self.primary] if self.primary else []) + [k for k in self.compared if k != self.primary]
        group = self.shown_group
        if group is not None:  # the group's runs in the group's order, whichever is primary
            ordered = [group.keys[label] for label in group.labels if group.keys.get(label) in keys]
            keys = ordered + [k for k in keys if k not in ordered]
        return [e for e in (self.entry(k) for k in keys) if e is not None]

    # -- drawing --------------------------------------------------------------------------------
    def mark(self, *what: str) -> None:
        self._dirty.update(what)

    def _tick(self) -> None:
        if self.closing:
            return
        try:
            self._draw_due()
        except NoMatches:  # the app is ending and its widgets are gone: nothing left to draw
            pass

    def _draw_due(self) -> None:
        if self.replay is not None and self.replay.advance():
            self.mark("plots", "status")
            if self.replay.done:
                self.notify(f"{self.replay.entry.label}: replay finished", timeout=4)
                self.replay = None
                self.refresh_bindings()
        if "status" in self._dirty:
            self._dirty.discard("status")
            self.draw_status()
        now = time.monotonic()
        if self.tabs.active == "runs" and ("runs" in self._dirty or
                                           (self.active is not None and now - self._last_runs_refresh > 1.0)):
            self._dirty.discard("runs")
            self._last_runs_refresh = now
            self.draw_runs()
        if "plots" in self._dirty and self.tabs.active == "watch" and self.pacer.ready():
            self.draw_plots()

    def draw_status(self) -> None:
        entry = self.entry(self.primary)
        note = ""
        if self.replay is not None and entry is self.replay.entry:
            note = f"replay {self.replay.speed:g}x" + (" (paused)" if self.replay.paused else "")
        elif entry is not None and entry is self.pending:
            note = "waiting for the engine to load"
        group = self.shown_group
        if group is not None and group.running and entry is not None and entry.key in group.keys.values():
            note = (note + " · " if note else "") + group.progress()
        self.query_one(StatusLine).show(entry.state if entry else None, self.engine_text, note)

    def draw_plots(self) -> None:
        """Redraw the plots now (the tick calls this when the pacer allows; tests call it directly)."""
        view = self.watch_view
        self._dirty.discard("plots")
        group = self.shown_group
        with self.batch_update():
            self.query_one("#group-panel").show(group)
            if group is None:
                view.show(self.shown_entries(), self.families)
            else:
                view.show(self.shown_entries(), self.families, metrics=group.plot,
                          snapshots_of=self._group_snapshots(group), log_y=group.log_y)
        self.pacer.redrawn()

    def _group_snapshots(self, group: GroupEntry) -> RunEntry | None:
        """The run whose snapshots a group shows: the primary one, where the group's TOML asks for them."""
        entry = self.entry(self.primary)
        if entry is None:
            return None
        label = next((label for label, key in group.keys.items() if key == entry.key), None)
        # A recorded group keeps no such wish: the default, snapshots where there is no overlay.
        shows = group.preset.shows_snapshots(label) if group.preset is not None else not group.plot
        return entry if shows else None

    def draw_runs(self) -> None:
        panel = self.runs_panel
        panel.show(self.entries, set(self.compared), self.groups)
        self._describe(panel.highlighted_key())

    def on_run_highlighted(self, message: msg.RunHighlighted) -> None:
        self._describe(message.key)

    def _describe(self, key: str | None) -> None:
        group = self.group(key)
        if group is not None:
            self.runs_panel.describe_group(group)
        else:
            self.runs_panel.describe(self.entry(key), self.replay_speed)

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id
        if tab == "runs":
            self.mark("runs")
            self.scan_runs()
        elif tab == "watch":
            self.mark("plots", "status")

    # -- setup ----------------------------------------------------------------------------------
    async def pick_family(self, name: str, preset: str | None = None) -> None:
        spec = self.families.get(name)
        if spec is None:
            return
        self.query_one(FamilyList).highlight_family(name)
        self.setup_mode = "run"
        self.query_one("#setup-right").remove_class("-group")
        await self.form.load(spec, preset)

    async def on_family_picked(self, message: msg.FamilyPicked) -> None:
        await self.pick_family(message.name)
        fields = self.form.query(".value")
        if fields:
            fields.first().focus()

    async def pick_group(self, name: str) -> None:
        """Show a group preset (a figure) on the setup screen: its runs, its claims, its scales."""
        group = next((g for g in self.group_presets if g.name == name), None)
        if group is None:
            return
        self.query_one(FamilyList).highlight_family(GROUP_PREFIX + name)
        self.setup_mode = "group"
        self.query_one("#setup-right").add_class("-group")
        await self.group_form.load(group)

    async def on_group_picked(self, message: msg.GroupPicked) -> None:
        await self.pick_group(message.name)
        self.query_one("#group-scale").focus()

    def on_form_validated(self, message: msg.FormValidated) -> None:
        if message.form != self.setup_mode:
            return  # the form not on screen (a device list filled in, say)
        self.form_problems = message.problems
        try:
            start, hint = self.query_one("#start", Button), self.query_one("#start-problems", Static)
        except NoMatches:
            return  # a late check while the app ends: its widgets are gone
        start.disabled = bool(message.problems)
        hint.update(
            f"[$error]✗ {escape(message.problems[0])}[/]" + (f" (+{len(message.problems) - 1} more)"
                                                              if len(message.problems) > 1 else "")
            if message.problems else "[dim]Enter in a field, s or the button starts the "
                                     f"{'group' if message.form == 'group' else 'run'}[/dim]")
        self.refresh_bindings()

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Input.Submitted)
    def _field_submitted(self) -> None:
        self.action_start()

    # -- actions --------------------------------------------------------------------------------
    def refresh_bindings(self) -> None:
        # The footer rebuilds itself on every refresh; only ask when a key's state has changed.
        states = tuple(self.check_action(name, ()) for name in ("start", "pause", "stop", "restart", "compare"))
        if states != getattr(self, "_binding_states", None):
            self._binding_states = states
            super().refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        running = self.active is not None and self.active.running
        if action == "start":
            return None if self.form_problems else True
        if action in ("pause", "stop"):
            return True if running or self.replay is not None else None
        if action == "restart":
            return True if self.last_choice is not None and self.live_group is None else None
        if action == "compare":
            return True if self.primary else None
        return True

    def action_start(self) -> None:
        """Start what the Setup tab shows: the family's run, or the figure's group of runs."""
        if self.live_group is not None:
            self.notify(f"{escape(self.live_group.name)} is going: x stops the group.", severity="warning")
            return
        group = self.setup_mode == "group"
        form = self.group_form if group else self.form
        choice = form.choice()
        if choice is None:
            self.notify("Fix the settings first: " + escape("; ".join(form.problems)), severity="warning", timeout=6)
            self.show_tab("setup")
            return
        if self.active is not None and self.active.running:
            self.notify("A run is going: x stops it, " + ("then s starts the group." if group else "r restarts it."),
                        severity="warning")
            return
        if group:
            self.launch_group(choice)
        else:
            self.launch(choice)

    def action_pause(self) -> None:
        if self.replay is not None and (self.active is None or self.primary == self.replay.entry.key):
            self.replay.toggle_pause()
            self.mark("status")
            return
        entry = self.active
        if entry is None or self.engine is None or entry.state.status not in ("running", "paused"):
            return
        self.engine.send("resume" if entry.state.status == "paused" else "pause")

    def action_stop(self) -> None:
        if self.replay is not None and (self.active is None or self.primary == self.replay.entry.key):
            self.notify(f"{self.replay.entry.label}: replay skipped to the end", timeout=3)
            self.stop_replay()
            self.refresh_bindings()
            return
        entry = self.active
        if entry is None:
            return
        if self.live_group is not None and entry.key in self.live_group.keys.values():
            self.live_group.stopping = True  # the run going is the group's last
            self.notify(f"{escape(self.live_group.name)}: stopping; the runs after this one are not run", timeout=4)
        if entry is self.pending or self.engine is None:
            # Never reached the engine: end it here, with its record saying so.
            self.pending = None
            finished = RunFinished(run_id=entry.key, t=0.0, step=0, status="stopped",
                                   message="stopped before the engine was ready")
            entry.live.handle(finished)
            entry.state.apply(finished)
            self.run_ended(entry, finished)
            return
        self.engine.send("stop", reason="stopped")

    def action_restart(self) -> None:
        if self.last_choice is None:
            self.action_start()
        elif self.active is not None and self.active.running:
            self.restart_after = self.active
            self.action_stop()
        else:
            self.launch(self.last_choice)

    def action_compare(self) -> None:
        if self.primary:
            self.toggle_compare(self.primary)

    def action_log_scale(self) -> None:
        from gradfail_tui.widgets.metric_plot import MetricPlot

        focused = self.focused if isinstance(self.focused, MetricPlot) else None
        try:
            on_ = self.watch_view.toggle_log(focused)
        except NoMatches:
            return
        self.notify(f"log scale {'on' if on_ else 'off'}" + (f" for {focused.panel}" if focused else ""), timeout=2)

    def action_speed(self, direction: int) -> None:
        speeds = REPLAY_SPEEDS
        index = min(range(len(speeds)), key=lambda i: abs(speeds[i] - self.replay_speed))
        self.replay_speed = speeds[max(0, min(len(speeds) - 1, index + direction))]
        if self.replay is not None:
            self.replay.set_speed(self.replay_speed)
        self.notify(f"replay speed {self.replay_speed}x", timeout=2)
        self.mark("status", "runs")

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
            path = self.save_screenshot(filename=f"gradfail-{time.strftime('%Y%m%d-%H%M%S')}.svg",
                                        path=str(self.screenshot_dir))
        except OSError as exc:
            self.report(f"cannot save the screenshot in {self.screenshot_dir}: {exc}")
            return
        self.notify(f"screenshot saved: {escape(str(Path(path).resolve()))}", title="SVG", timeout=8)

    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit()

    async def _signalled(self) -> None:
        await self.shutdown()  # the run's record is closed and the engine gone: nothing is lost now
        # With its terminal gone, Textual can block for ever writing the last frame to it; past
        # this grace period, leave without it.
        timer = threading.Timer(EXIT_GRACE_S, os._exit, (0,))
        timer.daemon = True  # a normal exit does not wait for it
        timer.start()
        self.exit()

    # -- shutdown -------------------------------------------------------------------------------
    async def shutdown(self) -> None:
        """Stop the run (recorded as interrupted), close the engine: no orphan processes."""
        if self.closing:
            return
        self.closing = True
        self._ticker.stop()
        self.replay = None
        if self.bridge is not None:
            self.bridge.stop()
        await asyncio.to_thread(self._finish_engine)
        self._close_live_group()

    def _close_live_group(self) -> None:
        """The explorer is closing mid-group: the group is judged on what was recorded, "interrupted"."""
        if self.live_group is not None:
            self.finish_group(self.live_group, "interrupted")

    def _finish_engine(self) -> None:
        engine, entry = self.engine, self.active
        if entry is not None and entry.running and entry.live is not None:
            if engine is not None and engine.alive() and entry is not self.pending:
                engine.send("stop", reason="interrupted")
                deadline = time.monotonic() + STOP_GRACE_S
                while time.monotonic() < deadline and entry.live.finished is None:
                    item = engine.get(timeout=0.1)
                    if isinstance(item, EngineExited):
                        break
                    if isinstance(item, Event) and item.run_id == entry.key:
                        entry.live.handle(item)
            if entry.live.finished is None:
                entry.live.handle(RunFinished(run_id=entry.key, t=entry.state.t, step=entry.state.step,
                                              status="interrupted", message="the explorer was closed"))
        if engine is not None:
            engine.close()

    def on_unmount(self) -> None:
        self._handle_signals(False)
        # However the app ends (an exception, a signal), the engine must not outlive it.
        if not self.closing:
            self.closing = True
            if self.bridge is not None:
                self.bridge.stop(timeout=0.5)
            self._finish_engine()
            self._close_live_group()


def build_app(engine_factory: Callable[[], Backend] | None = None, *,
              families: dict[str, FamilySpec] | None = None, presets: list[Preset] | None = None,
              runs_dir: Path = Path("runs"), preset: str | None = None, autostart: bool = False,
              screenshot_dir: Path | None = None, plot_budget: float | None = None,
              groups: list[GroupPreset] | None = None) -> GradfailApp:
    """The app, for the command line (defaults: the real engine, the registry) and for tests.

    `groups` (the figures) are read from the presets directory with the presets; tests that pass
    `presets` get none unless they pass `groups` too."""
    from engine.registry import families as registry_families, family_errors

    errors = family_errors() if families is None else {}
    families = registry_families() if families is None else families
    preset_problems: list[str] = []
    if presets is None:
        catalog = scan()
        presets, found_groups = catalog.offered(families)
        preset_problems = list(catalog.problems)
        groups = found_groups if groups is None else groups
    groups = groups or []
    if preset is not None and preset not in {p.name for p in [*presets, *groups]}:
        chosen = load_preset(preset)  # a .toml path: PresetError says what is wrong with it
        if isinstance(chosen, GroupPreset):
            groups = [*groups, chosen]
        else:
            presets = [*presets, chosen]
        preset = chosen.name
    return GradfailApp(engine_factory or EngineProcess, families, presets, runs_dir, family_errors=errors,
                       preset=preset, autostart=autostart, screenshot_dir=screenshot_dir, plot_budget=plot_budget,
                       preset_problems=preset_problems, groups=groups)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    # argparse, not Typer: the first frame should not wait for imports it does not need.
    parser = argparse.ArgumentParser(prog="gradfail-tui", description="The gradfail explorer (a terminal UI).")
    parser.add_argument("--preset", "-p", help="open with this preset chosen (see `gradfail presets`)")
    parser.add_argument("--start", action="store_true", help="start the preset's run at once")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run records go (default: runs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.start and not args.preset:
        print("gradfail-tui: --start needs --preset NAME", file=sys.stderr)
        return 2
    try:
        app = build_app(runs_dir=args.runs_dir, preset=args.preset, autostart=args.start)
    except PresetError as exc:
        print(f"gradfail-tui: {exc}", file=sys.stderr)
        return 2
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
