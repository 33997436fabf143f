"""The runs the explorer knows: this session's runs and the records found on disk.

A `RunEntry` is one run as the UI sees it: a RunState (the same fold of events the headless CLI
and the report use) plus where it came from. Live runs also carry their LiveRun, which writes
every event to the run record as it arrives; recorded runs carry what `read_run` could read and
the problems it found. `Replay` feeds a recorded run's events back by their `t`.

A `GroupEntry` is a group preset's runs seen together (fig-parity: d = 5, 10, 30): the group the
explorer is running now, or a group record found on disk. Its runs are ordinary RunEntries; the
group only knows them by key, in the group's order, and carries the claims' verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.claims import Verdict
from engine.client import LiveRun, RunRequest
from engine.events import Event
from engine.groups import GroupError, GroupPreset, MemberRun, judge_record
from engine.record import GroupRecorder, find_runs, is_group_dir, read_group, read_run
from engine.state import RunState

REPLAY_SPEEDS = (1, 2, 5, 10, 20, 50, 100, 1000)
MAX_RECORDED = 200  # newest run records listed; older ones stay on disk, untouched


@dataclass
class RunEntry:
    key: str
    label: str
    state: RunState
    origin: str  # "session" (started here) or "recorded" (found on disk)
    path: Path | None = None
    request: RunRequest | None = None
    live: LiveRun | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    events: list[Event] | None = None  # a recorded run's events
    where: str = ""  # a recorded run's directory, relative to the runs directory

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def running(self) -> bool:
        return self.origin == "session" and not self.state.finished


@dataclass
class GroupEntry:
    key: str  # group_key(its directory)
    name: str  # the group preset's name
    title: str
    origin: str  # "session" (started here) or "recorded" (found on disk)
    labels: list[str]  # its runs, in the group's order
    plot: tuple[str, ...] = ()  # the metrics drawn, every run overlaid; () for all of them
    log_y: bool = False
    scale: str = ""
    path: Path | None = None
    keys: dict[str, str] = field(default_factory=dict)  # label -> RunEntry key, for the runs that exist
    statuses: dict[str, str] = field(default_factory=dict)  # label -> how it ended; "not run" if it never started
    status: str = "running"  # running, then its worst run's status (events.worst_status), stopped or interrupted
    verdict: Verdict | None = None
    problems: list[str] = field(default_factory=list)
    # A group running in this session: what it runs, and its record.
    preset: GroupPreset | None = None
    members: list[MemberRun] = field(default_factory=list)
    recorder: GroupRecorder | None = None
    device: str = "auto"
    number: int = 0  # the run going (1-based); 0 before the first
    stopping: bool = False  # `x` was pressed: the run going is the last
    started: float = 0.0  # time.monotonic() at the start, for the group's wall time

    @property
    def running(self) -> bool:
        return self.origin == "session" and self.verdict is None

    def progress(self) -> str:
        """"run 2 of 3: d = 10" while it runs; how it ended once it has."""
        if self.running and 1 <= self.number <= len(self.labels):
            return f"run {self.number} of {len(self.labels)}: {self.labels[self.number - 1]}"
        return f"{self.status}: {self.ran} of {len(self.labels)} runs"

    @property
    def ran(self) -> int:
        """Runs that have started (running, or ended any way), not those waiting or never run."""
        return sum(1 for label in self.labels if self.statuses.get(label, "not run") not in ("waiting", "not run"))


GROUP_KEY = "group:"  # a group's key in the runs list: this, then its directory


def group_key(path: Path) -> str:
    return f"{GROUP_KEY}{path}"


def is_group_key(key: str) -> bool:
    return key.startswith(GROUP_KEY)


def load_recorded_group(path: Path) -> GroupEntry:
    """A group record as an entry, with its claims judged again from its runs' events; never raises."""
    try:
        record = read_group(path)
    except Exception as exc:  # read_group is forgiving; this is for what even it did not foresee
        return GroupEntry(key=group_key(path), name=path.name, title=path.name, origin="recorded", labels=[],
                          path=path, status="unreadable", problems=[f"cannot read this group: {type(exc).__name__}: {exc}"])
    problems = list(record.problems)
    try:
        verdict: Verdict | None = judge_record(record)
    except GroupError as exc:  # claims edited by hand: the runs are shown, the verdict is not given
        verdict = None
        problems.append(str(exc))
    manifest = record.manifest
    listed = [r for r in manifest.get("runs", []) if isinstance(r, dict)] if isinstance(manifest.get("runs"), list) else []
    labels = [str(r.get("label", r.get("dir", "?"))) for r in listed] or [label for label, _ in record.runs]
    statuses = {str(r.get("label", r.get("dir", "?"))): str(r.get("status", "unknown")) for r in listed}
    statuses.update({label: run.status for label, run in record.runs})
    plot = manifest.get("plot") if isinstance(manifest.get("plot"), list) else []
    return GroupEntry(key=group_key(path), name=str(manifest.get("preset") or path.name),
                      title=str(manifest.get("title") or manifest.get("preset") or path.name), origin="recorded",
                      labels=labels, plot=tuple(str(m) for m in plot), log_y=bool(manifest.get("log_y")),
                      scale=str(manifest.get("scale") or ""), path=path,
                      keys={label: str(run.path) for label, run in record.runs},
                      statuses=statuses, status=str(manifest.get("status") or "unknown"), verdict=verdict,
                      problems=problems)


def scan_groups(base: Path, skip: set[Path]) -> list[GroupEntry]:
    """The group records directly under `base` (newest first), but those in `skip`."""
    if not base.is_dir():
        return []
    found = [p for p in base.iterdir() if p.is_dir() and p.resolve() not in skip and is_group_dir(p)]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [load_recorded_group(path) for path in found[:MAX_RECORDED]]


def label_members(groups: list[GroupEntry], entries: list[RunEntry]) -> None:
    """A group's recorded runs go by their labels in the group ("d = 5"), as they did when it ran."""
    by_key = {e.key: e for e in entries}
    for group in groups:
        for label, key in group.keys.items():
            if key in by_key:
                by_key[key].label = by_key[key].state.label = label


def load_recorded(path: Path) -> RunEntry:
    """A run record as an entry; whatever is wrong with it ends up in `problems`, never raised."""
    try:
        record = read_run(path)
    except Exception as exc:  # read_run is forgiving; this is for what even it did not foresee
        state = RunState(run_id=path.name, label=path.name, status="unreadable")
        return RunEntry(key=str(path), label=path.name, state=state, origin="recorded", path=path,
                        problems=[f"cannot read this record: {type(exc).__name__}: {exc}"], events=[])
    manifest = record.manifest
    seed = manifest.get("seed")
    label = record.label + (f" seed={seed}" if seed else "")
    state = RunState.from_record(record.events, manifest, label=label)
    return RunEntry(key=str(path), label=label, state=state, origin="recorded", path=path, where=path.name,
                    manifest=manifest, problems=list(record.problems), events=record.events)


def scan_recorded(base: Path, skip: set[Path]) -> list[RunEntry]:
    entries = []
    for path in find_runs(base)[:MAX_RECORDED]:
        if path.resolve() not in skip:
            entry = load_recorded(path)
            entry.where = str(path.relative_to(base))  # a group's runs: "<group>/seed-1"
            entries.append(entry)
    return entries


class Replay:
    """Plays a recorded run's events into a fresh RunState at `speed` times the pace they were made."""

    def __init__(self, entry: RunEntry, speed: float, clock=time.monotonic):
        self.entry = entry
        self.events = list(entry.events or [])
        self.speed = speed
        self.clock = clock
        self.position = 0  # events applied so far
        self.played = 0.0  # run time (seconds of `t`) played so far
        self.paused = False
        self._last = clock()
        entry.state = RunState(run_id=entry.state.run_id, label=entry.label)

    @property
    def done(self) -> bool:
        return self.position >= len(self.events)

    def set_speed(self, speed: float) -> None:
        self.advance()
        self.speed = speed

    def toggle_pause(self) -> None:
        self.advance()
        self.paused = not self.paused

    def advance(self) -> bool:
        """Apply the events that are due; True if any were."""
        now = self.clock()
        if not self.paused:
            self.played += (now - self._last) * self.speed
        self._last = now
        start = self.position
        while self.position < len(self.events) and self.events[self.position].t <= self.played:
            self.entry.state.apply(self.events[self.position])
            self.position += 1
        if self.done:
            self.entry.state.fill_from_manifest(self.entry.manifest)
        return self.position > start

    def finish(self) -> None:
        """Skip to the end."""
        self.played = float("inf")
        self.advance()
