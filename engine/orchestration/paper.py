"""The whole paper running: its results' groups one after another into one directory, paper.json kept as they go.

`PaperRun` is a job made of `GroupRun`s (group.py), in the paper's order (engine/paper.py): each group
gets its own directory (01-fig-parity/, ...) written as `gradfail run --preset fig-parity` would write
it, so the report, the explorer and the talk read each one as a group. A group's GroupRun is made when
its turn comes; paper.json lists every result from the start, with its status and, once it has ended,
its verdict, and at the end the overall outcome and summary. A stop lets the run in flight end, closes
its group, and marks the groups not started "not run". Torch-free.
"""

from __future__ import annotations

import time
from pathlib import Path

from engine import paper
from engine.groups import GroupPreset, MemberRun
from engine.orchestration.group import GroupRun
from engine.orchestration.jobs import Job, JobKind, RunBatch
from engine.record import RecordError, claim_run_dir, now_iso, write_json_atomically
from engine.status import RunStatus


class PaperRun(Job):
    title = paper.TITLE
    kind = JobKind.PAPER

    def __init__(self, groups: list[tuple[GroupPreset, list[MemberRun]]], scale: str, device: str, path: Path) -> None:
        """Writes paper.json in `path` at once (RecordError if it cannot)."""
        super().__init__()
        self.groups = groups
        self.scale = scale
        self.device = device
        self.path = path
        self.name = paper.NAME
        self.runs: list[GroupRun] = []  # the groups started, in order
        self.started = time.monotonic()
        self.wall_s = 0.0
        self.manifest = {
            "kind": "paper",
            "title": paper.TITLE,
            "authors": paper.AUTHORS,
            "venue": paper.VENUE,
            "scale": scale,
            "device": device,
            "status": RunStatus.RUNNING,
            "started_at": now_iso(),
            "ended_at": None,
            "results": [
                {
                    "preset": group.name,
                    "heading": paper.heading(group),
                    "dir": paper.result_dir(number, group.name),
                    "runs": len(members),
                    "status": RunStatus.WAITING,
                }
                for number, (group, members) in enumerate(groups, 1)
            ],
        }
        self._write()

    @property
    def current(self) -> GroupRun | None:
        return self.runs[-1] if self.runs else None

    def next_batch(self) -> RunBatch | None:
        while not self.stopping:
            group = self.current
            if group is None or group.exhausted:
                if group is not None:
                    self._close(group)
                if len(self.runs) >= len(self.groups):
                    return None
                preset, members = self.groups[len(self.runs)]
                where = self.path / self.manifest["results"][len(self.runs)]["dir"]
                scale = paper.group_scale(preset, self.scale)
                group = GroupRun(preset, members, scale, self.device, claim_run_dir(where))
                self.runs.append(group)
                self._set(len(self.runs), status=RunStatus.RUNNING)
            batch = group.next_batch()
            if batch is None:  # one in flight: wait for it
                return None
            batch.job = self  # the conductor reports back to this job, which passes it on
            self.lives += batch.lives
            return batch
        return None

    @property
    def labels(self) -> list[str]:
        return [member.label for _, members in self.groups for member in members]

    @property
    def total_runs(self) -> int:
        return sum(len(members) for _, members in self.groups)

    def statuses(self) -> dict[str, RunStatus]:
        """Each result's status by its heading (its runs' labels repeat from one result to the next)."""
        return {entry["heading"]: RunStatus(entry["status"]) for entry in self.manifest["results"]}

    def progress(self) -> str:
        group = self.current
        if group is None or self.finished:
            return self.manifest.get("summary") or f"{self.status or RunStatus.WAITING}: {len(self.groups)} results"
        return f"result {len(self.runs)} of {len(self.groups)}, {group.name}: {group.progress()}"

    def position(self, batch: RunBatch) -> str:
        group = self.current
        inner = group.position(batch) if group is not None else ""
        return f"result {len(self.runs)} of {len(self.groups)}, {group.name if group else ''}, {inner}"

    def summary(self) -> str:
        return self.manifest.get("summary") or self.progress()

    def batch_ended(self, batch: RunBatch) -> None:
        group = self.current
        if group is not None:
            group.batch_ended(batch)

    @property
    def exhausted(self) -> bool:
        group = self.current
        if group is not None and group.in_flight is not None:
            return False
        if self.stopping:
            return True
        return len(self.runs) >= len(self.groups) and (group is None or group.exhausted)

    def finish(self, status: RunStatus | None = None, message: str = "") -> None:
        """Close the group in flight (with `status` when stopped or interrupted), mark the others not
        run, and write the overall outcome."""
        super().finish(status)
        group = self.current
        if group is not None and not group.finished:
            group.stopping = group.stopping or self.stopping
            self._close(group, status)
        for number in range(len(self.runs) + 1, len(self.groups) + 1):
            self._set(number, status=RunStatus.NOT_RUN, write=False)
        outcomes = [run.verdict.outcome for run in self.runs if run.verdict is not None]
        outcomes += [paper.Outcome.INCOMPLETE] * (len(self.groups) - len(outcomes))
        self.wall_s = time.monotonic() - self.started
        self.manifest.update(
            status=self.status,
            ended_at=now_iso(),
            wall_s=round(self.wall_s, 1),
            outcome=paper.overall(outcomes),
            summary=paper.summarise(outcomes),
        )
        self._write()

    def _close(self, group: GroupRun, status: RunStatus | None = None) -> None:
        if not group.finished:
            try:
                group.finish(status)
            except RecordError:
                pass  # its runs keep their own records; paper.json still says how it ended
        number = self.runs.index(group) + 1
        outcome = group.verdict.outcome if group.verdict is not None else paper.Outcome.INCOMPLETE
        self._set(number, status=group.status, outcome=outcome, wall_s=round(group.wall_s, 1))

    def _set(self, number: int, write: bool = True, **fields) -> None:
        entry = self.manifest["results"][number - 1]
        entry.update(fields)
        if write:
            self._write()

    def _write(self) -> None:
        try:
            write_json_atomically(self.path / paper.MANIFEST, self.manifest)
        except OSError as exc:
            raise RecordError(f"cannot write {self.path / paper.MANIFEST}: {exc.strerror or exc}") from None
