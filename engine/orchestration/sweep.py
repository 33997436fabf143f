"""A sweep running: many batches at once over the conductor's engines, sweep.json kept as runs end.

`SweepRun` is a job that hands out a batch whenever an engine is free: a cell's seeds as lanes of
one model where the family can train them together (parity), else one run per seed. Every run keeps
its own record in a directory of the sweep (`c0003-d-8-width_mult-5-s1/`); sweep.json ties them
together: the resolved sweep (so that `--resume`, the report and the explorer need nothing else),
each cell's settings and runs, each run's directory, status, steps and mapped value. It is written
atomically as batches are handed out and end, and at the end (a Ctrl-C, a dead engine and a stopped
sweep included); when runs end faster than it is worth rewriting, the writes are gathered, so that
it is never more than about half a second behind (more only for a sweep so large that one write
takes more than 25 ms), and the driver's time does not grow with the square of the runs. A driver
killed outright leaves it at most that far behind: `--resume` runs again what it had not seen end,
in new directories, and the records already there stay.

A run that fails or diverges marks its cell and the sweep goes on; an engine that dies ends its runs
`failed` (the conductor replaces it) and they are not retried here: `--resume DIR` runs again every
run that did not end `completed` or `diverged` (a divergence is a result: the same seed diverges
again), each in a new directory, so no record is written over. The driver keeps only the runs in
flight: a finished run leaves its value and status in sweep.json and its curves on disk, so a
sweep of thousands of runs does not grow the driver's memory.

Refinement (`--refine N`, `SweepRun.refine`) adds cells to the same sweep: when every run handed out
has ended, the next round of cells (engine/sweeps.py's `next_cells`: the midpoint of each boundary
not yet located) joins sweep.json's cells, marked `"refined": true`, with runs like any other; sweep.json's
`refine` keeps the plan and how many extra cells are still allowed, so `--resume` goes on with it.
`--stop-when-decided` (`SweepRun.stop_when_decided`) sends the success test with each start command
(`stop_when`), and the engine's loop ends a run `completed` as soon as it has passed (engine/loop.py);
sweep.json notes where (`stopped_early`). Torch-free.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.client import RunRequest
from engine.orchestration.jobs import RESULTS, Job, JobKind, RunBatch, count_endings, counts_line
from engine.orchestration.runs import LiveRun
from engine.record import (
    SCHEMA_VERSION,
    SWEEP_MANIFEST,
    RecordError,
    claim_run_dir,
    now_iso,
    read_json_object,
    safe_name,
    write_json_atomically,
)
from engine.status import RunStatus, is_final, worst_status
from engine.sweeps import (
    RefinePlan,
    SweepError,
    SweepRecord,
    SweepSpec,
    cell_config,
    count_successes,
    early_stop,
    next_cells,
    refine_plan,
    spec_from_dict,
)

WRITE_GAP_S = 0.5  # at least this long between two writes of sweep.json while runs end ...
WRITE_SHARE = 0.05  # ... and long enough that writing it takes at most this share of the driver's time


def run_dir_name(cell_index: int, settings: dict[str, Any], seed: int, attempt: int = 1) -> str:
    label = "-".join(f"{k}-{v}" for k, v in settings.items())
    return safe_name(f"c{cell_index:04d}-{label}-s{seed}" + (f"-r{attempt}" if attempt > 1 else ""))


def run_entry(spec: SweepSpec, cell_index: int, cell_label: str, seed: int) -> dict[str, Any]:
    """A run as sweep.json lists it before it starts."""
    return {
        "label": f"{cell_label}, seed {seed}",
        "cell": cell_index,
        "seed": seed,
        "dir": None,
        "status": RunStatus.WAITING.value,
        "steps": 0,
        "value": None,
    } | ({"passed": None} if spec.mapping.success else {})


def new_manifest(spec: SweepSpec) -> dict[str, Any]:
    runs, cells = [], []
    for cell in spec.cells:
        numbers = []
        for seed in spec.seeds:
            numbers.append(len(runs))
            runs.append(run_entry(spec, cell.index, cell.label, seed))
        cells.append({"index": cell.index, "label": cell.label, "settings": cell.settings, "runs": numbers})
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "sweep",
        "title": spec.title or f"sweep of {spec.preset or spec.family}",
        "status": RunStatus.RUNNING.value,
        "started_at": now_iso(),
        "ended_at": None,
        "spec": spec.as_dict(),
        "batched": spec.batched,
        "cells": cells,
        "runs": runs,
    }


def read_sweep_manifest(path: Path) -> dict[str, Any]:
    problems: list[str] = []
    manifest = read_json_object(path / SWEEP_MANIFEST, problems, "it cannot be resumed")
    if problems:
        raise RecordError(problems[0])
    if manifest.get("kind") != "sweep" or not isinstance(manifest.get("spec"), dict):
        raise RecordError(f"{path / SWEEP_MANIFEST}: not a sweep record (no kind = sweep, no spec)")
    return manifest


class SweepBatch(RunBatch):
    """A batch of a sweep: its engine's share of the cores goes with the start command."""

    def __init__(self, lives: list[LiveRun], job: SweepRun):
        super().__init__(lives, job=job)
        self.threads = job.threads

    def command(self) -> dict[str, Any]:
        command = super().command()
        if self.threads:
            command["threads"] = self.threads
        if self.job.stop_when is not None:  # --stop-when-decided: the engine's loop stops a run that has passed
            command["stop_when"] = self.job.stop_when
        return command


class SweepRun(Job):
    kind = JobKind.SWEEP
    keeps_states = False  # a finished run's curves are on disk, its value in sweep.json (the module's docstring)

    def __init__(self, spec: SweepSpec, path: Path, manifest: dict[str, Any] | None = None):
        """A new sweep in `path` (sweep.json written at once), or one resumed from its `manifest`.
        RecordError if sweep.json cannot be written."""
        super().__init__()
        self.spec = spec
        self.path = path
        self.title = spec.title or spec.label
        self.name = spec.name or spec.label
        self.scale = spec.scale or ""
        self.manifest = manifest or new_manifest(spec)
        self.manifest["status"] = RunStatus.RUNNING.value
        self.manifest["ended_at"] = None
        self.configs = {cell.index: cell.config for cell in spec.cells}
        for cell in self.manifest["cells"][len(spec.cells) :]:  # added by refinement: not in the grid
            self.configs[cell["index"]] = cell_config(spec, cell["settings"])
        # What runs now: every run not already a result, grouped into batches (a cell's seeds as lanes).
        self.pending: list[list[int]] = []
        for cell in self.manifest["cells"]:
            todo = [n for n in cell["runs"] if self.manifest["runs"][n]["status"] not in RESULTS]
            if not todo:
                continue
            if spec.batched:
                self.pending.append(todo)
            else:
                self.pending += [[n] for n in todo]
        self.total_batches = len(self.pending)
        self.in_flight: dict[int, RunBatch] = {}  # id(batch) -> batch
        self.numbers: dict[str, int] = {}  # run id -> its number in sweep.json's runs
        self.threads = 0  # each engine's share of the cores (set by the caller, which knows how many engines); 0: the engine's choice
        self.started = time.monotonic()
        self.next_write = 0.0  # when sweep.json may be written again (see write)
        self.unwritten = False  # a change waits for it
        self.wall_s = 0.0
        self.wall_before = float(self.manifest.get("wall_s") or 0.0)  # earlier sessions of a resumed sweep
        self.steps_before = sum(  # steps of the runs ended before this session (for the ETA)
            self.configs[run["cell"]].steps for run in self.manifest["runs"] if is_final(run["status"])
        )
        for cell in self.manifest["cells"]:
            self.summarise_cell(cell)
        self.stop_when = early_stop(spec.mapping) if self.manifest.get("stop_when_decided") else None
        self.refine_if_due()  # a resumed refinement whose last round had ended
        self.write()

    @classmethod
    def resume(cls, path: Path) -> SweepRun:
        """The sweep recorded in `path`, to run what did not end `completed` or `diverged`.
        RecordError if there is no readable sweep.json; SweepError if it no longer resolves."""
        manifest = read_sweep_manifest(path)
        spec = spec_from_dict(manifest["spec"])
        return cls(spec, path, manifest)

    # -- counts, for the displays ------------------------------------------------------------------
    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.manifest["runs"]

    def counts(self) -> dict[str, int]:
        """How many runs are done, stopped, failed, running, waiting (jobs.count_endings)."""
        return count_endings(run["status"] for run in self.runs)

    @property
    def labels(self) -> list[str]:
        return [run["label"] for run in self.runs]

    def statuses(self) -> dict[str, RunStatus]:
        return {run["label"]: RunStatus.parse(run["status"]) or RunStatus.UNKNOWN for run in self.runs}

    def progress(self) -> str:
        counts = self.counts()
        return f"{self.status or RunStatus.RUNNING}: {counts_line(counts, len(self.runs), 'runs')}"

    def position(self, batch: RunBatch) -> str:
        return batch.lives[0].label

    # -- the job protocol --------------------------------------------------------------------------
    def next_batch(self) -> RunBatch | None:
        if self.stopping or not self.pending:
            return None
        numbers = self.pending.pop(0)
        lives = []
        for number in numbers:
            run = self.runs[number]
            cell = self.manifest["cells"][run["cell"]]
            attempt = len(run.get("attempts", [])) + (2 if run.get("dir") else 1)
            run_dir = self.path / run_dir_name(cell["index"], cell["settings"], run["seed"], attempt)
            while run_dir.exists():  # a run sweep.json had not recorded yet when its driver was killed
                attempt += 1
                run_dir = self.path / run_dir_name(cell["index"], cell["settings"], run["seed"], attempt)
            run_dir = claim_run_dir(run_dir)
            if run.get("dir"):
                run["attempts"] = [*run.get("attempts", []), {"dir": run["dir"], "status": run["status"]}]
            request = RunRequest(
                family=self.spec.family,
                config=self.configs[run["cell"]],
                seed=run["seed"],
                device=self.spec.device,
                preset=self.spec.preset,
            )
            live = LiveRun(request, run_dir, label=run["label"])
            lives.append(live)
            self.numbers[request.run_id] = number
            run.update(dir=run_dir.name, status=RunStatus.RUNNING.value, run_id=request.run_id, steps=0, value=None)
            if self.spec.mapping.success:
                run["passed"] = None
        batch = SweepBatch(lives, self)
        self.in_flight[id(batch)] = batch
        self.write(soon=True)
        return batch

    def batch_ended(self, batch: RunBatch) -> None:
        self.in_flight.pop(id(batch), None)
        mapping = self.spec.mapping
        for live in batch.lives:
            run = self.runs[self.numbers.pop(live.run_id)]
            # Only a completed run has a value: a failed or diverged run's last numbers are not a result (its cell shows it).
            value = mapping.value(live.state) if live.state.status == RunStatus.COMPLETED else None
            run.update(status=str(live.state.status), steps=live.state.step, value=value)
            if mapping.success:  # a completed run as its numbers say, a diverged one did not pass (Mapping.passed)
                run["passed"] = mapping.passed(live.state)
            if live.finished is not None and live.finished.message and live.state.status != RunStatus.COMPLETED:
                run["message"] = live.finished.message
            stopped_early = (
                getattr(live.finished, "stopped_early", "") if live.state.status == RunStatus.COMPLETED else ""
            )
            if stopped_early:
                run["stopped_early"] = stopped_early
            self.summarise_cell(self.manifest["cells"][run["cell"]])  # the heatmap drawn from the manifest is current
        self.refine_if_due()
        self.write(soon=not self.exhausted)

    @property
    def exhausted(self) -> bool:
        return not self.in_flight and (self.stopping or not self.pending)

    def finish(self, status: RunStatus | None = None, message: str = "") -> None:
        """Close sweep.json with the sweep's status: `status` when given (interrupted, failed), stopped
        if it was stopped, else its worst run's ending. Runs never started stay `waiting`: --resume runs them."""
        for batch in list(self.in_flight.values()):  # the conductor ends every batch first; never leave one open
            batch.end_unfinished(status or RunStatus.STOPPED, message)
            self.batch_ended(batch)
        ended = [run["status"] for run in self.runs if run["status"] != RunStatus.WAITING]
        self.status = status or (RunStatus.STOPPED if self.stopping else worst_status(ended))
        self.wall_s = time.monotonic() - self.started
        self.manifest.update(
            status=str(self.status), ended_at=now_iso(), wall_s=round(self.wall_before + self.wall_s, 1)
        )
        self.write()

    def states(self):  # the runs' curves are on disk, not kept here (see the module's docstring)
        return {}

    # -- early stops and refinement ----------------------------------------------------------------
    def stop_when_decided(self) -> None:
        """Stop each run from now on once it has passed the success test (`--stop-when-decided`; kept in
        sweep.json, so --resume goes on doing so). SweepError if the test cannot be met before a run ends."""
        self.stop_when = early_stop(self.spec.mapping)
        self.manifest["stop_when_decided"] = True
        self.write()

    @property
    def refinement(self) -> RefinePlan | None:
        return RefinePlan.from_dict(self.manifest.get("refine"))

    def refine(self, cells: int, resolution: float | None = None) -> None:
        """Spend up to `cells` extra cells on locating the boundaries (`--refine N`; with --resume, N more):
        sweep.json keeps the plan and what is left of it. SweepError if the sweep cannot be refined."""
        plan = refine_plan(self.spec, cells, resolution)
        before = self.refinement
        if before is not None:  # more cells for a refinement begun before, at its resolution unless given
            plan = replace(
                before,
                cells=before.cells - before.left + cells,
                left=cells,
                resolution=plan.resolution if resolution is not None else before.resolution,
                ended="",
            )
        self.manifest["refine"] = plan.as_dict()
        self.refine_if_due()
        self.write()

    def refine_if_due(self) -> None:
        """When every run handed out has ended, add the next round of refinement (engine/sweeps.py's
        `next_cells`): new cells, each with the sweep's seeds, marked `refined`, run like the others."""
        plan = self.refinement
        if plan is None or self.stopping or self.pending or self.in_flight:
            return
        wanted = next_cells(SweepRecord.from_manifest(self.manifest), plan)
        if not wanted:
            self.manifest["refine"] = replace(plan, ended="located").as_dict()
            return
        if plan.left <= 0:
            self.manifest["refine"] = replace(plan, ended="spent").as_dict()
            return
        added = 0
        for settings in wanted[: plan.left]:
            try:
                config = cell_config(self.spec, settings)
            except SweepError:
                continue  # the family refuses that cell (a cross-field check): that boundary stays as it is
            self.add_cell(settings, config)
            added += 1
        self.manifest["refine"] = replace(plan, left=plan.left - added, rounds=plan.rounds + 1).as_dict()
        if not added:
            self.manifest["refine"] = replace(plan, ended="located").as_dict()

    def add_cell(self, settings: dict[str, Any], config) -> None:
        """A refined cell: its runs, one per seed, `waiting`, and their batches to hand out."""
        index = len(self.manifest["cells"])
        label = ", ".join(f"{k}={v}" for k, v in settings.items())
        numbers = []
        for seed in self.spec.seeds:
            numbers.append(len(self.runs))
            self.runs.append(run_entry(self.spec, index, label, seed))
        cell = {"index": index, "label": label, "settings": settings, "runs": numbers, "refined": True}
        self.manifest["cells"].append(cell)
        self.configs[index] = config
        self.summarise_cell(cell)
        batches = [numbers] if self.spec.batched else [[n] for n in numbers]
        self.pending += batches
        self.total_batches += len(batches)

    # -- the record --------------------------------------------------------------------------------
    def summarise_cell(self, cell: dict[str, Any]) -> None:
        """A cell's mean and sd of its runs' mapped values so far, kept in its manifest entry; with a
        success test, also how many of its seeds passed, k of n, and the interval (SweepCell.successes)."""
        values = [self.runs[n]["value"] for n in cell["runs"] if self.runs[n]["value"] is not None]
        cell["mean"] = statistics.fmean(values) if values else None
        cell["sd"] = statistics.stdev(values) if len(values) > 1 else None
        if self.spec.mapping.success:
            runs = [self.runs[n] for n in cell["runs"]]
            cell["success"] = count_successes((run["status"], run.get("passed")) for run in runs).as_dict()

    def write(self, soon: bool = False) -> None:
        """Write sweep.json now, or with `soon` when it is due (else `flush` writes it when it is)."""
        start = time.monotonic()
        if soon and start < self.next_write:
            self.unwritten = True
            return
        try:
            write_json_atomically(self.path / SWEEP_MANIFEST, self.manifest)
        except OSError as exc:
            self.unwritten = True
            raise RecordError(f"cannot write {self.path / SWEEP_MANIFEST}: {exc.strerror or exc}") from None
        self.unwritten = False
        self.next_write = start + max(WRITE_GAP_S, (time.monotonic() - start) / WRITE_SHARE)

    def flush(self) -> None:
        if self.unwritten and time.monotonic() >= self.next_write:
            self.write()
