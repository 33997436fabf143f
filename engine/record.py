"""The run record: a directory holding run.json (the manifest) and events.jsonl (every event).

The parent process writes it, as a sink of the event stream: whatever the engine process does
(crash, hang, out of memory), every event that reached the parent is on disk, flushed, and the
manifest says how the run ended. Reading is forgiving: a truncated last line or a missing
manifest costs what it lost and is reported, never a traceback. Format: docs/run-record.md.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine import __version__
from engine.events import (
    SCHEMA_VERSION,
    Event,
    Metrics,
    RunFinished,
    RunStarted,
    from_dict,
    to_json,
)
from engine.status import RunStatus

MANIFEST = "run.json"
EVENTS = "events.jsonl"


class RecordError(OSError):
    """The run directory cannot be made or written; the message names the path."""


def now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def safe_name(label: str, empty: str = "run") -> str:
    """A label as a file or directory name: "d = 10" -> "d-10" (`empty` if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or empty


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` through a temporary file, so a reader never sees half a file (OSError if not)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json_object(path: Path, problems: list[str], otherwise: str) -> dict[str, Any]:
    """The JSON object in `path`, or {} with a problem that ends with what was done `otherwise`."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name}: missing; {otherwise}")
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name}: unreadable ({exc}); {otherwise}")
        return {}
    if not isinstance(loaded, dict):
        problems.append(f"{path.name}: not a JSON object; {otherwise}")
        return {}
    return loaded


def new_run_dir(base: Path, label: str) -> Path:
    """A fresh directory under `base`, named by time and label: runs/20261127-101500-parity30."""
    safe = safe_name(label)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        path = base / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise RecordError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
    raise RecordError(f"cannot find a free run directory name under {base}")


def claim_run_dir(path: Path) -> Path:
    """Use `path` (from --out) as the run directory; never write over a recorded run."""
    if path.exists() and not path.is_dir():
        raise RecordError(f"--out {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise RecordError(
            f"--out {path}: directory is not empty; choose a new one (gradfail never writes over a recorded run)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
    return path


class RunRecorder:
    """Writes one run's record. Every event is appended and flushed as it arrives."""

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = {
            "schema_version": SCHEMA_VERSION,
            "status": RunStatus.RUNNING,
            "started_at": now_iso(),
            "ended_at": None,
            "message": "",
            "summary": {},
            **manifest,
        }
        self.manifest.setdefault("versions", {}).update({"gradfail": __version__, "python": platform.python_version()})
        try:
            self._events = open(path / EVENTS, "a", encoding="utf-8")  # noqa: SIM115 (open while the run records)
            self._write_manifest()
        except OSError as exc:
            raise RecordError(f"cannot write the run record in {path}: {exc.strerror or exc}") from None
        self._last_step = 0
        self._metrics: dict[str, float] = {}

    def append(self, event: Event) -> None:
        try:
            self._events.write(to_json(event) + "\n")
            self._events.flush()
        except OSError as exc:
            raise RecordError(f"cannot append to {self.path / EVENTS}: {exc.strerror or exc}") from None
        if isinstance(event, RunStarted):
            self.manifest.update(
                device=event.device,
                device_name=event.device_name,
                config=event.config,
                total_steps=event.total_steps,
                seed=event.seed,
            )
            self.manifest["versions"].update(event.versions)
            self._write_manifest()
        elif isinstance(event, Metrics):
            self._metrics.update(event.values)
            self._last_step = max(self._last_step, event.step)
        elif isinstance(event, RunFinished) and event.stopped_early:
            self.manifest["stopped_early"] = event.stopped_early  # written by finish, beside the status

    @property
    def last_step(self) -> int:
        return self._last_step

    def finish(
        self, status: str, message: str = "", step: int | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        """Close the record with how the run ended. Safe to call twice (the first call wins)."""
        if self.manifest.get("ended_at"):
            return
        self.manifest.update(
            status=status,
            message=message,
            ended_at=now_iso(),
            steps_done=self._last_step if step is None else step,
            summary=dict(self._metrics),
            **(extra or {}),
        )
        try:
            self._events.close()
        except OSError:
            pass
        self._write_manifest()

    def _write_manifest(self) -> None:
        write_json_atomically(self.path / MANIFEST, self.manifest)


@dataclass
class RecordedRun:
    """A run read back from disk, with a note for everything that could not be read."""

    path: Path
    manifest: dict[str, Any]
    events: list[Event]
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.manifest.get("status", RunStatus.UNKNOWN)

    @property
    def label(self) -> str:
        return self.manifest.get("preset") or self.manifest.get("family") or self.path.name


def is_run_dir(path: Path) -> bool:
    return (path / MANIFEST).is_file() or (path / EVENTS).is_file()


def read_run(path: Path) -> RecordedRun:
    """Read a run record, keeping what can be read and naming what cannot."""
    problems: list[str] = []
    manifest = read_json_object(path / MANIFEST, problems, "rebuilt from the events")

    events: list[Event] = []
    try:
        with open(path / EVENTS, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    events.append(from_dict(json.loads(line)))
                except (ValueError, json.JSONDecodeError) as exc:
                    problems.append(f"{EVENTS} line {number}: skipped ({exc})")
    except FileNotFoundError:
        problems.append(f"{EVENTS}: missing; no events to show")
    except OSError as exc:
        problems.append(f"{EVENTS}: unreadable ({exc})")

    started = next((e for e in events if isinstance(e, RunStarted)), None)
    if started is not None:
        for key in ("family", "preset", "config", "seed", "device", "total_steps"):
            manifest.setdefault(key, getattr(started, key))
    finished = next((e for e in reversed(events) if isinstance(e, RunFinished)), None)
    if "status" not in manifest:
        manifest["status"] = finished.status if finished else RunStatus.UNKNOWN
    if not manifest.get("summary"):
        manifest["summary"] = last_values(events)
    manifest.setdefault("run_id", started.run_id if started else path.name)
    return RecordedRun(path=path, manifest=manifest, events=events, problems=problems)


def find_runs(base: Path) -> list[Path]:
    """Run directories directly under `base` (and one level deeper, for groups), newest first."""
    if not base.is_dir():
        return []
    found = []
    for child in base.iterdir():
        if child.is_dir():
            if is_run_dir(child):
                found.append(child)
            else:
                found.extend(sub for sub in child.iterdir() if sub.is_dir() and is_run_dir(sub))
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def last_values(events: list[Event]) -> dict[str, float]:
    values: dict[str, float] = {}
    for event in events:
        if isinstance(event, Metrics):
            values.update(event.values)
    return values


# ---- groups: several runs recorded together (a group preset, or --seeds N) ---------------------

GROUP_MANIFEST = "group.json"
SWEEP_MANIFEST = "sweep.json"  # a sweep's (engine/orchestration/sweep.py): read as a group of its runs
PAPER_MANIFEST = "paper.json"  # the whole paper's (engine/paper.py): a group directory per result
AUDIT_MANIFEST = "audit.json"  # an audit's (engine/orchestration/audit.py): a group directory per seed block


class JobKind(StrEnum):
    """What a job is (engine/orchestration/jobs.py), and the `kind` its record's manifest says: the words
    records already hold, so records written before this enum read the same."""

    RUN = "run"  # one run: run.json and events.jsonl
    SEEDS = "seeds"  # one config, several seeds: group.json with a seed-S/ run directory per seed
    GROUP = "group"  # a group preset: group.json, its claims and verdict
    SWEEP = "sweep"  # a grid of configs: sweep.json
    PAPER = "paper"  # every result of the paper: paper.json
    AUDIT = "audit"  # a group preset over seed blocks: audit.json


def record_kind(path: Path) -> JobKind | None:
    """What the record directory `path` holds, by its manifest (a group whose group.json is lost is still
    a group: its runs' directories say so); None if it is no record."""
    for name, kind in (
        (PAPER_MANIFEST, JobKind.PAPER),
        (AUDIT_MANIFEST, JobKind.AUDIT),
        (SWEEP_MANIFEST, JobKind.SWEEP),
    ):
        if (path / name).is_file():
            return kind
    if is_run_dir(path):
        return JobKind.RUN
    if not is_group_dir(path):
        return None
    manifest = read_json_object(path / GROUP_MANIFEST, [], "") if (path / GROUP_MANIFEST).is_file() else {}
    if manifest.get("kind") == JobKind.SEEDS:
        return JobKind.SEEDS
    if not manifest and all(sub.name.startswith("seed-") for sub in path.iterdir() if is_run_dir(sub)):
        return JobKind.SEEDS  # no manifest to say: `seed-S/` directories are a --seeds group's layout
    return JobKind.GROUP


class GroupRecorder:
    """Writes a group's manifest: what it runs, and, as it goes, how each run and the group ended.

    The runs keep their own records in subdirectories; group.json only ties them together, so a
    group whose manifest is lost still holds every run (and `read_group` rebuilds what it can).
    """

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = {
            "schema_version": SCHEMA_VERSION,
            "status": RunStatus.RUNNING,
            "started_at": now_iso(),
            "ended_at": None,
            "versions": {"gradfail": __version__, "python": platform.python_version()},
            **manifest,
        }
        self.write()

    def run_dir(self, number: int, label: str) -> Path:
        """A member's directory: 01-d-5, 02-d-10, ... in the order the group runs them."""
        return claim_run_dir(self.path / f"{number:02d}-{safe_name(label)}")

    def update(self, **fields: Any) -> None:
        self.manifest.update(fields)
        self.write()

    def set_member(self, number: int, **fields: Any) -> None:
        """Update what group.json says of run `number` (1-based): its status, directory, steps."""
        runs = self.manifest["runs"]
        runs[number - 1] = {**runs[number - 1], **fields}
        self.update(runs=runs)

    def finish(self, status: str, **fields: Any) -> None:
        """The group's end: every run that never started is marked "not run", then its status, the time
        and `fields` (the verdict, the wall time) are written. Started runs keep what set_member said."""
        runs = [run if run.get("dir") else {**run, "status": RunStatus.NOT_RUN} for run in self.manifest["runs"]]
        self.update(runs=runs, status=status, ended_at=now_iso(), **fields)

    def write(self) -> None:
        try:
            write_json_atomically(self.path / GROUP_MANIFEST, self.manifest)
        except OSError as exc:
            raise RecordError(f"cannot write {self.path / GROUP_MANIFEST}: {exc.strerror or exc}") from None


@dataclass
class RecordedGroup:
    path: Path
    manifest: dict[str, Any]
    runs: list[tuple[str, RecordedRun]]  # (label, record), in the group's order
    problems: list[str] = field(default_factory=list)

    def run_configs(self) -> list[tuple[str, Any]]:
        """(label, config as its run.json keeps it) per run: what a setup fingerprint reads (groups.setup_of)."""
        return [(label, run.manifest.get("config")) for label, run in self.runs]


def is_group_dir(path: Path) -> bool:
    return (
        (path / GROUP_MANIFEST).is_file()
        or (path / SWEEP_MANIFEST).is_file()
        or (path.is_dir() and not is_run_dir(path) and any(is_run_dir(sub) for sub in path.iterdir() if sub.is_dir()))
    )


def read_group(path: Path) -> RecordedGroup:
    """Read a group's manifest and every run under it, naming what could not be read."""
    problems: list[str] = []
    name = (
        SWEEP_MANIFEST
        if (path / SWEEP_MANIFEST).is_file() and not (path / GROUP_MANIFEST).is_file()
        else GROUP_MANIFEST
    )
    manifest = read_json_object(path / name, problems, "the runs were found by their directories")

    listed = manifest.get("runs") if isinstance(manifest.get("runs"), list) else []
    members: list[tuple[str, Path]] = []
    for item in listed:
        if isinstance(item, dict) and isinstance(item.get("dir"), str) and item["dir"]:
            members.append((str(item.get("label", item["dir"])), path / item["dir"]))
    if not members:
        members = [(sub.name, sub) for sub in sorted(path.iterdir()) if sub.is_dir() and is_run_dir(sub)]
    runs = []
    for label, run_path in members:
        if not is_run_dir(run_path):
            problems.append(f"{label}: no run record in {run_path.name}/ (the run never started)")
            continue
        record = read_run(run_path)
        problems += [f"{label}: {problem}" for problem in record.problems]
        runs.append((label, record))
    manifest.setdefault("status", RunStatus.UNKNOWN)
    return RecordedGroup(path=path, manifest=manifest, runs=runs, problems=problems)


class NotARecord(ValueError):
    """The path is not a run record nor a group of them; the message says what was expected."""


def check_record_dir(path: Path) -> None:
    """NotARecord, saying what was expected, unless `path` is a run's or a group's directory."""
    if not path.exists():
        raise NotARecord(f"{path}: no such directory")
    if not path.is_dir():
        raise NotARecord(
            f"{path}: not a directory; give a run directory (run.json, events.jsonl) "
            "or a group's directory (group.json and a directory per run)"
        )
    if not (is_run_dir(path) or is_group_dir(path)):
        raise NotARecord(
            f"{path}: not a run record (no run.json or events.jsonl in it) "
            "nor a group of runs (no group.json, no run directories under it)"
        )


def read_record(path: Path) -> RecordedRun | RecordedGroup:
    """A run directory as a RecordedRun, a group's directory as a RecordedGroup; NotARecord otherwise."""
    check_record_dir(path)
    return read_run(path) if is_run_dir(path) else read_group(path)
