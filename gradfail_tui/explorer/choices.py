"""What the setup forms ask to run, validated (RunRequested and GroupRequested carry these), and the job each becomes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.client import RunRequest
from engine.config import BaseConfig
from engine.groups import GroupPreset, MemberRun
from engine.orchestration import GroupRun, RunsJob
from engine.record import new_run_dir


@dataclass(frozen=True)
class RunChoice:
    """What the form says to run, validated."""

    family: str
    config: BaseConfig
    seed: int
    device: str
    preset: str | None  # only when the values are exactly the preset's
    label: str

    def job(self, runs_dir: Path) -> RunsJob:
        """The run, with its record in a new directory under `runs_dir` (RecordError if it cannot be made)."""
        request = RunRequest(
            family=self.family, config=self.config, seed=self.seed, device=self.device, preset=self.preset
        )
        job = RunsJob.create([request], [new_run_dir(runs_dir, self.label)])
        job.lives[0].label = self.label
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
