"""`gradfail sweep`: many runs over a grid, on a local pool of engine processes or on Ray, drawn as a phase diagram.

The orchestration layer does the work (a `SweepRun` job over a `Conductor` with N engine slots;
engine/orchestration/sweep.py); this module chooses the executor, shows the progress (runs done /
running / failed, an ETA, and the heatmap filling in on a terminal; a plain line every few seconds
in a log) and prints the phase diagram and the table at the end. Ctrl-C, SIGTERM and SIGHUP stop
the runs in flight, which are recorded `interrupted`; sweep.json stays consistent and
`gradfail sweep --resume DIR` runs what is left.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from engine.client import Backend, EngineExited
from engine.events import Event, RunFinished
from engine.orchestration import Conductor, EngineSlot, Listener, LiveRun
from engine.orchestration.jobs import counts_line
from engine.orchestration.sweep import SweepRun
from engine.presets import DEFAULT_SCALE
from engine.status import RunStatus, exit_code, is_final
from engine.sweeps import SweepRecord
from gradfail_tui.headless import conduct
from gradfail_tui.pool import default_workers, share_of_cores
from gradfail_tui.render.format import format_duration
from gradfail_tui.render.heatmap import boundary_parts, cells_table, diagram

PLAIN_EVERY_S = 5.0
LIVE_HZ = 2  # the live heatmap redraws this often: a sweep's cells change in seconds, not milliseconds


def progress_line(job: SweepRun, running: dict[str, LiveRun]) -> str:
    return (
        f"{job.title}: {counts_line(job.counts(), len(job.runs), 'runs')}"
        f"  ·  elapsed {format_duration(time.monotonic() - job.started)}  ·  ETA {format_duration(eta_s(job, running))}"
    )


def eta_s(job: SweepRun, running: dict[str, LiveRun]) -> float | None:
    """Time left, from this session's pace in steps (ended runs' steps plus the running ones' so far)."""
    configs = job.configs
    total = sum(configs[run["cell"]].steps for run in job.runs)
    before = job.steps_before
    ended = sum(configs[r["cell"]].steps for r in job.runs if is_final(r["status"]))
    live = sum(live.state.step for live in running.values())
    done_now = ended + live - before
    elapsed = time.monotonic() - job.started
    if done_now <= 0 or elapsed <= 0:
        return None
    return max(0.0, (total - ended - live) * elapsed / done_now)


class SweepDisplay(Listener):
    """Counts, the ETA and, on a terminal, the heatmap as it fills in."""

    def __init__(self, console: Console, job: SweepRun):
        self.console = console
        self.job = job
        self.running: dict[str, LiveRun] = {}
        self.last_plain = time.monotonic()
        self.lost_engines = 0

    def line(self) -> str:
        """The progress line (an audit's display, gradfail_tui/audit.py, says its own)."""
        return progress_line(self.job, self.running)

    def render(self):
        parts = [Text(self.line(), style="bold")]
        parts += diagram(SweepRecord.from_manifest(self.job.manifest))
        return Group(*parts)

    @contextlib.contextmanager
    def live(self):
        if not self.console.is_terminal:
            yield
            return
        with Live(get_renderable=self.render, console=self.console, refresh_per_second=LIVE_HZ, transient=True):
            yield

    def interrupted(self) -> None:
        self.console.print("[yellow]interrupted: stopping the runs in flight…[/]")

    def run_event(self, live: LiveRun, event: Event) -> None:
        if not live.ended:
            self.running[live.run_id] = live
        self.plain()

    def run_ended(self, live: LiveRun, finished: RunFinished) -> None:
        self.running.pop(live.run_id, None)
        if finished.status not in (RunStatus.COMPLETED, RunStatus.DIVERGED, RunStatus.INTERRUPTED):
            self.console.print(f"[red]{escape(live.label)}: {escape(finished.message or finished.status)}[/]")
        self.plain()

    def engine_lost(self, slot: EngineSlot, exited: EngineExited, restarting: bool, died: list[LiveRun]) -> None:
        self.lost_engines += 1
        self.console.print(
            f"[red]{escape(exited.describe())}[/]"
            + (f" ({len(died)} run{'s' if len(died) != 1 else ''} marked failed)" if died else "")
            + ("; a new engine takes its place" if restarting else "")
        )

    def problem(self, text: str) -> None:
        self.console.print(f"[red]{escape(text)}[/]")

    def plain(self) -> None:
        if self.console.is_terminal or time.monotonic() - self.last_plain < PLAIN_EVERY_S:
            return
        self.last_plain = time.monotonic()
        self.console.print(self.line(), highlight=False)


def print_sweep(console: Console, manifest: dict, path: Path) -> None:
    """The phase diagram, the cells' table, the wall time and pace, and where the record is."""
    record = SweepRecord.from_manifest(manifest)
    for part in diagram(record):
        console.print(part)
    success = record.mapping.success is not None
    console.print(cells_table(list(record.cells), record.keys, record.mapping.describe(), success, record.mapping.x))
    if success:
        console.print(success_note(record), highlight=False)
    for part in boundary_parts(record, max(40, min(console.width, 100))):
        console.print(part, highlight=False)
    runs = record.runs
    trained = sum(1 for r in runs if r.status in (RunStatus.COMPLETED, RunStatus.DIVERGED, RunStatus.FAILED))
    wall = record.wall_s
    pace = f"  ·  {trained / wall * 60:,.1f} runs/min" if wall > 0 and trained else ""  # not counting runs cut short
    failed = sum(1 for r in runs if r.status in (RunStatus.FAILED, RunStatus.DIVERGED))
    left = sum(1 for r in runs if r.status not in (RunStatus.COMPLETED, RunStatus.DIVERGED))
    console.print(
        f"sweep {record.status}: {record.ended}/{len(runs)} runs ended ({failed} failed or diverged)"
        f"  ·  wall time {format_duration(wall)}{pace}",
        highlight=False,
    )
    console.print(steps_line(record), highlight=False)
    if left:
        console.print(f"{left} run{'s' if left != 1 else ''} not completed: `gradfail sweep --resume {path}` runs them")
    console.print(f"sweep record: {path}", highlight=False)


def steps_line(record: SweepRecord) -> str:
    """The steps the sweep trained, the figure that does not depend on the machine's load: summed over
    runs, and, with seeds as lanes, over cells (a cell's model trains until its last seed ends)."""
    steps = sum(run.steps for run in record.runs)
    early = sum(1 for run in record.runs if run.stopped_early)
    text = f"steps trained: {steps:,} over {len(record.runs):,} runs"
    if record.batched:
        model = sum(max((run.steps for run in cell.runs), default=0) for cell in record.cells)
        text += f" ({model:,} steps of the cells' models, seeds as lanes)"
    if early:
        text += f"  ·  {early} run{'s' if early != 1 else ''} stopped early once passed"
    return text


def success_note(record: SweepRecord) -> str:
    """What a success map's numbers are, under its table."""
    left = sum(cell.successes.left_out for cell in record.cells)
    return (
        f"passed: k of n seeds with {record.mapping.describe_success()} (a diverged seed did not pass); "
        "95% interval: Wilson's, for the rate of passing at that cell"
        + (f"; {left} seed{'s' if left != 1 else ''} left out of n (failed or interrupted)" if left else "")
    )


def run_sweep(
    job: SweepRun,
    console: Console,
    workers: int,
    engine_factory: Callable[[], Backend],
    started: list[Backend] | None = None,
) -> int:
    """Run the sweep's batches over `workers` engines, show them, and return the exit code."""
    display = SweepDisplay(console, job)
    conductor = Conductor(engine_factory, display, engines=workers, started=started)
    interrupted = conduct(conductor, job, display)
    try:
        print_sweep(console, job.manifest, job.path)
    except OSError:
        pass  # the terminal went away; the record is complete
    endings = [(run["status"], "") for run in job.runs]
    return exit_code(endings + ([(RunStatus.INTERRUPTED, "")] if interrupted else []))


@dataclass(frozen=True)
class SweepOptions:
    """What `gradfail sweep` was asked for: its options as the command line gave them (cli.py makes one)."""

    preset: str | None = None
    family: str | None = None
    grid: tuple[str, ...] = ()  # --grid key=start:stop:step or key=a,b,c, one axis each
    assignments: tuple[str, ...] = ()  # --set key=value
    steps: int | None = None
    seeds: int | None = None
    seed: int | None = None
    workers: int | None = None
    lanes: bool = True
    mapping: dict = field(default_factory=dict)  # the heatmap's metric, stat, x and y, those given
    success: str | None = None  # --success "METRIC[:STAT] >= VALUE": map the share of seeds that pass
    scale: str | None = None
    device: str = "cpu"
    out: Path | None = None
    runs_dir: Path = Path("runs")
    resume: Path | None = None
    force: bool = False
    ray: str | None = None
    refine: int = 0  # --refine N: up to N extra cells spent locating where success crosses one half along x
    resolution: float | None = None  # --resolution: how close a boundary is located (default: the axis')
    stop_when_decided: bool = False  # --stop-when-decided: a run stops once it has passed the success test


def prepare(options: SweepOptions):
    """The sweep the command line asks for (SweepError, or ConfigError for --set, naming what is wrong)."""
    import dataclasses

    from engine.catalog import load_preset
    from engine.config import parse_assignments
    from engine.presets import PresetError
    from engine.sweeps import SweepError, SweepPreset, parse_grid_option, parse_success, resolve

    mapping = dict(options.mapping)
    if options.success is not None:  # parsed here, so that its mistakes name --success (it replaces the preset's)
        off = options.success.strip().lower() == "none"  # the mean over seeds, for a preset that has a test
        mapping["success"] = None if off else parse_success(options.success)
    overrides = parse_assignments(list(options.assignments))
    if options.steps is not None:
        overrides["steps"] = str(options.steps)
    preset, seeds, seed, scale = options.preset, options.seeds, options.seed, options.scale
    device, force, lanes = options.device, options.force, options.lanes
    parsed: dict = {}
    for text in options.grid:
        key, value = parse_grid_option(text)
        parsed[key] = value
    if preset is not None:
        try:
            chosen = load_preset(preset)
        except PresetError as exc:
            raise SweepError(str(exc)) from None
        if isinstance(chosen, SweepPreset):
            if mapping:
                chosen = dataclasses.replace(chosen, mapping={**chosen.mapping, **mapping})
            if seed is not None:
                chosen = dataclasses.replace(chosen, seed=seed)
            return chosen.resolve(
                scale or DEFAULT_SCALE, overrides, parsed, seeds, device=device, force=force, lanes=lanes
            )
    if scale is not None:
        raise SweepError(f"--scale {scale}: only sweep presets have scales (`gradfail presets` marks them 'sweep')")
    return resolve(
        options.family,
        preset,
        overrides,
        parsed,
        seeds if seeds is not None else 1,
        mapping,
        device=device,
        first_seed=seed or 0,
        force=force,
        lanes=lanes,
    )


def sweep_command(console: Console, options: SweepOptions) -> tuple[list[str], int]:
    """`gradfail sweep`: returns (problems, exit code); problems is empty when the sweep ran."""
    from engine.config import ConfigError
    from engine.orchestration.factory import sweep_job
    from engine.record import RecordError
    from engine.sweeps import SweepError, early_stop, refine_plan

    try:
        job, spec = (_resumed(options), None) if options.resume is not None else (None, prepare(options))
        if spec is not None:  # checked before the sweep's directory is made
            if options.refine:
                refine_plan(spec, options.refine, options.resolution)
            if options.stop_when_decided:
                early_stop(spec.mapping)
            elif options.resolution is not None:
                refine_plan(spec, 1, options.resolution)  # a resolution given is checked even without --refine
    except ConfigError as exc:
        return [f"--set {p}" for p in exc.problems], 2
    except SweepError as exc:
        return exc.problems, 2
    except RecordError as exc:
        return [f"--resume {options.resume}: {exc}"], 2

    def create(place):
        created = sweep_job(spec, place)
        configure(created, options)
        return created

    return on_engines(
        console,
        options,
        job,
        create=create,
        engines_for=lambda job: default_workers(job.spec),
        describe=describe_sweep,
        run=run_sweep,
    )


def configure(job: SweepRun, options: SweepOptions) -> None:
    """--refine and --stop-when-decided on a sweep just created or resumed (SweepError if they cannot apply)."""
    if options.stop_when_decided:
        job.stop_when_decided()
    if options.refine:
        job.refine(options.refine, options.resolution)


def describe_sweep(job: SweepRun) -> str:
    """The line before a sweep runs: its size, what runs now, and its refinement and early stops."""
    cells = len(job.manifest["cells"])
    text = (
        f"sweep: {cells} cells x {len(job.spec.seeds)} seeds = {len(job.runs)} runs"
        f" ({sum(len(b) for b in job.pending)} to run{', seeds as lanes' if job.spec.batched else ''})"
    )
    plan = job.refinement
    if plan is not None and not plan.ended:
        text += f"; refining {plan.axis} with up to {plan.left} more cells, to {plan.resolution:g}"
    if job.stop_when is not None:
        text += f"; a run stops once {job.stop_when['text']}"
    return text


def on_engines(console: Console, options, job, *, create, engines_for, describe, run) -> tuple[list[str], int]:
    """What `gradfail sweep` and `gradfail audit` do once their input is read: get the engines (local
    processes or Ray: `options.ray`, `options.workers`), create the job in its directory (`create(place)`,
    unless `job` was resumed), give each engine its share of the cores (a sweep's lanes, an audit's
    runs), say what runs where, and run it (`run(job, console, engines, factory)`); Ray is shut down
    however it ends. Returns (problems, exit code) as the commands do."""
    from engine.orchestration.factory import Place
    from engine.record import RecordError

    try:
        factory, close_executor = executor(options.ray, options.workers)
    except ExecutorError as exc:
        return [str(exc)], 2
    try:
        if job is None:
            try:
                job = create(Place(options.runs_dir, options.out))
            except RecordError as exc:
                return [str(exc)], 2
        count = options.workers or engines_for(job)
        job.threads = share_of_cores(count)  # each engine its share of the cores, not all of them
        where = f"Ray ({options.ray})" if options.ray else "local engine process" + ("es" if count > 1 else "")
        console.print(f"{describe(job)} on {count} {where}  ·  {job.path}", highlight=False)
        return [], run(job, console, count, factory)
    finally:
        close_executor()


def _resumed(options: SweepOptions) -> SweepRun:
    """The sweep `--resume DIR` names, read from its sweep.json (SweepError if other settings are given too),
    with `--refine N` (N more cells) and `--stop-when-decided` if given."""
    from engine.orchestration.sweep import read_sweep_manifest
    from engine.sweeps import SweepError, early_stop, refine_plan, spec_from_dict

    given = {
        "--preset": options.preset,
        "--family": options.family,
        "--grid": options.grid,
        "--set": options.assignments,
        "--out": options.out,
        "--success": options.success,  # the test is in sweep.json; runs already judged are not judged again
    }
    if problem := resume_conflict("sweep.json", given):
        raise SweepError(problem)
    if options.resolution is not None and not options.refine:
        raise SweepError("--resolution: give it with --refine N (N more cells at that resolution)")
    manifest = read_sweep_manifest(options.resume)
    spec = spec_from_dict(manifest["spec"])
    if options.refine:  # checked before sweep.json is touched
        refine_plan(spec, options.refine, options.resolution)
    if options.stop_when_decided:
        early_stop(spec.mapping)
    job = SweepRun(spec, options.resume, manifest)  # a refinement and early stops begun before go on
    configure(job, options)  # --refine N: N more cells; --stop-when-decided: from now on
    return job


def resume_conflict(manifest: str, given: dict[str, object]) -> str | None:
    """Why `--resume` cannot take these settings too (a resumed job's come from its `manifest`), or None:
    `given` maps each option to its value, None, False or empty when it was not given."""
    named = [name for name, value in given.items() if value]
    if not named:
        return None
    return f"--resume: the settings come from its {manifest}; leave out {', '.join(named)}"


class ExecutorError(Exception):
    """Ray is not installed, or its cluster cannot be reached: nothing has run."""


def executor(ray: str | None, workers: int | None) -> tuple[Callable[[], Backend], Callable[[], None]]:
    """The engine factory for the sweep's slots, and what closes the executor afterwards."""
    from engine.client import EngineProcess

    if ray is None:
        return EngineProcess, lambda: None
    from engine.orchestration.ray_engine import RayUnavailable, connect

    try:
        return connect(None if ray == "local" else ray, workers)
    except RayUnavailable as exc:
        raise ExecutorError(str(exc)) from None


def show_sweep_preset(console: Console, preset) -> None:
    """`gradfail presets show phase-parity`: what it maps, its grid and seeds at every scale."""
    from rich.table import Table

    console.print(f"[bold]{preset.name}[/]  (sweep of {preset.preset or preset.family})  {preset.path}")
    console.print(f"{preset.title}: {preset.description}", highlight=False)
    table = Table(show_edge=False, pad_edge=False)
    for column in ("scale", "grid", "seeds", "runs", "overrides"):
        table.add_column(column)
    for scale in preset.scales:
        spec = preset.resolve(scale, force=True)
        grid = "  ".join(f"{a.key}: {', '.join(str(v) for v in a.values)}" for a in spec.axes)
        changed = ", ".join(f"{k}={v}" for k, v in spec.base.items())
        table.add_row(scale, grid, str(len(spec.seeds)), f"{spec.run_count:,}", changed)
    console.print(table)
    mapping = preset.resolve(force=True).mapping
    axes = f" over {mapping.x}" + (f" x {mapping.y}" if mapping.y else "")
    if mapping.success is not None:
        console.print(f"[bold]Maps:[/] the share of seeds with {mapping.describe_success()}{axes}", highlight=False)
    else:
        console.print(f"[bold]Maps:[/] {mapping.describe()}{axes}")
    if preset.paper:
        console.print(f"[bold]The paper:[/] {preset.paper}", highlight=False)
