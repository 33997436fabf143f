"""Every kind of job created in its run directory, in one place.

A job's record goes either exactly where the person said (`--out DIR`: claimed, so that it is new or
empty) or in a new directory under the runs directory, named after the job (`runs/fig-parity-2/`).
Several seeds of one config are laid out one way wherever they come from: a "seeds" group directory
holding a `seed-S/` run directory per seed. `gradfail run`, `gradfail sweep`, the explorer's forms
and the talk's live slides all create their jobs here, so a new kind of job is taught its directory
once. Every function raises RecordError when the directory cannot be made or the first record
written (nothing trains unrecorded); the caller says so in its own way. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import paper
from engine.client import RunRequest
from engine.groups import GroupPreset, MemberRun
from engine.orchestration.audit import AuditRun, Members
from engine.orchestration.group import GroupRun
from engine.orchestration.jobs import RunsJob
from engine.orchestration.paper import PaperRun
from engine.orchestration.sweep import SweepRun
from engine.presets import DEFAULT_SCALE
from engine.record import claim_run_dir, new_run_dir
from engine.sweeps import SweepSpec


@dataclass(frozen=True)
class Place:
    """Where a new job's record goes: `out` exactly, else a new directory under `runs_dir` named after
    the job (with `prefix` before its name: the talk's live runs are "talk-...")."""

    runs_dir: Path = Path("runs")
    out: Path | None = None
    prefix: str = ""

    def claim(self, name: str) -> Path:
        return claim_run_dir(self.out) if self.out else new_run_dir(self.runs_dir, self.prefix + name)


def seed_dir(group_dir: Path, seed: int) -> Path:
    """One seed's run directory inside a "seeds" group directory (report.py reads the layout back)."""
    return group_dir / f"seed-{seed}"


def runs_job(requests: list[RunRequest], place: Place, label: str | None = None, together: bool = True) -> RunsJob:
    """One run (in its own directory), or several seeds of one config (a "seeds" group directory named
    `LABEL-xN` with a directory per seed). `label` names the directory and the runs in the displays
    (default: the first request's label); several seeds are labelled "seed S"."""
    label = label or requests[0].label
    if len(requests) == 1:
        job = RunsJob.create(requests, [place.claim(label)])
        job.lives[0].label = job.title = job.name = label
        return job
    group_dir = place.claim(f"{label}-x{len(requests)}")
    run_dirs = [claim_run_dir(seed_dir(group_dir, r.seed)) for r in requests]
    job = RunsJob.create(requests, run_dirs, group_dir=group_dir, together=together)
    job.name = label
    job.title = f"{label}: {len(requests)} seeds of one config"
    for live in job.lives:
        live.label = f"seed {live.request.seed}"
    return job


def group_job(group: GroupPreset, members: list[MemberRun], scale: str, device: str, place: Place) -> GroupRun:
    """A group preset's runs, group.json written at once."""
    return GroupRun(group, members, scale, device, place.claim(group.record_label(scale)))


def paper_job(groups: list[tuple[GroupPreset, list[MemberRun]]], scale: str, device: str, place: Place) -> PaperRun:
    """Every result of the paper into one directory ("paper", or "paper-SCALE" at another scale)."""
    return PaperRun(groups, scale, device, place.claim(paper.NAME + ("" if scale == DEFAULT_SCALE else f"-{scale}")))


def audit_job(group: GroupPreset, members: Members, manifest: dict[str, Any], place: Place) -> AuditRun:
    """A group preset over seed blocks (`manifest`: engine.orchestration.audit.new_manifest), audit.json
    written at once, each block's group directory made when its turn comes (`AuditRun.resume` reopens one)."""
    return AuditRun(group, members, place.claim(f"audit-{group.record_label(manifest['scale'])}"), manifest)


def sweep_job(spec: SweepSpec, place: Place) -> SweepRun:
    """A new sweep, sweep.json written at once (`SweepRun.resume` reopens one)."""
    return SweepRun(spec, place.claim(spec.label))
