"""The event stream: what the engine says about a run, as typed events.

The same events travel over the worker's pipe (one JSON object a line), are drawn by the TUI,
rendered by the headless CLI and appended to the run record's events.jsonl, so a recorded run
can be replayed, compared and reported without retraining. docs/run-record.md documents the
schema; bump SCHEMA_VERSION when a field changes meaning or disappears (adding one does not).

Torch-free: the UI process reads these.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

SCHEMA_VERSION = 1


@dataclass
class Event:
    TYPE: ClassVar[str] = ""
    run_id: str
    t: float  # seconds since the run started (wall clock, engine side)


@dataclass
class RunStarted(Event):
    TYPE: ClassVar[str] = "run_started"
    family: str
    config: dict[str, Any]
    seed: int
    device: str  # resolved: "cpu" or "cuda:0"
    device_name: str  # "cpu (2 threads)" or the GPU's name
    total_steps: int
    preset: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  # gradfail, torch, python
    schema_version: int = SCHEMA_VERSION

    @property
    def cpu_threads(self) -> int | None:
        """The CPU threads the run trains on, read from device_name; None on a GPU."""
        found = re.search(r"\((\d+) thread", self.device_name) if self.device == "cpu" else None
        return int(found.group(1)) if found else None


@dataclass
class Metrics(Event):
    """Scalars at a step: training metrics averaged since the last event, or an evaluation."""

    TYPE: ClassVar[str] = "metrics"
    step: int
    values: dict[str, float]


@dataclass
class Snapshot(Event):
    """A picture of the run at a step that is not a scalar, drawn by kind:

    - "lines": data = {"title", "x_label", "y_label", "series": [{"label", "x": [...], "y": [...]}]}
      (decoded PWL curves, a prediction over a staircase, a sweep's measured values);
    - "images": data = {"title", "images": [{"label", "pixels": [[0/1, ...], ...]}]};
    - "table": data = {"title", "columns": [...], "rows": [[...], ...]}.
    A newer snapshot of the same name replaces the older one on screen.
    """

    TYPE: ClassVar[str] = "snapshot"
    step: int
    name: str
    kind: str
    data: dict[str, Any]


@dataclass
class StatusChanged(Event):
    """The run was paused or resumed (its end is a RunFinished)."""

    TYPE: ClassVar[str] = "status"
    step: int
    status: str  # RunStatus.RUNNING or PAUSED


@dataclass
class SettingChanged(Event):
    """A setting changed while the run trained (engine/changes.py): `new` applies from step + 1 on."""

    TYPE: ClassVar[str] = "setting_changed"
    step: int  # the last step trained with `old`
    setting: str
    old: Any
    new: Any

    def describe(self) -> str:
        """For a plot's marker and a notification: "lr 0.01→0.1"."""
        return f"{self.setting} {_short(self.old)}→{_short(self.new)}"


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class RunFinished(Event):
    TYPE: ClassVar[str] = "run_finished"
    step: int  # the last step taken (for "diverged": the first step whose loss was not finite)
    status: str  # a final RunStatus (engine/status.py)
    message: str = ""  # for people: why it ended, if not completed
    error_kind: str = ""  # an ErrorKind (engine/status.py), "" when it did not fail
    traceback: str = ""  # for "failed" inside the engine; kept in the record, not put on screen
    stopped_early: str = ""  # "completed" before its last step: the test met, and where (a sweep's --stop-when-decided)


@dataclass
class EngineReady(Event):
    """The engine process has imported torch and waits for a run (pipe only, never recorded)."""

    TYPE: ClassVar[str] = "engine_ready"
    torch_version: str
    cuda: bool
    devices: list[str] = field(default_factory=list)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls for cls in (RunStarted, Metrics, Snapshot, StatusChanged, SettingChanged, RunFinished, EngineReady)
}


def to_dict(event: Event) -> dict[str, Any]:
    return {"type": event.TYPE, **dataclasses.asdict(event)}


def to_json(event: Event) -> str:
    # NaN and inf are written as the bare words NaN / Infinity (Python's json reads them back):
    # a diverged run's last loss is worth keeping as it was.
    return json.dumps(to_dict(event), separators=(",", ":"))


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event; fields this version does not know are ignored. ValueError if malformed."""
    if not isinstance(data, dict):
        raise ValueError("an event must be a JSON object")
    cls = EVENT_TYPES.get(data.get("type"))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as exc:
        raise ValueError(f"malformed {cls.TYPE} event: {exc}") from None


def from_json(line: str) -> Event:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    return from_dict(data)
