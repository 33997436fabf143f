"""What the setup forms ask to run, validated (RunRequested, GroupRequested and SweepRequested carry
these), and the job each becomes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.client import RunRequest
from engine.config import BaseConfig
from engine.groups import GroupPreset, MemberRun
from engine.orchestration import GroupRun, RunsJob
from engine.orchestration.sweep import SweepRun
from engine.record import claim_run_dir, new_run_dir
from engine.sweeps import SweepPreset, SweepSpec


@dataclass(frozen=True)
class RunChoice:
    """What the form says to run, validated."""

    family: str
    config: BaseConfig
    seed: int
    device: str
    preset: str | None  # only when the values are exactly the preset's
    label: str
    seeds: int = 1  # seed, seed + 1, ...: recorded as `gradfail run --seeds` records them
    together: bool = False  # several seeds as lanes of one batched model (the family can), else one after another

    def job(self, runs_dir: Path) -> RunsJob:
        """The run (or its seeds), with its record in a new directory under `runs_dir` (RecordError if
        it cannot be made); several seeds as `gradfail run --seeds N` records them: a "seeds" group
        directory with a run directory per seed."""
        requests = [
            RunRequest(
                family=self.family, config=self.config, seed=self.seed + i, device=self.device, preset=self.preset
            )
            for i in range(self.seeds)
        ]
        if self.seeds == 1:
            job = RunsJob.create(requests, [new_run_dir(runs_dir, self.label)])
            job.lives[0].label = self.label
            return job
        group_dir = new_run_dir(runs_dir, f"{self.label}-x{self.seeds}")
        run_dirs = [claim_run_dir(group_dir / f"seed-{r.seed}") for r in requests]
        job = RunsJob.create(requests, run_dirs, group_dir=group_dir, together=self.together)
        for live in job.lives:
            live.label = f"seed {live.request.seed}"
        return job


@dataclass(frozen=True)
class GroupChoice:
    """What the group form says to run, resolved."""

    group: GroupPreset
    scale: str
    members: list[MemberRun]
    device: str

    def job(self, runs_dir: Path) -> GroupRun:
        """The group, with group.json in a new directory under `runs_dir` (RecordError if it cannot be made)."""
        path = new_run_dir(runs_dir, self.group.record_label(self.scale))
        return GroupRun(self.group, self.members, self.scale, self.device, path)


@dataclass(frozen=True)
class SweepChoice:
    """What the sweep form says to run: a sweep preset resolved at a scale, on a device."""

    preset: SweepPreset
    spec: SweepSpec

    def job(self, runs_dir: Path) -> SweepRun:
        """The sweep, with sweep.json in a new directory under `runs_dir`, named as `gradfail sweep` names
        it (RecordError if it cannot be made)."""
        return SweepRun(self.spec, new_run_dir(runs_dir, self.spec.label))
