"""`gradfail audit`: a group preset over N seed blocks on the local pool of engines, and how often each claim holds.

The orchestration layer does the work (an `AuditRun` job over a `Conductor` with N engine slots;
engine/orchestration/audit.py); the driver is the sweep's (gradfail_tui/sweep.py: its executor, the
local pool or Ray, the cores' share, its display's progress and lost engines; headless.conduct for
Ctrl-C). This module reads the command line, shows the tallies filling in and prints them at the end.
A verdict is a finding, not an error: the exit code says only whether every block ran (0), a run
failed (1), the input was bad (2) or the user stopped it (130).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from engine.audit import GROUP_CLAIM, MAX_BLOCKS, block_verdict, pooled_rows, tally, tally_cells
from engine.orchestration import Conductor
from engine.orchestration.audit import AuditRun
from engine.orchestration.jobs import counts_line
from engine.status import RunStatus, exit_code
from gradfail_tui.headless import conduct
from gradfail_tui.pool import cores
from gradfail_tui.render.format import format_duration
from gradfail_tui.sweep import SweepDisplay, on_engines, resume_conflict

if TYPE_CHECKING:
    from engine.orchestration.factory import Place


class AuditError(Exception):
    """Bad input: nothing has run."""


def progress_line(job: AuditRun, eta: float | None = None) -> str:
    """Blocks done, where each block going stands ("block 2: run 3 of 22: k = 2, end-to-end (seed 8)"),
    the time so far and the time left."""
    going = [job.position(batch) for batch in list(job.in_flight.values())]
    return "  ·  ".join(
        [f"{job.title}: {counts_line(job.counts(), len(job.blocks), 'blocks')}", *going]
        + [f"elapsed {format_duration(time.monotonic() - job.started)}", f"ETA {format_duration(eta)}"]
    )


class AuditDisplay(SweepDisplay):
    """The sweep's display (lost engines, failed runs, Ctrl-C, a plain line every few seconds in a log),
    with the audit's progress line and its tallies so far."""

    def __init__(self, console: Console, job: AuditRun):
        super().__init__(console, job)
        # every block trains as many steps: the same group's runs on other seeds
        self.block_steps = sum(m.config.steps for m in job.members(job.blocks[0]["seed"])) if job.blocks else 0

    def line(self) -> str:
        return progress_line(self.job, self.eta_s())

    def eta_s(self) -> float | None:
        """Time left at this session's pace in training steps, as a sweep's; None before a step is trained."""
        job = self.job
        done = sum(live.state.step for live in job.lives)
        elapsed = time.monotonic() - job.started
        if done <= 0 or elapsed <= 0:
            return None
        return max(0.0, (job.to_run * self.block_steps - done) * elapsed / done)

    def render(self):
        return Group(Text(self.line(), style="bold"), tallies_table(self.job.manifest))


def tallies(manifest: dict[str, Any]):
    said = list(manifest.get("claims_said") or [])
    return tally(said, [block_verdict(entry) for entry in manifest["blocks"]])


def tallies_table(manifest: dict[str, Any]) -> Table:
    """Per claim: k reproduced of the n blocks that judged it, the 95% Wilson interval, the blocks that
    could not judge it, and the margin's spread (positive: holds with room; docs/audit.md)."""
    table = Table(show_edge=False, pad_edge=False)
    for column, justify in (
        ("claim", "left"),
        ("reproduced", "right"),
        ("95% interval", "right"),
        ("incomplete", "right"),
        ("margin min / median / max", "right"),
    ):
        table.add_column(column, justify=justify)
    for t in tallies(manifest):
        style = "bold" if t.says == GROUP_CLAIM else None
        table.add_row(escape(t.says), *tally_cells(t), style=style)
    return table


def pooled_table(rows: list[tuple[str, str, str, str]]) -> Table:
    """engine.audit.pooled_rows as a table: how likely one seed is to show what a count claim counts."""
    table = Table(show_edge=False, pad_edge=False)
    for column, justify in (("claim", "left"), ("run", "left"), ("seeds counted", "right"), ("rate (95%)", "right")):
        table.add_column(column, justify=justify)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def print_audit(console: Console, job: AuditRun) -> None:
    """The tallies, each block's verdict, the wall time, and where the record is."""
    manifest = job.manifest
    console.print(
        f"{job.title} at scale {manifest['scale']}: {len(job.blocks)} blocks, seeds from {manifest['first_seed']}"
        f" every {manifest['seed_stride']}",
        highlight=False,
    )
    console.print(tallies_table(manifest))
    if pooled := pooled_rows(tallies(manifest)):
        console.print("The claims that count seeds, their seeds pooled over the judged blocks:", highlight=False)
        console.print(pooled_table(pooled))
    for entry in job.blocks:
        verdict = block_verdict(entry) or {}
        claims = " · ".join(str(c.get("outcome")) for c in verdict.get("claims") or [])
        console.print(
            f"  block {entry['block']:>2} (seed {entry['seed']}): {entry['status']}"
            + (f", {verdict.get('outcome')} ({claims})" if verdict else "")
            + (f"  {entry['dir']}/" if entry.get("dir") else ""),
            highlight=False,
        )
    left = sum(1 for entry in job.blocks if entry["status"] not in (RunStatus.COMPLETED, RunStatus.DIVERGED))
    console.print(
        f"audit {manifest['status']}  ·  wall time {format_duration(float(manifest.get('wall_s') or 0.0))}",
        highlight=False,
    )
    if left:
        console.print(
            f"{left} block{'s' if left != 1 else ''} did not run to the end: `gradfail audit --resume {job.path}` runs them",
            highlight=False,
        )
    console.print(f"audit record: {job.path}", highlight=False)


def run_audit(job: AuditRun, console: Console, workers: int, engine_factory) -> int:
    """Run the audit's blocks over `workers` engines, show them, and return the exit code."""
    display = AuditDisplay(console, job)
    conductor = Conductor(engine_factory, display, engines=workers)
    interrupted = conduct(conductor, job, display)
    try:
        print_audit(console, job)
    except OSError:
        pass  # the terminal went away; the record is complete
    return audit_exit_code(job, interrupted)


def audit_exit_code(job: AuditRun, interrupted: bool) -> int:
    """0 when every block ran, whatever the verdicts; a divergence is a finding too (its claims come out
    incomplete), not a run that could not run. Else as `gradfail run`: 1 a run failed, 2 a config the
    engine refused, 130 interrupted."""
    endings = [
        (RunStatus.COMPLETED if live.state.status == RunStatus.DIVERGED else live.state.status, kind(live))
        for live in job.lives
    ]
    return exit_code(endings + ([(RunStatus.INTERRUPTED, "")] if interrupted else []))


def kind(live) -> str:
    return live.finished.error_kind if live.finished else ""


# ---- the command ------------------------------------------------------------------------------


def prepare(preset: str, scale: str | None, overrides: dict[str, str], first_seed: int):
    """The group preset and its members for a block's seed, as the command line asks (AuditError if not)."""
    from engine.catalog import load_preset
    from engine.config import ConfigError
    from engine.groups import GroupError, GroupPreset
    from engine.presets import DEFAULT_SCALE, PresetError

    if preset == "paper":
        raise AuditError("paper: an audit runs one group preset (fig-parity, ...); audit the paper's groups one by one")
    try:
        group = load_preset(preset)
    except PresetError as exc:
        raise AuditError(str(exc)) from None
    if not isinstance(group, GroupPreset):
        what = "a sweep preset" if getattr(group, "kind", "") == "sweep" else "a single-run preset"
        raise AuditError(
            f"{preset} is {what}: an audit runs a group preset (`gradfail presets` marks them 'group': fig-parity, ...)"
        )
    scale = scale or DEFAULT_SCALE

    def members(seed: int):
        return group.members(scale, overrides, seed=seed)

    try:
        members(first_seed)  # bad input is refused here, before anything is written
    except GroupError as exc:
        raise AuditError(str(exc)) from None
    except ConfigError as exc:
        where = f"{exc.source}: " if exc.source and exc.source != "--set" else ("--set " if exc.source else "")
        raise AuditError("; ".join(f"{where}{p}" for p in exc.problems)) from None
    return group, scale, members


@dataclass(frozen=True)
class AuditOptions:
    """What `gradfail audit` was asked for: its options as the command line gave them (cli.py makes one)."""

    preset: str | None = None
    blocks: int | None = None
    first_seed: int | None = None
    workers: int | None = None
    scale: str | None = None
    assignments: tuple[str, ...] = ()  # --set key=value
    steps: int | None = None
    device: str = "cpu"
    out: Path | None = None
    runs_dir: Path = Path("runs")
    resume: Path | None = None
    ray: str | None = None


def audit_command(console: Console, options: AuditOptions) -> tuple[list[str], int]:
    """`gradfail audit`: returns (problems, exit code); problems is empty when the audit ran."""
    from engine.config import ConfigError
    from engine.record import RecordError
    from engine.registry import get_family

    try:
        job, create = (_resumed(options), None) if options.resume is not None else (None, _planned(options))
    except ConfigError as exc:
        return [f"--set {p}" for p in exc.problems], 2
    except AuditError as exc:
        return [str(exc)], 2
    except RecordError as exc:
        return [f"--resume {options.resume}: {exc}"], 2

    def engines_for(job: AuditRun) -> int:  # as many blocks at once as the cores allow their runs' threads
        threads = max((get_family(m.family).cpu_threads or 1 for m in job.members(job.blocks[0]["seed"])), default=1)
        return max(1, min(len(job.pending) or 1, cores() // threads))

    return on_engines(
        console,
        options,
        job,
        create=create,
        engines_for=engines_for,
        describe=lambda job: f"audit: {job.preset.name} x {len(job.blocks)} blocks ({job.to_run} to run)",
        run=run_audit,
    )


def _resumed(options: AuditOptions) -> AuditRun:
    """The audit `--resume DIR` names, read from its audit.json (AuditError if other settings are given too)."""
    given = {
        "PRESET": options.preset,
        "--first-seed": options.first_seed is not None,
        "--scale": options.scale,
        "--set": options.assignments,
        "--steps": options.steps,
        "--out": options.out,
    }
    if problem := resume_conflict("audit.json", given):
        raise AuditError(problem)

    def load(manifest: dict[str, Any]):
        source = str(manifest.get("source") or "")
        name = source if source and Path(source).is_file() else str(manifest.get("preset"))
        group, _, members = prepare(name, manifest.get("scale"), dict(manifest.get("overrides") or {}), 0)
        return group, members

    return AuditRun.resume(options.resume, load, options.blocks)  # --blocks N: grown to N blocks


def _planned(options: AuditOptions) -> Callable[[Place], AuditRun]:
    """A new audit as the options ask, checked (AuditError, ConfigError): what creates it in its directory."""
    from engine.config import parse_assignments
    from engine.orchestration.audit import new_manifest
    from engine.orchestration.factory import audit_job

    if options.preset is None:
        raise AuditError("give a group preset (fig-parity, ...; `gradfail presets` lists them), or --resume DIR")
    if options.blocks is None:
        raise AuditError(f"--blocks N: how many seed blocks to run, 1 to {MAX_BLOCKS} (10 gives k of 10)")
    overrides = parse_assignments(list(options.assignments))
    if options.steps is not None:
        overrides["steps"] = str(options.steps)
    first_seed = options.first_seed or 0
    group, scale, members = prepare(options.preset, options.scale, overrides, first_seed)
    plan = new_manifest(group, options.blocks, first_seed, scale, overrides, options.device)
    return lambda place: audit_job(group, members, plan, place)
