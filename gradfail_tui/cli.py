"""The `gradfail` command. Thin commands over library functions; heavy imports inside them.

`gradfail --help`, `gradfail presets` and `gradfail families` never import torch: they read the
families' torch-free specs and the preset files only.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine import __version__

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    help="See, live, why gradient-based deep learning fails where it fails.",
)
presets_app = typer.Typer(help="List the presets, or show one.", invoke_without_command=True)
families_app = typer.Typer(help="List the failure families and their settings.", invoke_without_command=True)
app.add_typer(presets_app, name="presets")
app.add_typer(families_app, name="families")

console = Console()
err = Console(stderr=True)
MAX_SEEDS = 1024


class ExportFormat(StrEnum):  # gradfail_tui.export.WRITERS, without importing it for every command
    csv = "csv"
    jsonl = "jsonl"


def check_device(name: str) -> str:
    """--device as the engine will read it (engine.device.check_device_name), refused here before anything starts."""
    from engine.device_names import DEVICES, DeviceError, check_device_name

    try:
        return check_device_name(name)
    except DeviceError as exc:
        raise typer.BadParameter(f"{name}: expected {DEVICES}") from exc


DEVICE_OPTION = typer.Option(callback=check_device, help="Where to train: auto, cpu, cuda or cuda:N.")


def fail(problems: list[str] | str, code: int = 2) -> typer.Exit:
    """Print what was wrong, one line per problem, and return the Exit to raise."""
    for line in [problems] if isinstance(problems, str) else problems:
        err.print(f"[red]•[/] {line}", highlight=False, soft_wrap=True)
    return typer.Exit(code=code)


def finished(problems: list[str], code: int) -> typer.Exit:
    """A job command's end: its problems said (as plain text: '[ray]' is no markup), or its exit code."""
    if problems:
        from rich.markup import escape

        return fail([escape(problem) for problem in problems], code)
    return typer.Exit(code=code)


def version_callback(value: bool) -> None:
    if value:
        console.print(f"gradfail {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """See, live, why gradient-based deep learning fails where it fails."""


@app.command()
def run(
    ctx: typer.Context,
    preset: Annotated[
        str | None, typer.Option("--preset", "-p", help="A preset name (see `gradfail presets`) or a .toml file.")
    ] = None,
    family: Annotated[
        str | None, typer.Option("--family", "-f", help="A family, on its defaults (see `gradfail families`).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Override a config field: --set d=12 (repeatable).")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (same as --set steps=N).")] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Random seed; the same config, seed and device give the same numbers.")
    ] = None,
    seeds: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_SEEDS,
            help="Train this many seeds (seed, seed+1, ...) together in one batched model; each is recorded as its own run.",
        ),
    ] = 1,
    device: Annotated[str, DEVICE_OPTION] = "auto",
    out: Annotated[Path | None, typer.Option(help="The run directory (must be new or empty).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where new run directories go when --out is not given.")] = Path(
        "runs"
    ),
    scale: Annotated[
        str | None,
        typer.Option(
            help="For a group preset (fig-*) or the paper: 'default' (a CPU, minutes), 'paper' (the original "
            "schedules) or 'cpu' (fig-tuples: all its claims on a CPU, its longest group); `gradfail presets show NAME` "
            "says how long each takes."
        ),
    ] = None,
    at: Annotated[
        list[str] | None,
        typer.Option(
            "--at",
            help="Change a setting after a step: --at 5000:lr=0.1 (repeatable; `gradfail families show "
            "FAMILY` says which settings may change during a run).",
        ),
    ] = None,
    from_: Annotated[
        Path | None,
        typer.Option("--from", help="Train a recorded run again: its config, seed and changes (--set, --at on top)."),
    ] = None,
) -> None:
    """Train one run headless, with a progress display, and keep its record in a run directory.

    A group preset (fig-parity, fig-tuples, ...) runs all its runs one after another, then draws the
    figure and checks the paper's claim on the recorded numbers.
    """
    from engine.client import EngineProcess

    if from_ is not None and (preset or family):
        raise fail("--from RUN_DIR takes the run's preset or family from its record: leave out --preset/--family")
    if from_ is None and (preset is None) == (family is None):
        raise fail("give exactly one of --preset NAME or --family NAME (see `gradfail presets`, `gradfail families`)")
    # The engine starts before the preset is read (`gradfail` starts it before importing this module,
    # gradfail_tui/launch.py, and hands it over as the context's object): its torch import (about 2 s)
    # overlaps with that and with this process's own imports. Bad input found below ends it at once;
    # a run closes it when done.
    engine = ctx.obj or EngineProcess().start()
    try:
        _run(
            engine,
            preset,
            family,
            set_=set_,
            steps=steps,
            seed=seed,
            seeds=seeds,
            device=device,
            out=out,
            runs_dir=runs_dir,
            scale=scale,
            at=at or [],
            from_=from_,
        )
    finally:
        engine.discard()


def _run(
    engine,
    preset: str | None,
    family: str | None,
    *,
    set_: list[str] | None,
    steps: int | None,
    seed: int | None,
    seeds: int,
    device: str,
    out: Path | None,
    runs_dir: Path,
    scale: str | None,
    at: list[str] = (),
    from_: Path | None = None,
) -> None:
    from engine.catalog import load_preset
    from engine.client import RunRequest
    from engine.config import ConfigError, build_config, parse_assignments
    from engine.orchestration.factory import Place, runs_job
    from engine.presets import PresetError, PresetKind
    from engine.record import RecordError
    from engine.registry import UnknownFamily, get_family

    try:
        overrides = parse_assignments(set_ or [])
        if steps is not None:
            overrides["steps"] = str(steps)
        recorded = []
        if from_ is not None:
            from gradfail_tui.rerun import read_recorded

            source = read_recorded(from_)
            family_name, preset_name, recorded = source.family, source.preset, source.changes
            config = build_config(get_family(family_name).config_cls, {**source.config, **overrides}, source="--set")
            seed = seed if seed is not None else source.seed
        elif preset == "paper":  # engine.paper.NAME: every result of the paper, in its order
            if at:
                raise fail("--at: the paper's runs cannot be changed mid-run; give a single run's preset")
            return _run_paper(
                engine, overrides, scale=scale, seed=seed, seeds=seeds, device=device, out=out, runs_dir=runs_dir
            )
        elif preset is not None:
            chosen = load_preset(preset)
            if chosen.kind is PresetKind.SWEEP:
                raise fail(f"{preset} is a sweep preset: run it with `gradfail sweep --preset {preset}`")
            if chosen.kind is PresetKind.GROUP:
                if at:
                    raise fail("--at: a group preset's runs cannot be changed mid-run; give a single run's preset")
                return _run_group(
                    engine,
                    chosen,
                    overrides,
                    scale=scale,
                    seed=seed,
                    seeds=seeds,
                    device=device,
                    out=out,
                    runs_dir=runs_dir,
                )
            config = chosen.config(overrides)
            family_name, preset_name = chosen.family, chosen.name
            seed = seed if seed is not None else (chosen.seed or 0)
        else:
            spec = get_family(family)
            config = build_config(spec.config_cls, overrides, source="--set")
            family_name, preset_name = spec.name, None
        if at or recorded:
            from gradfail_tui.rerun import changes_for

            changes = changes_for(family_name, config, recorded, at)
        else:
            changes = []
    except ConfigError as exc:
        raise fail(_config_problems(exc)) from None
    except (PresetError, UnknownFamily) as exc:
        raise fail(str(exc)) from None
    if scale is not None:
        raise fail(f"--scale {scale}: only group presets have scales (`gradfail presets` marks them 'group')")

    if seeds > 1 and not get_family(family_name).batched_seeds:
        raise fail(
            f"--seeds {seeds}: the {family_name} family cannot train several seeds in one model yet; "
            "run them one after another with --seed"
        )
    requests = [
        RunRequest(
            family=family_name, config=config, seed=(seed or 0) + i, device=device, preset=preset_name, changes=changes
        )
        for i in range(seeds)
    ]
    try:
        job = runs_job(requests, Place(runs_dir, out))
    except RecordError as exc:
        raise fail(str(exc)) from None

    from gradfail_tui.headless import run_job

    raise typer.Exit(code=run_job(job, console, engine))


def _config_problems(exc) -> list[str]:
    """A ConfigError's problems, each prefixed with where it came from (a preset file), not for --set."""
    where = f"{exc.source}: " if exc.source and exc.source != "--set" else ""
    return [f"{where}{problem}" for problem in exc.problems]


def _run_group(
    engine,
    group,
    overrides: dict,
    *,
    scale: str | None,
    seed: int | None,
    seeds: int,
    device: str,
    out: Path | None,
    runs_dir: Path,
) -> None:
    """`gradfail run --preset fig-...`: every run of the group, one after another, and the verdict."""
    from engine.config import ConfigError
    from engine.groups import GroupError
    from engine.orchestration.factory import Place, group_job
    from engine.presets import DEFAULT_SCALE
    from engine.record import RecordError

    if seeds > 1:
        raise fail(
            f"--seeds {seeds}: a group preset runs each of its runs once; give --seed to run the group with other seeds"
        )
    scale = scale or DEFAULT_SCALE
    try:
        members = group.members(scale, overrides, seed=seed)
    except GroupError as exc:
        raise fail(str(exc)) from None
    except ConfigError as exc:
        raise fail(_config_problems(exc)) from None
    try:
        job = group_job(group, members, scale, device, Place(runs_dir, out))
    except RecordError as exc:
        raise fail(str(exc)) from None
    from gradfail_tui.headless import run_job

    raise typer.Exit(code=run_job(job, console, engine))


def _run_paper(
    engine, overrides: dict, *, scale: str | None, seed: int | None, seeds: int, device: str, out, runs_dir: Path
) -> None:
    """`gradfail run --preset paper`: every result's group in the paper's order, into one directory."""
    from engine.config import ConfigError
    from engine.orchestration.factory import Place, paper_job
    from engine.paper import load_groups
    from engine.presets import DEFAULT_SCALE, PresetError
    from engine.record import RecordError

    if seeds > 1:
        raise fail(f"--seeds {seeds}: the paper runs each run once; give --seed to run it with another seed")
    scale = scale or DEFAULT_SCALE
    try:
        groups = load_groups(scale, overrides, seed=seed)
    except ConfigError as exc:
        raise fail(_config_problems(exc)) from None
    except PresetError as exc:
        raise fail(str(exc)) from None
    try:
        job = paper_job(groups, scale, device, Place(runs_dir, out))
    except RecordError as exc:
        raise fail(str(exc)) from None
    from gradfail_tui.headless import run_job

    raise typer.Exit(code=run_job(job, console, engine))


@app.command()
def sweep(
    preset: Annotated[
        str | None,
        typer.Option("--preset", "-p", help="A sweep preset (phase-parity, ...), or a single-run preset as the base."),
    ] = None,
    family: Annotated[
        str | None, typer.Option("--family", "-f", help="A family, on its defaults, as the base.")
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", "-g", help="An axis: key=start:stop:step (stop included) or key=a,b,c (repeatable)."),
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Override a config field in every cell.")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps of every run (same as --set steps=N).")] = None,
    seeds: Annotated[int | None, typer.Option(min=1, max=MAX_SEEDS, help="Seeds per cell (seed, seed+1, ...).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="The first seed.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Engine processes (or Ray actors) at once; default: as the cores allow."),
    ] = None,
    lanes: Annotated[
        bool, typer.Option(help="Train a cell's seeds as lanes of one model where the family can (parity).")
    ] = True,
    metric: Annotated[
        str | None, typer.Option(help="The metric to map (default: the preset's, or the family's first).")
    ] = None,
    stat: Annotated[
        str | None, typer.Option(help="first, last, max, min, mean or median of the metric over the run.")
    ] = None,
    x: Annotated[str | None, typer.Option("--x", help="The grid key along the heatmap's x axis.")] = None,
    y: Annotated[str | None, typer.Option("--y", help="The grid key along the heatmap's y axis.")] = None,
    success: Annotated[
        str | None,
        typer.Option(
            metavar="TEST",
            help="Map the share of seeds that pass a test, with its 95% interval: "
            "'METRIC[:STAT] >= VALUE' or '<= VALUE' (e.g. 'test_acc:max >= 0.95'); replaces a preset's, "
            "'none' drops it.",
        ),
    ] = None,
    refine: Annotated[
        int,
        typer.Option(
            min=0,
            max=10_000,
            metavar="N",
            help="Spend up to N extra cells locating, along x in each row, where the share of seeds that pass "
            "crosses one half (bisection; needs a success test and a numeric x). With --resume: N more.",
        ),
    ] = 0,
    resolution: Annotated[
        float | None,
        typer.Option(
            help="How close --refine locates a boundary along x (default: adjacent integers, or 1/64 of a "
            "float axis's smallest grid spacing)."
        ),
    ] = None,
    stop_when_decided: Annotated[
        bool,
        typer.Option(
            "--stop-when-decided",
            help="Stop a run as soon as it has passed the success test (max >= or min <= tests); "
            "runs that do not pass train their full budget.",
        ),
    ] = False,
    scale: Annotated[
        str | None, typer.Option(help="For a sweep preset: 'default' (a CPU, minutes) or 'large'.")
    ] = None,
    device: Annotated[str, DEVICE_OPTION] = "cpu",
    out: Annotated[Path | None, typer.Option(help="The sweep's directory (must be new or empty).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where a new sweep directory goes when --out is not given.")] = Path(
        "runs"
    ),
    resume: Annotated[
        Path | None, typer.Option(help="A sweep's directory: run what did not end completed or diverged.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Run a grid larger than the sane limit.")] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Run on Ray: --ray starts a local Ray, --ray HOST:PORT joins a running cluster (pip install 'gradfail[ray]').",
        ),
    ] = None,
) -> None:
    """Run many runs over a grid of settings and seeds, and draw the phase diagram (a heatmap of one metric).

    Example: gradfail sweep --family parity --grid d=4:32:2 --grid width_mult=2,5,10 --seeds 8 --steps 20000
    Boundaries: gradfail sweep --preset phase-parity --refine 8 --stop-when-decided
    """
    from gradfail_tui.sweep import SweepOptions, sweep_command

    options = SweepOptions(
        preset=preset,
        family=family,
        grid=tuple(grid or ()),
        assignments=tuple(set_ or ()),
        steps=steps,
        seeds=seeds,
        seed=seed,
        workers=workers,
        lanes=lanes,
        mapping={k: v for k, v in (("metric", metric), ("stat", stat), ("x", x), ("y", y)) if v is not None},
        success=success,
        scale=scale,
        device=device,
        out=out,
        runs_dir=runs_dir,
        resume=resume,
        force=force,
        ray=ray,
        refine=refine,
        resolution=resolution,
        stop_when_decided=stop_when_decided,
    )
    problems, code = sweep_command(console, options)
    raise finished(problems, code)


@app.command()
def audit(
    preset: Annotated[
        str | None,
        typer.Argument(
            help="A group preset (fig-parity, ...; `gradfail presets` marks them 'group') or its .toml file."
        ),
    ] = None,
    blocks: Annotated[
        int | None,
        typer.Option(
            min=1, max=1000, help="How many seed blocks: the group runs once per block. With --resume: grow it to N."
        ),
    ] = None,
    first_seed: Annotated[
        int | None, typer.Option(min=0, help="Block 1's --seed; block b's is first-seed + (b - 1) x the stride.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Engine processes (or Ray actors) at once; default: as the cores allow."),
    ] = None,
    scale: Annotated[
        str | None, typer.Option(help="The group's scale: 'default', 'paper', ...; `gradfail presets show` lists them.")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a config field of every run.")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps of every run (same as --set steps=N).")] = None,
    device: Annotated[str, DEVICE_OPTION] = "cpu",
    out: Annotated[Path | None, typer.Option(help="The audit's directory (must be new or empty).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where a new audit directory goes when --out is not given.")] = Path(
        "runs"
    ),
    resume: Annotated[
        Path | None, typer.Option(help="An audit's directory: run again the blocks that did not run to the end.")
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", metavar="[ADDRESS]", help="Run on Ray, as `gradfail sweep --ray` (pip install 'gradfail[ray]')."
        ),
    ] = None,
) -> None:
    """Run a group preset over N seed blocks and say, per claim, how often it came out reproduced.

    Prints k of N with a 95% Wilson interval and the spread of each claim's margin; writes audit.json
    beside the blocks' group directories. Exits 0 when every block ran, whatever the verdicts (docs/audit.md).

    Example: gradfail audit fig-parity --blocks 10 --workers 2
    """
    from gradfail_tui.audit import AuditOptions, audit_command

    options = AuditOptions(
        preset=preset,
        blocks=blocks,
        first_seed=first_seed,
        workers=workers,
        scale=scale,
        assignments=tuple(set_ or ()),
        steps=steps,
        device=device,
        out=out,
        runs_dir=runs_dir,
        resume=resume,
        ray=ray,
    )
    problems, code = audit_command(console, options)
    raise finished(problems, code)


@app.command()
def bench(
    steps: Annotated[int, typer.Option(min=100, help="Steps per timed run.")] = 20_000,
    reps: Annotated[
        int, typer.Option(min=1, help="Interleaved repetitions of each workload (the median is shown).")
    ] = 2,
    seeds: Annotated[int, typer.Option(min=2, max=1024, help="Seeds of the batched workload.")] = 16,
    device: Annotated[str, DEVICE_OPTION] = "cpu",
    tuple_steps: Annotated[
        int,
        typer.Option(
            min=0,
            help="Steps of the tuple CNN workload (k = 4, batch 200): "
            "500 is one period of its SNR schedule, and takes minutes; "
            "0 leaves it out.",
        ),
    ] = 500,
) -> None:
    """Time the engine against the straightforward PyTorch loop, as whole processes, and print the figures."""
    from gradfail_tui.bench import run_bench

    try:
        run_bench(console, steps, reps, seeds, device, tuple_steps)
    except RuntimeError as exc:
        raise fail(f"a timed run failed: {exc}", code=1) from None


@presets_app.callback()
def presets_list(ctx: typer.Context) -> None:
    """List every preset with what it shows."""
    if ctx.invoked_subcommand is not None:
        return
    from engine.catalog import scan
    from engine.presets import PresetKind

    catalog = scan()
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("preset", style="bold cyan", no_wrap=True)
    table.add_column("family", no_wrap=True)
    table.add_column("what it shows")
    for chosen in catalog.entries:
        # a single run's family; a group or a sweep says which it is
        family = chosen.family if chosen.kind is PresetKind.SINGLE else chosen.kind
        table.add_row(chosen.name, family, chosen.description)
    table.add_row(
        "paper", "groups", "every figure and theorem of the paper, in its order, into one directory (a talk's deck)"
    )
    console.print(table)
    if catalog.problems:
        raise fail(list(catalog.problems), code=1)


@presets_app.command("show")
def presets_show(name: Annotated[str, typer.Argument(help="A preset name or .toml file.")]) -> None:
    """Print a preset's resolved config and what the paper found."""
    from engine.catalog import load_preset
    from engine.config import config_to_dict, knobs
    from engine.presets import PresetError, PresetKind
    from engine.registry import get_family

    if name == "paper":
        return _show_paper()
    try:
        chosen = load_preset(name)
    except PresetError as exc:
        raise fail(str(exc)) from None
    if chosen.kind is PresetKind.GROUP:
        return _show_group(chosen)
    if chosen.kind is PresetKind.SWEEP:
        from gradfail_tui.sweep import show_sweep_preset

        return show_sweep_preset(console, chosen)
    spec = get_family(chosen.family)
    console.print(f"[bold]{chosen.name}[/]  ({spec.title}, {spec.paper_ref})  {chosen.path}")
    if chosen.description:
        console.print(chosen.description)
    table = Table(show_edge=False, pad_edge=False)
    for column in ("setting", "value", "", "help"):
        table.add_column(column)
    values = config_to_dict(chosen.config())
    for k in knobs(spec.config_cls):
        changed = "preset" if k.name in chosen.values else ""
        table.add_row(k.name, str(values[k.name]), changed, k.help)
    table.add_row("seed", str(chosen.seed or 0), "preset" if chosen.seed is not None else "", "random seed")
    console.print(table)
    if chosen.paper:
        console.print(f"[bold]The paper:[/] {chosen.paper}")


def _show_paper() -> None:
    """`presets show paper`: the results in the paper's order, with the group that reproduces each."""
    from engine.paper import RESULTS, TITLE

    console.print(f"[bold]paper[/]  (every result of {TITLE}, in its order; `gradfail talk` presents it)")
    table = Table(show_edge=False, pad_edge=False)
    from gradfail_tui.render.format import format_duration

    for column in ("result", "group preset", "wall time", "the paper's claim"):
        table.add_column(column)
    for result in RESULTS:
        when = (format_duration(result.cpu_s) if result.cpu_s else "not measured") + (" (live)" if result.live else "")
        table.add_row(result.heading, result.preset, when, result.claim)
    console.print(table)
    console.print(
        "Wall times at the default scale, as measured (where and when: gradfail presets show fig-parity, and so on)."
    )


def _show_group(group) -> None:
    """A group preset: its runs at every scale, what each changes, and the claims it checks."""
    from rich.markup import escape

    from engine.config import differences
    from engine.registry import get_family

    console.print(
        f"[bold]{group.name}[/]  (group of {len(group.runs)} run{'s' if len(group.runs) > 1 else ''})  {group.path}"
    )
    console.print(f"{group.title}: {group.description}")
    table = Table(show_edge=False, pad_edge=False)
    for column in ("run", "scale", "preset / family", "differs from the family's defaults"):
        table.add_column(column)
    for scale in group.scales:
        # a run of `seeds = N` is one row, not N alike: Figure 3's cpu scale would list 47
        for declared, seeded in itertools.groupby(group.members(scale), key=lambda m: m.of or m.label):
            first, *others = list(seeded)
            joined = " and " if len(others) == 1 else " to "
            label = f"{declared} (seeds {first.seed}{joined}{others[-1].seed})" if others else first.label
            changed = differences(first.config, get_family(first.family).config_cls())
            table.add_row(label, scale, first.preset or first.family, ", ".join(f"{k}={v}" for k, v in changed.items()))
    console.print(table)
    from engine import walltimes

    console.print("[bold]Wall time[/] (measured by benchmarks/walltimes.py):")
    timed = {w.scale: w for w in walltimes.shipped() if w.group == group.name}
    for scale in group.scales:
        measured = timed.get(scale)
        said = measured.describe() if measured else "not measured"
        if measured and not walltimes.is_current(measured):  # said nowhere else (walltimes.lookup)
            said += "; timed before this preset's runs at this scale last changed: measure it again"
        console.print(f"  {scale}: {said}", highlight=False)
    from engine import audit_figures

    audited = [f for f in audit_figures.read_shipped() if f.group == group.name]
    console.print("[bold]How often every claim held[/] (over seed blocks, measured by gradfail audit):")
    for f in audited:
        note = f"; {f.note}" if f.note else ""
        held = f"{f.reproduced} of {f.blocks} seed blocks (95% interval {f.interval()})"
        if not audit_figures.is_current(f):  # said beside no verdict (audit_figures.held_for)
            note += "; measured before this preset's claims or settings last changed: audit it again"
        console.print(f"  {f.scale}: {held}, seeds from {f.first_seed}, {f.date}{note}", highlight=False)
    if not audited:
        console.print("  not audited", highlight=False)
    console.print("[bold]Claims checked:[/]")
    for claim in group.claims:
        needs = f" [dim](needs --scale {claim.needs_scale})[/]" if claim.needs_scale else ""
        if claim.needs_scale and not claim.claimed_below:
            needs = f" [dim](made only from --scale {claim.needs_scale})[/]"
        console.print(f"  • {escape(claim.says)}{needs}", highlight=False)
        if claim.paper:
            console.print(f"    [dim]the paper: {escape(claim.paper)}[/]", highlight=False)
    if group.paper:
        console.print(f"[bold]The paper:[/] {group.paper}")


@families_app.callback()
def families_list(ctx: typer.Context) -> None:
    """List the failure families and the paper's claim for each."""
    if ctx.invoked_subcommand is not None:
        return
    from engine.registry import families, family_errors

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("family", style="bold cyan", no_wrap=True)
    table.add_column("paper", no_wrap=True)
    table.add_column("claim")
    for spec in families().values():
        table.add_row(spec.name, spec.paper_ref, spec.claim)
    console.print(table)
    broken = family_errors()
    if broken:
        raise fail([f"family package {name} did not load: {why}" for name, why in broken.items()], code=1)


@families_app.command("show")
def families_show(name: Annotated[str, typer.Argument(help="A family name.")]) -> None:
    """Every setting of a family: default, what is allowed, and what it means."""
    from engine.config import knobs
    from engine.registry import UnknownFamily, get_family

    try:
        spec = get_family(name)
    except UnknownFamily as exc:
        raise fail(str(exc)) from None
    console.print(f"[bold]{spec.title}[/] ({spec.paper_ref}): {spec.claim}")
    table = Table(show_edge=False, pad_edge=False)
    for column in ("setting", "default", "allowed", "help"):
        table.add_column(column)
    for k in knobs(spec.config_cls):
        table.add_row(k.name, str(k.default), k.allowed(), k.help)
    console.print(table)
    console.print("metrics: " + ", ".join(f"{m.name} ({m.label})" for m in spec.metrics))
    from engine.changes import live_settings

    console.print("may change during a run (--at STEP:KEY=VALUE, the explorer's e): " + ", ".join(live_settings(spec)))


@app.command()
def tui(
    preset: Annotated[
        str | None, typer.Option("--preset", "-p", help="Open with this preset chosen (a name or a .toml file).")
    ] = None,
    start: Annotated[bool, typer.Option("--start", help="Start the preset's run at once.")] = False,
    runs_dir: Annotated[Path, typer.Option(help="Where run records are kept and looked for.")] = Path("runs"),
) -> None:
    """Open the explorer: pick a family and settings, watch runs live, compare and replay them (= gradfail-tui)."""
    from gradfail_tui.explorer.app import run_explorer

    raise typer.Exit(code=run_explorer(preset, start, runs_dir))


@app.command()
def talk(
    deck: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIR]",
            help="A deck: a directory of `gradfail run --preset paper` or of `--prepare`.",
            show_default=False,
        ),
    ] = None,
    prepare: Annotated[
        bool, typer.Option("--prepare", help="Run the whole paper into DIR (a new or empty directory), then stop.")
    ] = False,
    slide_seconds: Annotated[
        float, typer.Option(min=1, max=3600, help="How long each slide's runs take to replay, whatever training took.")
    ] = 20.0,
    scale: Annotated[
        str | None,
        typer.Option(
            help="With --prepare: 'default' (a CPU), 'cpu' (a CPU, Figure 3 reproduced too: its longest group, "
            "`gradfail presets show fig-tuples` says how long) or 'paper'."
        ),
    ] = None,
    device: Annotated[str, DEVICE_OPTION] = "auto",
    live: Annotated[
        bool,
        typer.Option("--live", help="Train the slides the deck lacks, when fast enough (about a minute on a CPU)."),
    ] = False,
    runs_dir: Annotated[Path, typer.Option(help="With --live: where the live runs are recorded.")] = Path("runs"),
    speaker: Annotated[
        bool, typer.Option("--speaker", help="The speaker view: notes, next slide, clock; follows `gradfail talk DIR`.")
    ] = False,
    minutes: Annotated[
        float | None, typer.Option(min=1, max=600, help="The talk's target length: the clock's pace per slide.")
    ] = None,
    notes: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Your speaker notes (TOML, a table a slide) over the shipped ones."),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            metavar="FILE",
            help="Write the talk to one file instead (.html: self-contained, with notes; .pdf), then stop.",
        ),
    ] = None,
    preflight: Annotated[
        bool,
        typer.Option(
            "--preflight",
            help="Rehearse: check the deck, this terminal, the live slides' pace, notes and fonts, then stop.",
        ),
    ] = False,
) -> None:
    """Present the paper, one result a slide, its runs replayed from a deck; --prepare records the deck."""
    if preflight:
        raise typer.Exit(code=_talk_preflight(deck, prepare, slide_seconds, live, notes))
    if speaker and (prepare or live):
        raise fail("--speaker: the speaker view follows a talk; --prepare and --live belong to the presenting one")
    speaker_notes = _talk_notes(notes)  # a bad notes file: one line, exit 2, before anything starts
    if prepare:
        if deck is None:
            raise fail("--prepare needs DIR: the directory the deck is written to (new or empty)")
        from engine.client import EngineProcess

        engine = EngineProcess().start()
        try:
            _run_paper(engine, {}, scale, None, 1, device, deck, Path("runs"))
        finally:
            engine.discard()
    if scale is not None:
        raise fail("--scale: only with --prepare (a deck is replayed as it was recorded)")
    if export is not None:
        raise typer.Exit(code=_export_talk(deck, export, speaker_notes))
    from gradfail_tui.talk.app import run_talk

    raise typer.Exit(
        code=run_talk(
            deck, slide_seconds, live, runs_dir, follow=True, speaker=speaker, minutes=minutes, notes=speaker_notes
        )
    )


def _talk_preflight(deck: Path | None, prepare: bool, slide_seconds: float, live: bool, notes: Path | None) -> int:
    """`gradfail talk DIR --preflight`: a line a check; 2 when something would break the talk."""
    if prepare:
        raise fail("--preflight checks a prepared deck: run it after --prepare")
    from gradfail_tui.talk.preflight import preflight_command

    def serve_page(directory: Path) -> Path:  # gradfail serve's page, as its server makes it
        from gradfail_tui.serve.server import offline_templates

        return offline_templates(directory)

    return preflight_command(console, deck, slide_seconds, live, notes, serve_page=serve_page)


def _talk_notes(path: Path | None):
    """The speaker notes for `gradfail talk --notes FILE` (the shipped ones without it); a bad file fails."""
    from rich.markup import escape

    from gradfail_tui.talk.notes import NotesError, load_notes

    try:
        return load_notes(path)
    except NotesError as exc:
        raise fail(f"--notes: {escape(str(exc))}") from None


def _export_talk(deck: Path | None, target: Path, notes) -> int:
    """`gradfail talk DIR --export FILE [--notes FILE]`: the deck's talk written to one file."""
    from rich.markup import escape

    from gradfail_tui.talk.deck import load_deck
    from gradfail_tui.talk.export import ExportError, export_format, export_talk

    if deck is None or not deck.is_dir():
        raise fail(escape(f"--export needs DIR, a deck: {deck or 'none given'} is not a directory"))
    try:
        export_format(target)  # before reading the deck: a bad name fails at once
        exported = export_talk(load_deck(deck), target, notes)
    except ExportError as exc:
        raise fail(escape(str(exc))) from None
    console.print(exported.summary(), markup=False, highlight=False, soft_wrap=True)
    return 0


@app.command()
def serve(
    talk_deck: Annotated[
        Path | None,
        typer.Option("--talk", metavar="DIR", help="Serve the talk of this deck instead of the explorer."),
    ] = None,
    host: Annotated[
        str, typer.Option(help="The address to bind: loopback unless you ask (anyone who reaches it can train here).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port.")] = 8000,
    max_sessions: Annotated[
        int, typer.Option(min=1, max=64, help="Browser sessions at once (each starts an app, the explorer an engine).")
    ] = 2,
    slide_seconds: Annotated[float, typer.Option(min=1, max=3600, help="With --talk: replay time per slide.")] = 20.0,
    runs_dir: Annotated[Path, typer.Option(help="The explorer's run records.")] = Path("runs"),
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="Each explorer opens with this preset.")] = None,
    start: Annotated[bool, typer.Option("--start", help="Each explorer starts the preset's run at once.")] = False,
    live: Annotated[bool, typer.Option("--live", help="With --talk: train the fast slides the deck lacks.")] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="GRADFAIL_SERVE_TOKEN",
            help="Serve only to pages opened with ?token=TOKEN; 'auto' makes one and prints the address.",
        ),
    ] = None,
    no_token: Annotated[
        bool, typer.Option("--no-token", help="Serve beyond loopback without a token (anyone who reaches it).")
    ] = False,
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="With --talk: viewers page through the recordings; nothing can train."),
    ] = False,
) -> None:
    """Serve the explorer (or, with --talk, a talk) in a web browser; each tab gets its own session."""
    from gradfail_tui.serve.command import serve_command

    code = serve_command(
        talk_deck,
        host,
        port,
        max_sessions=max_sessions,
        slide_seconds=slide_seconds,
        runs_dir=runs_dir,
        preset=preset,
        start=start,
        err=err,
        live=live,
        token=token,
        no_token=no_token,
        read_only=read_only,
    )
    raise typer.Exit(code=code)


@app.command()
def report(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="DIR...",
            help="Run directories and group directories (as `gradfail run` writes them); a section each.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="The Markdown file; its SVG figures go in a folder beside it (report_files/ for report.md).",
        ),
    ] = Path("report.md"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing report (and the figures in its folder).")
    ] = False,
    figures_dir: Annotated[
        Path | None,
        typer.Option(
            "--figures",
            metavar="OUTDIR",
            help="Write only each group's figure, as vector SVG, PDF and PNG named after the paper's figure "
            '(figure-5.svg), into OUTDIR; needs matplotlib (pip install "gradfail[figures]").',
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a Markdown report of recorded runs: the verdict, the figures, the numbers, the config, the versions.

    Reads the records only (nothing is trained again); a group's claims are judged again on what was recorded.
    With matplotlib (the `figures` extra) each group's figure is also written as vector SVG, PDF and PNG.
    """
    from rich.markup import escape

    from gradfail_tui.report import ReportError, write_figures, write_report

    if figures_dir is not None:
        try:
            files = write_figures(paths, figures_dir, force=force)
        except ReportError as exc:
            raise fail([escape(p) for p in exc.problems]) from None
        for path in files:
            console.print(f"figure: {path}", highlight=False)
        return
    try:
        written = write_report(paths, output, force=force)
    except ReportError as exc:
        raise fail(exc.problems) from None

    for problem in written.problems:  # a damaged record still gets its report; these lines are in it too
        err.print(f"[yellow]•[/] {escape(problem)}", highlight=False, soft_wrap=True)
    for note in written.notes:
        err.print(escape(note), highlight=False, soft_wrap=True)
    figures = f"{len(written.figures)} figure{'s' if len(written.figures) != 1 else ''}"
    console.print(f"report: {written.path} ({figures} in {written.files_dir}/)", highlight=False)


@app.command()
def export(
    run_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            help="A run directory, or a group's directory (every run, with a run column).",
            show_default=False,
        ),
    ],
    format_: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="csv (long form: run, step, t, metric, value) or jsonl (one object per metrics event).",
        ),
    ] = ExportFormat.csv,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The file to write (standard output when not given).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output file.")] = False,
) -> None:
    """Write a recorded run's metrics as CSV or JSON Lines, for plotting elsewhere."""
    import io
    import sys

    from engine.record import NotARecord
    from gradfail_tui.export import export_metrics

    if output is not None and output.exists() and not force:
        raise fail(f"--output {output}: exists; give --force to replace it")
    buffer = io.StringIO()
    try:
        problems = export_metrics(run_dir, format_.value, buffer)
    except NotARecord as exc:
        raise fail(str(exc)) from None
    from rich.markup import escape

    for problem in problems:  # what a damaged record could not give; the rest is exported
        err.print(f"[yellow]•[/] {escape(problem)}", highlight=False, soft_wrap=True)
    if output is None:
        try:
            sys.stdout.write(buffer.getvalue())
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader has all it wanted
            raise typer.Exit(code=0) from None
        return
    try:
        output.write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise fail(f"--output {output}: cannot write ({exc.strerror or exc})", code=1) from None
    console.print(f"{format_.value}: {output}", highlight=False)
