"""The runs the explorer knows: this session's runs and the records found on disk.

A `RunEntry` is one run as the UI sees it: a RunState (the same fold of events the headless CLI
and the report use) plus where it came from. Live runs also carry their LiveRun, which writes
every event to the run record as it arrives; recorded runs carry what `read_run` could read and
the problems it found. `Replay` feeds a recorded run's events back by their `t`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.client import LiveRun, RunRequest
from engine.events import FINAL_STATUSES, Event
from engine.record import find_runs, read_run
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
    state = RunState.from_events(record.events, label=label, run_id=str(manifest.get("run_id", "")))
    fill_from_manifest(state, manifest)
    return RunEntry(key=str(path), label=label, state=state, origin="recorded", path=path, where=path.name,
                    manifest=manifest, problems=list(record.problems), events=record.events)


def fill_from_manifest(state: RunState, manifest: dict[str, Any]) -> None:
    """What the events did not say (a record cut short): take it from the manifest."""
    state.family = state.family or str(manifest.get("family") or "")
    state.preset = state.preset or manifest.get("preset")
    state.total_steps = state.total_steps or int(manifest.get("total_steps") or 0)
    state.device_name = state.device_name or str(manifest.get("device_name") or manifest.get("device") or "")
    status = manifest.get("status")
    if not state.finished and status in FINAL_STATUSES:
        state.status, state.message = status, str(manifest.get("message") or "")
    elif not state.finished and status in ("running", "unknown", None):
        # Nothing says how it ended: the process that wrote it went away mid-run.
        state.status = "unknown" if not state.series else "cut short"
    if not state.series and manifest.get("summary"):
        state.latest = dict(manifest["summary"])


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
            fill_from_manifest(self.entry.state, self.entry.manifest)
        return self.position > start

    def finish(self) -> None:
        """Skip to the end."""
        self.played = float("inf")
        self.advance()
