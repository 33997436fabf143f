"""What a run looks like so far, folded from its events: the one model every view reads.

The headless CLI, the TUI (live and replaying) and the report all apply events to a RunState and
draw from it, so a recorded run looks the same as it did live. Torch-free.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from engine.events import Event, Metrics, RunFinished, RunStarted, SettingChanged, Snapshot, StatusChanged
from engine.status import RunStatus, is_final


@dataclass
class RunState:
    run_id: str
    label: str
    family: str = ""
    preset: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    device: str = ""
    device_name: str = ""
    total_steps: int = 0
    status: str = RunStatus.STARTING
    message: str = ""
    error_kind: str = ""
    step: int = 0
    t: float = 0.0  # engine time of the latest event
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # metric -> (step, value)
    latest: dict[str, float] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    changes: list[SettingChanged] = field(default_factory=list)  # settings changed mid-run, in order
    _rate_points: collections.deque = field(default_factory=lambda: collections.deque(maxlen=64))

    def apply(self, event: Event) -> None:
        self.t = max(self.t, event.t)
        if isinstance(event, RunStarted):
            self.family, self.preset, self.config = event.family, event.preset, event.config
            self.seed, self.device, self.device_name = event.seed, event.device, event.device_name
            self.total_steps = event.total_steps
            self.status = RunStatus.RUNNING
        elif isinstance(event, Metrics):
            self.step = max(self.step, event.step)
            for name, value in event.values.items():
                self.series.setdefault(name, []).append((event.step, value))
                self.latest[name] = value
            self._rate_points.append((event.t, event.step))
        elif isinstance(event, Snapshot):
            self.snapshots[event.name] = event
        elif isinstance(event, SettingChanged):
            self.changes.append(event)
        elif isinstance(event, StatusChanged):
            self.status = event.status
            self._rate_points.clear()  # a pause is not slowness
        elif isinstance(event, RunFinished):
            self.status, self.message, self.error_kind = event.status, event.message, event.error_kind
            self.step = event.step or self.step

    def current_config(self) -> dict[str, Any]:
        """The config the run trains with now: as it started, with the changes made since."""
        return {**self.config, **{c.setting: c.new for c in self.changes}}

    def change_markers(self) -> list[tuple[int, str]]:
        """(step, label) of each change, for the plots' markers."""
        return [(c.step, c.describe()) for c in self.changes]

    @property
    def finished(self) -> bool:
        return is_final(self.status)

    def steps_per_s(self) -> float | None:
        """The recent training rate, over the last few seconds of events."""
        if len(self._rate_points) < 2:
            return None
        (t0, s0), (t1, s1) = self._rate_points[0], self._rate_points[-1]
        for t, s in self._rate_points:  # use about the last 3 s
            if t1 - t <= 3.0:
                t0, s0 = t, s
                break
        if t1 - t0 <= 0 or s1 <= s0:
            return None
        return (s1 - s0) / (t1 - t0)

    def eta_s(self) -> float | None:
        rate = self.steps_per_s()
        if not rate or self.finished or not self.total_steps:
            return None
        return max(0.0, (self.total_steps - self.step) / rate)

    @classmethod
    def from_events(cls, events: list[Event], label: str = "", run_id: str = "") -> RunState:
        state = cls(run_id=run_id, label=label)
        for event in events:
            state.apply(event)
        return state

    @classmethod
    def from_record(cls, events: list[Event], manifest: dict[str, Any], label: str = "") -> RunState:
        """A recorded run: its events, then what they did not say taken from its manifest (run.json)."""
        state = cls.from_events(events, label=label, run_id=str(manifest.get("run_id", "")))
        state.fill_from_manifest(manifest)
        return state

    def fill_from_manifest(self, manifest: dict[str, Any]) -> None:
        """What the events did not say (a record cut short): take it from the manifest."""
        self.family = self.family or str(manifest.get("family") or "")
        self.preset = self.preset or manifest.get("preset")
        self.total_steps = self.total_steps or int(manifest.get("total_steps") or 0)
        self.device_name = self.device_name or str(manifest.get("device_name") or manifest.get("device") or "")
        status = manifest.get("status")
        if not self.finished and is_final(status):
            self.status, self.message = status, str(manifest.get("message") or "")
        elif not self.finished and status in (RunStatus.RUNNING, RunStatus.UNKNOWN, None):
            # Nothing says how it ended: the process that wrote it went away mid-run.
            self.status = RunStatus.UNKNOWN if not self.series else RunStatus.CUT_SHORT
        if not self.series and manifest.get("summary"):
            self.latest = dict(manifest["summary"])
