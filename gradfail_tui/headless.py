"""`gradfail run` without a screen: what the orchestration layer reports, drawn with Rich.

The orchestration layer (engine/orchestration) drives the engine, records every event and folds it
into the runs' states, exactly as it does for the explorer; this module only displays: a Rich
progress display on a terminal (a bar per run, and one for a group's runs), or a plain line every
few seconds when the output is a file or a CI log; then the figure, the summary table and, for a
group preset, the claims with their verdict. Ctrl-C, SIGTERM and SIGHUP (an SSH session dropping)
stop the runs, which are recorded `interrupted` with everything they said before.
"""

from __future__ import annotations

import contextlib
import signal
import statistics
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from engine.client import Backend, EngineExited
from engine.events import EngineReady, Event, RunFinished, SettingChanged, Snapshot
from engine.figures import Figure, FigureData, figure_data
from engine.orchestration import Conductor, EngineSlot, GroupRun, Job, JobKind, Listener, LiveRun, RunBatch, RunsJob
from engine.orchestration.paper import PaperRun
from engine.record import is_run_dir, read_run
from engine.registry import get_family
from engine.status import RunStatus, exit_code
from gradfail_tui.render.figure import render_figure
from gradfail_tui.render.format import format_duration, format_metrics
from gradfail_tui.render.plots import family_figure, figure_width, overlay_figure, snapshot_renderable
from gradfail_tui.render.tables import (
    ending_line,
    facts_line,
    group_table,
    paper_table,
    run_table,
    seeds_table,
    summary_facts,
    verdict_line,
    verdict_table,
)

PLAIN_EVERY_S = 5.0  # seconds between progress lines when the output is not a terminal


class Interrupted(Exception):
    """SIGTERM or SIGHUP arrived (Ctrl-C raises KeyboardInterrupt)."""


@contextlib.contextmanager
def signals_interrupt():
    """SIGTERM and SIGHUP raise Interrupted, as Ctrl-C raises KeyboardInterrupt."""

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
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA {task.fields[eta]}"),
        TextColumn("{task.fields[metrics]}"),
        console=console,
        refresh_per_second=10,
        transient=False,
    )


def progress_fields(lives: list[LiveRun], headline: tuple[str, ...]) -> dict:
    """A batch's bar: its lead run's step, rate and ETA; its metrics, or their mean over the seeds."""
    states = [live.state for live in lives]
    lead = states[0]
    if len(states) == 1:
        metrics = format_metrics(lead.latest, headline)
    else:
        means = {
            name: statistics.fmean(s.latest[name] for s in states if name in s.latest)
            for name in headline
            if any(name in s.latest for s in states)
        }
        metrics = f"mean of {len(states)} seeds: " + format_metrics(means, headline)
    rate = lead.steps_per_s()
    return dict(
        total=lead.total_steps or None,
        completed=lead.step,
        metrics=metrics,
        rate=f"{rate:,.0f} steps/s" if rate else "",
        eta=format_duration(lead.eta_s()),
    )


class HeadlessDisplay(Listener):
    """The live part: a bar per batch (and one for a group), or plain lines in a log."""

    def __init__(self, console: Console, job: Job):
        self.console = console
        self.progress = make_progress(console)
        self.bars: dict[str, tuple[RunBatch, int]] = {}  # run id -> its batch and the batch's bar
        self.last_plain = time.perf_counter()
        self.job = job
        self.overall = None  # a bar over the job's runs, for a job of more than one batch in turn
        if job.kind in OVERALL_BAR:
            self.overall = self.progress.add_task(
                f"{job.name} ({job.scale})", total=job.total_runs, rate="", eta="-", metrics=""
            )

    @contextlib.contextmanager
    def live(self):
        """The progress display while the runs go (a log gets plain lines instead)."""
        if not self.console.is_terminal:
            yield
            return
        self.progress.start()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # the terminal went away (an SSH session dropped)
                self.progress.stop()

    def batch_started(self, batch: RunBatch) -> None:
        many = len(batch.lives) > 1
        label = (self.job.name if many else batch.lives[0].label) + (f" × {len(batch.lives)} seeds" if many else "")
        task = self.progress.add_task(label, total=None, rate="", eta="-", metrics="starting engine")
        self.bars.update({live.run_id: (batch, task) for live in batch.lives})
        if self.overall is not None:
            where = self.job.position(batch)
            self.progress.update(self.overall, metrics=where)
            if not self.console.is_terminal:
                self.console.print(f"[bold]{escape(self.job.name)}[/]: {escape(where)}")

    def engine_ready(self, slot: EngineSlot, ready: EngineReady) -> None:
        if slot.batch is not None:
            _, task = self.bars[slot.batch.lives[0].run_id]
            self.progress.update(task, metrics=f"engine ready (torch {ready.torch_version})")

    def engine_lost(self, slot: EngineSlot, exited: EngineExited, restarting: bool, died: list[LiveRun]) -> None:
        if not died:
            self.console.print(f"[red]{escape(exited.describe())}[/]")

    def run_event(self, live: LiveRun, event: Event) -> None:
        batch, task = self.bars[live.run_id]
        if isinstance(event, SettingChanged) and live is batch.lives[0]:  # seeds change together: said once
            self.progress.console.print(f"{escape(live.label)}: after step {event.step:,}, {escape(event.describe())}")
        fields = progress_fields(batch.lives, get_family(live.request.family).headline_metrics())
        self.progress.update(task, **fields)
        if not self.console.is_terminal and time.perf_counter() - self.last_plain >= PLAIN_EVERY_S:
            self.last_plain = time.perf_counter()
            self.console.print(f"{live.label}: step {fields['completed']}/{fields['total']}  {fields['metrics']}")

    def run_ended(self, live: LiveRun, finished: RunFinished) -> None:
        if self.overall is not None:
            _, task = self.bars[live.run_id]
            self.progress.update(task, completed=live.state.step, metrics=finished.status)
            self.progress.advance(self.overall)

    def problem(self, text: str) -> None:
        self.console.print(f"[red]{escape(text)}[/]")

    def interrupted(self) -> None:
        for _, task in self.bars.values():
            self.progress.update(task, metrics="[yellow]interrupted: stopping…")


def conduct(conductor: Conductor, job: Job, display) -> bool:
    """Train `job` on `conductor` while `display` (a Listener with `live()` and `interrupted()`) shows it.
    Ctrl-C, SIGTERM or SIGHUP stop it with its runs recorded interrupted; a second one stops waiting for
    the engines. The job is finished either way; returns whether it was interrupted."""
    interrupted = False
    with signals_interrupt():
        try:
            with display.live():
                try:
                    conductor.start()
                    conductor.submit(job)
                    conductor.run()
                except (KeyboardInterrupt, Interrupted):
                    interrupted = True
                    display.interrupted()
                    conductor.shutdown(RunStatus.INTERRUPTED)
        except (KeyboardInterrupt, Interrupted):  # a second one: the records are closed; stop waiting
            interrupted = True
        finally:
            conductor.close()
    if not job.finished:  # the second interruption came before the job was closed
        job.finish(RunStatus.INTERRUPTED)
    return interrupted


def run_job(job: Job, console: Console, engine: Backend | None = None) -> int:
    """Train a job's runs to their end through one engine (`engine`: one already started, which this
    closes when done), show them, and return the exit code."""
    display = HeadlessDisplay(console, job)
    conductor = Conductor(listener=display, started=[engine] if engine is not None else None)
    wall_start = time.perf_counter()
    interrupted = conduct(conductor, job, display)
    wall = time.perf_counter() - wall_start
    try:
        print_end = END_PRINTERS.get(job.kind, print_summary)
        print_end(console, job, wall)
    except OSError:
        pass  # the terminal went away: the records are complete, and there is nothing left to show them on
    endings = [(live.state.status, live.finished.error_kind if live.finished else "") for live in job.lives]
    return exit_code(endings + ([(RunStatus.INTERRUPTED, "")] if interrupted else []))


def print_summary(console: Console, job: Job, wall: float) -> None:
    """Any job: how it ended, in one line, and where its record is (a kind of job with nothing more to
    show, or one this display has not learnt to draw yet)."""
    console.print(f"{escape(job.title)}: {escape(job.summary())}")
    console.print(f"wall time {format_duration(wall)}")
    console.print(f"record: {job.path}")


def print_runs(console: Console, job: RunsJob, wall: float) -> None:
    """One run (or its seeds): the figure, its pictures, the summary table, where the record is."""
    spec = get_family(job.lives[0].request.family)
    states = [live.state for live in job.lives]
    finished = [live.finished for live in job.lives]
    figure = family_figure(spec, states, figure_width(console.width))
    if figure is not None:
        console.print(figure)
    if len(states) == 1:
        print_snapshots(console, job.lives[0])
    worst = next((f for f in finished if f.status not in (RunStatus.COMPLETED, RunStatus.STOPPED)), finished[0])
    facts = summary_facts(states, wall, job.lives[0].request.device)
    if len(states) == 1:
        console.print(run_table(spec, states[0], worst.status, facts))
    else:
        console.print(seeds_table(spec, states, [f.status for f in finished], worst.status))
        console.print(facts_line(facts))
    if worst.status not in (RunStatus.COMPLETED, RunStatus.STOPPED):
        console.print(ending_line(worst.status, worst.message))
    if job.batch.record_error:
        console.print(f"[red]A run record is incomplete: {job.batch.record_error}[/]")
    dirs = [live.run_dir for live in job.lives]
    console.print(f"run record: {dirs[0]}" if len(dirs) == 1 else f"run records: {dirs[0].parent}/ ({len(dirs)} runs)")


def print_figure(console: Console, data: FigureData, width: int, height: int = 24) -> None:
    """A declared figure (engine/figures.py), each page of its panels in turn (no keys to page with here)."""
    text, page = render_figure(data, width, height, keys=False)
    console.print(text)
    for number in range(1, page.pages):
        console.print(render_figure(data, width, height, page=number, keys=False)[0])


def recorded_pictures(figure: Figure, job: GroupRun) -> dict[str, list[Snapshot]]:
    """Every picture the figure draws from, as each run recorded it: a run's state keeps only its latest,
    and Figure 6 shows the decoded curves at several steps (500, 10,000 and 50,000 iterations), as the talk
    and the report do from the records."""
    if figure.picture is None:
        return {}
    name = figure.picture.snapshot
    return {
        live.label: [e for e in read_run(live.run_dir).events if isinstance(e, Snapshot) and e.name == name]
        for live in job.lives
        if is_run_dir(live.run_dir)
    }


def print_group(console: Console, job: GroupRun, wall: float = 0.0) -> None:
    """The group's figures, its runs' table, the claims with their verdict, where the record is."""
    group, states = job.preset, job.states()
    width = figure_width(console.width)
    specs = [get_family(m.family) for m in job.members]
    if group.figure is not None and group.figure.declared:  # the paper's figure, as the talk draws it
        data = figure_data(group.figure, states, recorded_pictures(group.figure, job))
        print_figure(console, data, max(width, console.width))  # the terminal's width: more panels side by side
    else:
        for metric in group.plot:
            figure = overlay_figure(group.title, metric, states, specs, log_y=group.log_y, width=width)
            if figure is not None:
                console.print(figure)
    for live in job.lives:
        if group.shows_snapshots(live.label):
            print_snapshots(console, live)
    console.print(group_table(group.name, job.members, states))
    console.print(verdict_table(job.verdict))
    console.print(verdict_line(job.verdict))
    console.print(f"wall time {format_duration(job.wall_s)}")
    console.print(f"group record: {job.path}")


def print_paper(console: Console, job: PaperRun, wall: float = 0.0) -> None:
    """Each result's runs and claims with its verdict, in the paper's order, then the overall summary."""
    for group, entry in zip(job.runs, job.manifest["results"], strict=False):
        console.print(f"\n[bold]{escape(entry['heading'])}[/]  ({group.preset.name})")
        console.print(group_table(group.preset.name, group.members, group.states()))
        if group.verdict is not None:
            console.print(verdict_table(group.verdict))
            console.print(verdict_line(group.verdict))
    console.print(paper_table(job.manifest))
    console.print(f"wall time {format_duration(job.wall_s)}")
    console.print(f"paper record: {job.path} (a talk deck: gradfail talk {job.path})")


# What each kind of job shows at its end; a kind not listed gets print_summary.
END_PRINTERS = {
    JobKind.RUN: print_runs,
    JobKind.SEEDS: print_runs,
    JobKind.GROUP: print_group,
    JobKind.PAPER: print_paper,
}
OVERALL_BAR = (JobKind.GROUP, JobKind.PAPER)  # kinds whose runs go one after another: a bar over them all


def print_snapshots(console: Console, live: LiveRun) -> None:
    """The run's last pictures that a terminal can show: "lines" as a plot, "table" as a table."""
    width = figure_width(console.width)
    for snap in live.state.snapshots.values():
        drawn = snapshot_renderable(snap, width)
        if drawn is not None:
            console.print(drawn)
