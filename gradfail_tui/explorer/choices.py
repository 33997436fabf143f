"""What the setup forms ask to run, validated (a JobRequested message carries one), and the job each
becomes, created in its run directory by engine/orchestration/factory.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.client import RunRequest
from engine.config import BaseConfig
from engine.groups import GroupPreset, MemberRun
from engine.orchestration import GroupRun, RunsJob
from engine.orchestration.factory import Place, group_job, runs_job, sweep_job
from engine.orchestration.sweep import SweepRun
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

    alone = True  # one config's run(s): r restarts it, and it waits for no group

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
        return runs_job(requests, Place(runs_dir), self.label, together=self.together)


@dataclass(frozen=True)
class GroupChoice:
    """What the group form says to run, resolved."""

    group: GroupPreset
    scale: str
    members: list[MemberRun]
    device: str
    alone = False

    @property
    def label(self) -> str:
        return self.group.name

    def job(self, runs_dir: Path) -> GroupRun:
        """The group, with group.json in a new directory under `runs_dir` (RecordError if it cannot be made)."""
        return group_job(self.group, self.members, self.scale, self.device, Place(runs_dir))


@dataclass(frozen=True)
class SweepChoice:
    """What the sweep form says to run: a sweep preset resolved at a scale, on a device."""

    preset: SweepPreset
    spec: SweepSpec
    alone = False

    @property
    def label(self) -> str:
        return self.spec.label

    def job(self, runs_dir: Path) -> SweepRun:
        """The sweep, with sweep.json in a new directory under `runs_dir`, named as `gradfail sweep` names
        it (RecordError if it cannot be made)."""
        return sweep_job(self.spec, Place(runs_dir))


Choice = RunChoice | GroupChoice | SweepChoice
