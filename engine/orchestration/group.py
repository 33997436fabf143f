"""A group preset running: its members one after another, group.json kept as they go, the verdict at the end.

Every member keeps its own run record in a subdirectory of the group's directory (01-d-5/, ...);
group.json ties them together with the claims, each member's status and, once the group ends, the
verdict judged on what was recorded. A member that fails or diverges does not stop the group: the
claims that need it come out "incomplete". A stop (x, Ctrl-C, a closing explorer) lets the member
in flight end and marks the rest "not run". `gradfail run` and the explorer write the same
directory, so `gradfail report` reads both. Torch-free.
"""

from __future__ import annotations

import time
from pathlib import Path

from engine.claims import judge
from engine.client import RunRequest
from engine.groups import GroupPreset, MemberRun
from engine.orchestration.jobs import Job, JobKind, RunBatch
from engine.orchestration.runs import LiveRun
from engine.record import GroupRecorder
from engine.status import RunStatus


def group_manifest(group: GroupPreset, members: list[MemberRun], scale: str, device: str) -> dict:
    return {
        "kind": "group",
        "preset": group.name,
        "title": group.title,
        "description": group.description,
        "paper": group.paper,
        "scale": scale,
        "device": device,
        "plot": list(group.plot),
        "log_y": group.log_y,
        "claims": [claim.as_dict() for claim in group.claims],
        "runs": [
            {"label": m.label, "family": m.family, "preset": m.preset, "seed": m.seed, "status": RunStatus.WAITING}
            for m in members
        ],
    }


class GroupRun(Job):
    kind = JobKind.GROUP

    def __init__(self, group: GroupPreset, members: list[MemberRun], scale: str, device: str, path: Path):
        """Writes group.json in `path` at once (RecordError if it cannot)."""
        super().__init__()
        self.preset = group
        self.title = group.title
        self.name = group.name
        self.plot = tuple(group.plot)
        self.log_y = group.log_y
        self.members = list(members)
        self.scale = scale
        self.device = device
        self.path = path
        self.recorder = GroupRecorder(path, group_manifest(group, self.members, scale, device))
        self.number = 0  # the member going or last gone (1-based); 0 before the first
        self.in_flight: RunBatch | None = None
        self.started = time.monotonic()
        self.wall_s = 0.0

    @property
    def labels(self) -> list[str]:
        return [member.label for member in self.members]

    def live(self, label: str) -> LiveRun | None:
        return next((live for live in self.lives if live.label == label), None)

    def status_of(self, label: str) -> RunStatus:
        """How a member stands: waiting, its run's status, or "not run" once the group has ended without it."""
        live = self.live(label)
        if live is not None:
            return RunStatus(live.state.status)
        return RunStatus.NOT_RUN if self.finished else RunStatus.WAITING

    def statuses(self) -> dict[str, RunStatus]:
        return {label: self.status_of(label) for label in self.labels}

    def progress(self) -> str:
        """ "run 2 of 3: d = 10" while it runs; how it ended once it has."""
        if not self.finished and 1 <= self.number <= len(self.members):
            return f"run {self.number} of {len(self.members)}: {self.members[self.number - 1].label}"
        ran = sum(1 for s in self.statuses().values() if s not in (RunStatus.WAITING, RunStatus.NOT_RUN))
        return f"{self.status or RunStatus.RUNNING}: {ran} of {len(self.members)} runs"

    def position(self, batch: RunBatch) -> str:
        return f"run {self.number} of {len(self.members)}: {batch.lives[0].label}"

    def shows_snapshots(self, label: str | None) -> bool:
        return self.preset.shows_snapshots(label)

    def next_batch(self) -> RunBatch | None:
        if self.in_flight is not None or self.stopping or self.number >= len(self.members):
            return None
        member = self.members[self.number]
        request = RunRequest(
            family=member.family, config=member.config, seed=member.seed, device=self.device, preset=member.preset
        )
        run_dir = self.recorder.run_dir(self.number + 1, member.label)
        live = LiveRun(request, run_dir, label=member.label)
        self.number += 1
        self.lives.append(live)
        self.recorder.set_member(self.number, status=RunStatus.RUNNING, dir=run_dir.name, run_id=request.run_id)
        self.in_flight = RunBatch([live], job=self)
        return self.in_flight

    def batch_ended(self, batch: RunBatch) -> None:
        self.in_flight = None
        live = batch.lives[0]
        self.recorder.set_member(self.lives.index(live) + 1, status=live.state.status, steps=live.state.step)

    @property
    def exhausted(self) -> bool:
        return self.in_flight is None and (self.stopping or self.number >= len(self.members))

    def finish(self, status: RunStatus | None = None, message: str = "") -> None:
        """Judge the claims on what the members recorded and close group.json; `status` None: the worst
        of the members' endings (as `gradfail run` records it), else stopped (x) or interrupted."""
        super().finish(status)
        self.verdict = judge(self.preset.claims, self.states(), self.scale)
        self.wall_s = time.monotonic() - self.started
        self.recorder.finish(self.status, verdict=self.verdict.as_dict(), wall_s=round(self.wall_s, 1))
