"""`gradfail run` without a screen: drive one run through the engine process and show it with Rich.

The same path the TUI uses (EngineProcess -> events -> LiveRun record + RunState), drawn as a
Rich progress display on a terminal, or as a plain line every few seconds when the output is a
file or a CI log.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.client import EngineExited, EngineProcess, LiveRun, RunRequest
from engine.events import EngineReady, Event, RunFinished
from engine.registry import get_family
from engine.state import RunState
from gradfail_tui.terminal_plot import format_value, render_plot

EXIT_CODES = {"completed": 0, "stopped": 0, "failed": 1, "diverged": 3, "interrupted": 130}
STOP_GRACE_S = 10.0  # how long a stopping run may take to say it has stopped
PLAIN_EVERY_S = 5.0  # seconds between progress lines when the output is not a terminal


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP (an SSH session dropping) arrived."""


def exit_code(finished: RunFinished) -> int:
    if finished.status == "failed" and finished.error_kind == "config":
        return 2
    return EXIT_CODES.get(finished.status, 1)


def format_metrics(values: dict[str, float], names: tuple[str, ...] | list[str]) -> str:
    return "  ".join(f"{name} {format_value(values[name])}" for name in names if name in values)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def run_headless(request: RunRequest, run_dir: Path, console: Console) -> int:
    spec = get_family(request.family)
    headline = spec.headline or tuple(m.name for m in spec.metrics)
    state = RunState(run_id=request.run_id, label=request.label)
    engine = EngineProcess()
    live = LiveRun(request, run_dir)

    def on_signal(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
        TextColumn("{task.fields[metrics]}"), console=console, refresh_per_second=10, transient=False)
    task = progress.add_task(request.label, total=None, rate="", eta="-", metrics="starting engine")
    wall_start = time.perf_counter()
    try:
        engine.start()
        with progress if console.is_terminal else _NoProgress():
            try:
                finished = _drive(engine, live, state, progress, task, headline, console)
            except (KeyboardInterrupt, Interrupted):
                progress.update(task, metrics="[yellow]interrupted: stopping the run…")
                finished = _stop(engine, live, state)
    finally:
        engine.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    wall = time.perf_counter() - wall_start
    _print_summary(console, spec, state, live, finished, wall)
    return exit_code(finished)


def _drive(engine, live, state, progress, task, headline, console) -> RunFinished:
    last_plain = time.perf_counter()
    while True:
        item = engine.get(timeout=0.2)
        if item is None:
            continue
        if isinstance(item, EngineExited):
            return live.engine_died(item)
        if isinstance(item, EngineReady):
            if not live.start(engine):
                continue  # the engine died right away; its EngineExited comes next
            progress.update(task, metrics=f"engine ready (torch {item.torch_version})")
            continue
        if item.run_id != live.request.run_id:
            continue
        live.handle(item)
        state.apply(item)
        if isinstance(item, RunFinished):
            return item
        if live.record_error:  # never train on without recording
            return _stop(engine, live, state, "failed", f"stopped: {live.record_error}")
        progress.update(task, total=state.total_steps or None, completed=state.step,
                        rate=f"{state.steps_per_s():,.0f} steps/s" if state.steps_per_s() else "",
                        eta=format_duration(state.eta_s()), metrics=format_metrics(state.latest, headline))
        if not console.is_terminal and time.perf_counter() - last_plain >= PLAIN_EVERY_S:
            last_plain = time.perf_counter()
            console.print(f"step {state.step}/{state.total_steps}  {format_metrics(state.latest, headline)}")


def _stop(engine: EngineProcess, live: LiveRun, state: RunState, status: str = "interrupted",
          message: str = "") -> RunFinished:
    """Ask the engine to stop the run, keep recording until it has, then close the record with `status`."""
    engine.send("stop", reason="interrupted" if status == "interrupted" else "stopped")
    deadline = time.perf_counter() + STOP_GRACE_S
    try:
        while time.perf_counter() < deadline:
            item = engine.get(timeout=0.2)
            if isinstance(item, EngineExited):
                break
            if isinstance(item, Event) and item.run_id == live.request.run_id:
                if isinstance(item, RunFinished):
                    state.step = item.step
                    break
                live.handle(item)
                state.apply(item)
    except (KeyboardInterrupt, Interrupted):
        pass  # a second Ctrl-C: stop waiting
    finished = RunFinished(run_id=live.request.run_id, t=state.t, step=state.step, status=status,
                           message=message or f"{status} at step {state.step}")
    live.handle(finished)
    state.apply(finished)
    return finished


def _print_summary(console: Console, spec, state: RunState, live: LiveRun, finished: RunFinished,
                   wall: float) -> None:
    colour = {"completed": "green", "stopped": "yellow", "interrupted": "yellow"}.get(finished.status, "red")
    _print_figure(console, spec, state)
    table = Table(title=f"{state.label}: [{colour}]{finished.status}[/]", title_justify="left")
    table.add_column("metric")
    table.add_column("last", justify="right")
    for name, value in state.latest.items():
        metric = spec.metric(name)
        table.add_row(metric.label if metric else name, format_value(value))
    table.add_row("steps", f"{state.step:,} / {state.total_steps:,}")
    training = f"; training {state.step / state.t:,.0f} steps/s" if state.t > 0 and state.step else ""
    table.add_row("wall time", f"{format_duration(wall)} (engine start included{training})")
    table.add_row("device", state.device_name or state.device or live.request.device)
    console.print(table)
    if finished.status not in ("completed", "stopped"):
        console.print(f"[{colour}]{finished.message or finished.status}[/]")
    if live.record_error:
        console.print(f"[red]The run record is incomplete: {live.record_error}[/]")
    console.print(f"run record: {live.run_dir}")


def _print_figure(console: Console, spec, state: RunState) -> None:
    """The family's first panel (accuracy for parity) against the step, when there is a curve to show."""
    panel = spec.metrics[0].panel
    metrics = [m for m in spec.metrics if m.panel == panel and len(state.series.get(m.name, [])) >= 2]
    if not metrics:
        return
    width = max(40, min(console.width, 100))
    console.print(render_plot({m.label: state.series[m.name] for m in metrics}, f"{state.label}: {panel}",
                              width=width, height=14, log_y=metrics[0].log_scale))


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
