"""`gradfail run` without a screen: drive runs through the engine process and show them with Rich.

The same path the TUI uses (EngineProcess -> events -> LiveRun record + RunState), drawn as a
Rich progress display on a terminal, or as a plain line every few seconds when the output is a
file or a CI log. One run, or several seeds of one config trained together (`--seeds N`), each
recorded as its own run.
"""

from __future__ import annotations

import contextlib
import signal
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from engine.client import EngineExited, EngineProcess, LiveRun, RunRequest, start_command
from engine.events import EngineReady, Event, RunFinished, worst_status
from engine.record import GroupRecorder, RecordError
from engine.registry import FamilySpec, get_family
from engine.state import RunState
from gradfail_tui.render.format import format_duration, format_metrics
from gradfail_tui.render.plots import family_figure, figure_width, snapshot_renderable
from gradfail_tui.render.tables import ending_line, facts_line, run_table, seeds_table, summary_facts

EXIT_CODES = {"completed": 0, "stopped": 0, "failed": 1, "diverged": 3, "interrupted": 130}  # README lists them
STOP_GRACE_S = 10.0  # how long stopping runs may take to say they have stopped
PLAIN_EVERY_S = 5.0  # seconds between progress lines when the output is not a terminal


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP (an SSH session dropping) arrived."""


def exit_code(finished: list[RunFinished]) -> int:
    """The worst outcome decides: interrupted, then bad input, failed, diverged; 0 if all completed."""
    statuses = {f.status for f in finished}
    if "interrupted" in statuses:
        return 130
    if any(f.status == "failed" and f.error_kind == "config" for f in finished):
        return 2
    for status in ("failed", "diverged"):
        if status in statuses:
            return EXIT_CODES[status]
    return 0


class HeadlessSession:
    """The runs of one `gradfail run`, their records and their states, fed by one engine process."""

    def __init__(self, requests: list[RunRequest], run_dirs: list[Path]):
        self.requests = requests
        self.lives = {r.run_id: LiveRun(r, d) for r, d in zip(requests, run_dirs)}
        self.states = {r.run_id: RunState(run_id=r.run_id, label=r.label) for r in requests}
        self.finished: dict[str, RunFinished] = {}
        self.start_sent = False  # whether the engine was asked to train them (else there is nothing to stop)

    def start(self, engine: EngineProcess) -> None:
        """Ask the engine to train the runs; if it cannot be told, its EngineExited follows."""
        self.start_sent = engine.send("start", **start_command(self.requests))

    @property
    def done(self) -> bool:
        return len(self.finished) == len(self.requests)

    def handle(self, event: Event) -> None:
        live = self.lives.get(event.run_id)
        if live is None or event.run_id in self.finished:
            return
        live.handle(event)
        self.states[event.run_id].apply(event)
        if isinstance(event, RunFinished):
            self.finished[event.run_id] = event

    def record_error(self) -> str | None:
        return next((live.record_error for live in self.lives.values() if live.record_error), None)

    def end_all(self, status: str, message: str = "", error_kind: str = "", tb: str = "") -> None:
        """Close every run not yet finished with this status (the engine can no longer say)."""
        for run_id, state in self.states.items():
            if run_id not in self.finished:
                self.handle(RunFinished(run_id=run_id, t=state.t, step=state.step, status=status,
                                        message=message or f"{status} at step {state.step}",
                                        error_kind=error_kind, traceback=tb))

    def progress_fields(self, headline) -> dict:
        states = list(self.states.values())
        lead = states[0]
        if len(states) == 1:
            metrics = format_metrics(lead.latest, headline)
        else:
            means = {name: statistics.fmean(s.latest[name] for s in states if name in s.latest)
                     for name in headline if any(name in s.latest for s in states)}
            metrics = f"mean of {len(states)} seeds: " + format_metrics(means, headline)
        rate = lead.steps_per_s()
        return dict(total=lead.total_steps or None, completed=lead.step, metrics=metrics,
                    rate=f"{rate:,.0f} steps/s" if rate else "", eta=format_duration(lead.eta_s()))


def run_headless(requests: list[RunRequest], run_dirs: list[Path], console: Console,
                 group_record: GroupRecorder | None = None, engine: EngineProcess | None = None) -> int:
    """Train the requests (one run, or seeds together) to their end; returns the exit code.
    `engine`: one already started (or not), which this closes when done."""
    spec = get_family(requests[0].family)
    headline = spec.headline_metrics()
    session = HeadlessSession(requests, run_dirs)
    engine = engine or EngineProcess()
    progress = make_progress(console)
    label = requests[0].label + (f" × {len(requests)} seeds" if len(requests) > 1 else "")
    task = progress.add_task(label, total=None, rate="", eta="-", metrics="starting engine")
    wall_start = time.perf_counter()
    try:
        with signals_interrupt():
            engine.start()
            with progress if console.is_terminal else contextlib.nullcontext():
                drive_or_stop(engine, session, progress, task, headline, console)
    finally:
        engine.close()
    wall = time.perf_counter() - wall_start
    if group_record is not None:
        ends = [session.finished[r.run_id] for r in requests]
        try:
            for number, end in enumerate(ends, 1):
                group_record.set_member(number, status=end.status, steps=end.step)
            group_record.finish(worst_status(end.status for end in ends))
        except RecordError as exc:  # the runs' own records are complete; only the tie between them is not
            console.print(f"[red]the group record is incomplete:[/] {escape(str(exc))}")
    _print_summary(console, spec, session, wall)
    return exit_code(list(session.finished.values()))


@contextlib.contextmanager
def signals_interrupt():
    """SIGTERM and SIGHUP (an SSH session dropping) raise Interrupted, as Ctrl-C raises KeyboardInterrupt."""
    def on_signal(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def make_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
        TextColumn("{task.fields[metrics]}"), console=console, refresh_per_second=10, transient=False)


def drive(engine: EngineProcess, session: HeadlessSession, progress, task, headline, console,
          engine_ready: bool = False) -> None:
    """Start the session's runs once the engine is ready and record their events until they finish."""
    last_plain = time.perf_counter()
    if engine_ready:
        session.start(engine)
    while not session.done:
        item = engine.get(timeout=0.2)
        if item is None:
            continue
        if isinstance(item, EngineExited):
            session.end_all("failed", item.describe(), "crash", item.stderr_tail)
            return
        if isinstance(item, EngineReady):
            session.start(engine)
            progress.update(task, metrics=f"engine ready (torch {item.torch_version})")
            continue
        session.handle(item)
        if session.record_error() and not session.done:  # never train on without recording
            stop_runs(engine, session, "failed", f"stopped: {session.record_error()}")
            return
        progress.update(task, **session.progress_fields(headline))
        if not console.is_terminal and time.perf_counter() - last_plain >= PLAIN_EVERY_S:
            last_plain = time.perf_counter()
            fields = session.progress_fields(headline)
            console.print(f"{session.requests[0].label}: step {fields['completed']}/{fields['total']}  "
                          f"{fields['metrics']}")


def drive_or_stop(engine: EngineProcess, session: HeadlessSession, progress, task, headline, console,
                  engine_ready: bool = False) -> bool:
    """`drive` the session's runs to their end; on Ctrl-C, SIGTERM or SIGHUP stop them and record them
    as interrupted. Returns whether it was interrupted."""
    try:
        drive(engine, session, progress, task, headline, console, engine_ready=engine_ready)
        return False
    except (KeyboardInterrupt, Interrupted):
        progress.update(task, metrics="[yellow]interrupted: stopping…")
        stop_runs(engine, session, "interrupted")
        return True


def stop_runs(engine: EngineProcess, session: HeadlessSession, status: str, message: str = "") -> None:
    """Ask the engine to stop, keep recording until it has, then close the records with `status`.
    Runs the engine was never asked to train (Ctrl-C while it was still starting) end at once."""
    if not session.start_sent:
        session.end_all(status, message)
        return
    engine.send("stop", reason="interrupted" if status == "interrupted" else "stopped")
    deadline = time.perf_counter() + STOP_GRACE_S
    stopped: set[str] = set()
    try:
        while time.perf_counter() < deadline and len(stopped | set(session.finished)) < len(session.requests):
            item = engine.get(timeout=0.2)
            if isinstance(item, EngineExited):
                break
            if isinstance(item, RunFinished):  # replaced below by the status this stop is for
                if item.run_id in session.states:
                    session.states[item.run_id].step = max(session.states[item.run_id].step, item.step)
                stopped.add(item.run_id)
            elif isinstance(item, Event):
                session.handle(item)
    except (KeyboardInterrupt, Interrupted):
        pass  # a second Ctrl-C: stop waiting
    session.end_all(status, message)


def _print_summary(console: Console, spec: FamilySpec, session: HeadlessSession, wall: float) -> None:
    states = list(session.states.values())
    finished = [session.finished[s.run_id] for s in states]
    figure = family_figure(spec, states, figure_width(console.width))
    if figure is not None:
        console.print(figure)
    if len(states) == 1:
        print_snapshots(console, states[0])
    worst = next((f for f in finished if f.status not in ("completed", "stopped")), finished[0])
    facts = summary_facts(states, wall, session.requests[0].device)
    if len(states) == 1:
        console.print(run_table(spec, states[0], worst.status, facts))
    else:
        console.print(seeds_table(spec, states, [f.status for f in finished], worst.status))
        console.print(facts_line(facts))
    if worst.status not in ("completed", "stopped"):
        console.print(ending_line(worst.status, worst.message))
    if session.record_error():
        console.print(f"[red]A run record is incomplete: {session.record_error()}[/]")
    dirs = [live.run_dir for live in session.lives.values()]
    console.print(f"run record: {dirs[0]}" if len(dirs) == 1 else f"run records: {dirs[0].parent}/ ({len(dirs)} runs)")


def print_snapshots(console: Console, state: RunState) -> None:
    """The run's last pictures that a terminal can show: "lines" as a plot, "table" as a table."""
    width = figure_width(console.width)
    for snap in state.snapshots.values():
        drawn = snapshot_renderable(snap, width)
        if drawn is not None:
            console.print(drawn)
