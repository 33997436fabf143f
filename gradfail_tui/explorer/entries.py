"""The runs and groups the explorer knows: this session's and the records found on disk.

A `RunEntry` is one run as the explorer lists and draws it: a RunState (the same fold of events
the headless CLI and the report use) and where it came from. A run started here carries its
LiveRun (engine/orchestration), which records and folds every event as it arrives; a recorded run
carries what `read_run` could read and the problems it found. `Replay` feeds a recorded run's
events back by their `t`.

A `GroupEntry` is a group preset's runs seen together (fig-parity: d = 5, 10, 30): a group running
here (its GroupRun job says how far it is and, at the end, the verdict) or a group record found on
disk (its claims judged again from its runs' events). Its runs are ordinary RunEntries, known by
key, in the group's order. A group preset's entry knows the figure its preset declares (`figure`),
which the watch view draws as the paper does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import audit_figures
from engine.catalog import group_figure
from engine.claims import Verdict
from engine.events import Event, Snapshot
from engine.figures import LAST, Figure
from engine.groups import GroupError, judge_record
from engine.orchestration import GroupRun, Job, JobKind, LiveRun
from engine.orchestration.jobs import counts_line
from engine.paper import is_paper_dir
from engine.record import find_runs, is_group_dir, read_group, read_run
from engine.state import RunState
from engine.status import RunStatus, worst_status

REPLAY_SPEEDS = (1, 2, 5, 10, 20, 50, 100, 1000)
MAX_RECORDED = 200  # newest run records listed; older ones stay on disk, untouched
SESSION, RECORDED = "session", "recorded"  # where an entry comes from: started here, or found on disk


@dataclass
class RunEntry:
    key: str
    label: str
    state: RunState
    origin: str  # SESSION or RECORDED
    path: Path | None = None
    live: LiveRun | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    events: list[Event] | None = None  # a recorded run's events
    where: str = ""  # a recorded run's directory, relative to the runs directory
    pictures: list[Snapshot] = field(default_factory=list)  # a live run's snapshots its group's figure may draw

    def snapshot_history(self) -> list[Snapshot]:
        """Its snapshots in order, for a figure's pictures at chosen steps: every one a record holds; of a
        run training here (whose state keeps only the latest), those kept for its group's figure."""
        if self.events is not None:
            return [e for e in self.events if isinstance(e, Snapshot)]
        return self.pictures

    def keep_picture(self, snapshot: Snapshot, steps: tuple[int | str, ...]) -> None:
        """Keep `snapshot` for a picture drawn at `steps`, and of the older ones only those it may still
        draw (engine/figures.py picks the latest at or before each step, the first one before any, the
        newest for "last"): a few, however long the run."""
        history = [*self.pictures, snapshot]
        keep = {0, len(history) - 1}
        for step in steps:
            before = [i for i, s in enumerate(history) if step != LAST and s.step <= step]
            keep.update(before[-1:])
        self.pictures = [s for i, s in enumerate(history) if i in keep]

    @classmethod
    def of_live(cls, live: LiveRun, label: str, where: str = "") -> RunEntry:
        live.state.label = label
        return cls(
            key=live.run_id, label=label, state=live.state, origin=SESSION, path=live.run_dir, live=live, where=where
        )

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def running(self) -> bool:
        return self.live is not None and not self.live.ended


@dataclass
class GroupEntry:
    """A job's runs seen together (a group preset, seeds of one config, a sweep, a sweep's cell), running
    in this session (its job describes itself: engine/orchestration/jobs.py) or read from its record."""

    key: str  # group_key(its directory)
    name: str  # the group preset's name
    title: str
    origin: str  # SESSION or RECORDED
    labels: list[str]  # its runs, in the group's order
    plot: tuple[str, ...] = ()  # the metrics drawn, every run overlaid; () for all of them
    log_y: bool = False
    scale: str = ""
    path: Path | None = None
    keys: dict[str, str] = field(default_factory=dict)  # label -> RunEntry key, for the runs that exist
    recorded_statuses: dict[str, str] = field(default_factory=dict)  # a record's: label -> how it ended
    recorded_status: str = RunStatus.UNKNOWN
    recorded_verdict: Verdict | None = None
    audit: str = ""  # a record's: how often its setup held over seeds (audit_figures.held_for_record), or ""
    problems: list[str] = field(default_factory=list)
    job: Job | None = None  # the job running, or run, in this session
    kind: JobKind = JobKind.GROUP  # a group preset; seeds (drawn as a band); a sweep (its phase diagram)
    sweep: dict | None = None  # a sweep's record (sweep.json): shown as its phase diagram, no claims
    cell: dict | None = None  # one cell of a sweep (its sweep.json entry): its seeds' runs, overlaid on enter
    engines: int = 0  # a sweep running here: the engines of its local pool (explorer/engines.py)
    paused: bool = False  # a sweep running here, paused on every engine (p); a batch starting later pauses too
    _figure: Figure | None = field(default=None, init=False, repr=False, compare=False)
    _figure_read: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def of_job(cls, job: Job, name: str | None = None) -> GroupEntry:
        """A job started in this session, as the job describes itself. A sweep's record (sweep.json) is the
        job's manifest, which the job keeps up to date as runs end, so its phase diagram fills in as it is
        drawn again; only its runs in flight become RunEntries (a finished run's curves are on disk)."""
        return cls(
            key=group_key(job.path),
            name=name or job.name,
            title=job.title,
            origin=SESSION,
            labels=job.labels,
            plot=job.plot,
            log_y=job.log_y,
            scale=job.scale,
            path=job.path,
            keys={live.label: live.run_id for live in job.lives},
            job=job,
            kind=job.kind,
            sweep=getattr(job, "manifest", None) if job.kind is JobKind.SWEEP else None,
        )

    @property
    def seeds(self) -> bool:
        return self.kind is JobKind.SEEDS

    @property
    def figure(self) -> Figure | None:
        """The figure its group preset declares ([figure]: the paper's, engine/figures.py), or None: seeds, a
        sweep, a preset without one, or a record whose preset cannot be read any more (renamed since it ran).
        A running group's comes with its preset; a record's is read by its preset's name when first asked
        (not for every record a scan lists)."""
        if not self._figure_read:
            self._figure_read = True
            if self.kind is JobKind.GROUP and self.sweep is None and self.cell is None:
                if isinstance(self.job, GroupRun):
                    figure = self.job.preset.figure
                else:
                    figure = group_figure(self.name) if self.job is None else None
                self._figure = figure if figure is not None and figure.declared else None
        return self._figure

    @property
    def read_back(self) -> bool:
        """A job of this session whose runs leave memory as they end (a sweep): once it has ended, its
        record, read back from disk, stands in for it."""
        return self.job is not None and not self.job.keeps_states

    @property
    def statuses(self) -> dict[str, str]:
        """label -> how it stands: waiting, running, how it ended, or "not run"."""
        return self.job.statuses() if self.job is not None else self.recorded_statuses

    @property
    def status(self) -> str:
        if self.job is not None:
            return self.job.status or RunStatus.RUNNING
        return self.recorded_status

    @property
    def verdict(self) -> Verdict | None:
        return self.job.verdict if self.job is not None else self.recorded_verdict

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.finished

    def shows_snapshots(self, label: str | None) -> bool:
        """Whether a run's snapshots are shown beside the figure: as the job says; a record keeps no
        such wish, so the default there: snapshots where there is no overlay."""
        if self.job is not None:
            return self.job.shows_snapshots(label)
        return self.seeds or not self.plot

    def progress(self) -> str:
        """ "run 2 of 3: d = 10" while it runs; how it ended once it has."""
        if self.job is not None:
            return self.job.progress()
        if self.seeds:
            statuses = list(self.statuses.values())
            counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
            return f"{len(self.labels)} seeds: " + ", ".join(f"{n} {s}" for s, n in counts.items())
        return f"{self.status}: {self.ran} of {len(self.labels)} runs"

    def pool_progress(self) -> str:
        """A sweep running here, what runs where: "sweep on 2 engines: 12/108 runs done, 2 running, 0 failed"."""
        engines = f"{self.engines} engine{'s' if self.engines != 1 else ''}"
        counts = counts_line(self.job.counts(), self.job.total_runs, "runs")
        return f"sweep on {engines}{' (paused)' if self.paused else ''}: {counts}"

    @property
    def ran(self) -> int:
        """Runs that have started (running, or ended any way), not those waiting or never run."""
        statuses = self.statuses
        return sum(
            1
            for label in self.labels
            if statuses.get(label, RunStatus.NOT_RUN) not in (RunStatus.WAITING, RunStatus.NOT_RUN)
        )


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
        return GroupEntry(
            key=group_key(path),
            name=path.name,
            title=path.name,
            origin=RECORDED,
            labels=[],
            path=path,
            recorded_status=RunStatus.UNREADABLE,
            problems=[f"cannot read this group: {type(exc).__name__}: {exc}"],
        )
    problems = list(record.problems)
    manifest = record.manifest
    sweep = manifest if manifest.get("kind") == JobKind.SWEEP else None
    try:
        verdict: Verdict | None = judge_record(record) if sweep is None else None  # a sweep checks no claim
    except GroupError as exc:  # claims edited by hand: the runs are shown, the verdict is not given
        verdict = None
        problems.append(str(exc))
    listed = (
        [r for r in manifest.get("runs", []) if isinstance(r, dict)] if isinstance(manifest.get("runs"), list) else []
    )
    labels = [str(r.get("label", r.get("dir", "?"))) for r in listed] or [label for label, _ in record.runs]
    statuses = {str(r.get("label", r.get("dir", "?"))): str(r.get("status", RunStatus.UNKNOWN)) for r in listed}
    statuses.update({label: run.status for label, run in record.runs})
    plot = manifest.get("plot") if isinstance(manifest.get("plot"), list) else []
    kind = JobKind.SEEDS if manifest.get("kind") == JobKind.SEEDS else JobKind.SWEEP if sweep else JobKind.GROUP
    return GroupEntry(
        kind=kind,
        key=group_key(path),
        name=str(manifest.get("preset") or path.name),
        title=str(manifest.get("title") or manifest.get("preset") or path.name),
        origin=RECORDED,
        labels=labels,
        plot=tuple(str(m) for m in plot),
        log_y=bool(manifest.get("log_y")),
        scale=str(manifest.get("scale") or ""),
        path=path,
        keys={label: str(run.path) for label, run in record.runs},
        recorded_statuses=statuses,
        recorded_status=str(manifest.get("status") or RunStatus.UNKNOWN),
        recorded_verdict=verdict,
        audit=audit_figures.held_for_record(record) if verdict is not None else "",
        problems=problems,
        sweep=sweep,
    )


def record_places(base: Path) -> list[Path]:
    """Where records are: `base`, and each whole paper's directory under it (`gradfail run --preset
    paper` puts its results' groups there, one level deeper than a group of its own)."""
    if not base.is_dir():
        return []
    return [base, *(p for p in base.iterdir() if p.is_dir() and is_paper_dir(p))]


def scan_groups(base: Path, skip: set[Path]) -> list[GroupEntry]:
    """The group records directly under `base` or in a paper's directory there (newest first), but
    those in `skip`."""
    found = [
        p
        for place in record_places(base)
        for p in place.iterdir()
        if p.is_dir() and p.resolve() not in skip and is_group_dir(p)
    ]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    entries = []
    for path in found[:MAX_RECORDED]:
        entries.append(load_recorded_group(path))
        if entries[-1].sweep is not None:
            entries += sweep_cells(entries[-1])
    return entries


MAX_CELLS = 400  # cells of one sweep listed in Runs (the rest are in its report)


def sweep_cells(sweep: GroupEntry) -> list[GroupEntry]:
    """Each cell of a recorded sweep as a group of its seeds' runs: enter overlays them."""
    manifest = sweep.sweep or {}
    runs = manifest.get("runs", []) if isinstance(manifest.get("runs"), list) else []
    cells = []
    for cell in manifest.get("cells", [])[:MAX_CELLS]:
        labels = [str(runs[n].get("label")) for n in cell.get("runs", []) if 0 <= n < len(runs)]
        statuses = {label: sweep.recorded_statuses.get(label, RunStatus.WAITING) for label in labels}
        cells.append(
            GroupEntry(
                key=f"{sweep.key}#{cell.get('index')}",
                name=f"· {cell.get('label', '')}",
                title=sweep.title,  # the band reads "TITLE  · d=10, steps=500" (the name)
                origin=RECORDED,
                labels=labels,
                path=sweep.path,
                keys={label: sweep.keys[label] for label in labels if label in sweep.keys},
                recorded_statuses=statuses,
                recorded_status=str(worst_status(statuses.values())) if statuses else RunStatus.NOT_RUN,
                cell=cell,
            )
        )
    return cells


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
        state = RunState(run_id=path.name, label=path.name, status=RunStatus.UNREADABLE)
        return RunEntry(
            key=str(path),
            label=path.name,
            state=state,
            origin=RECORDED,
            path=path,
            problems=[f"cannot read this record: {type(exc).__name__}: {exc}"],
            events=[],
        )
    manifest = record.manifest
    seed = manifest.get("seed")
    label = record.label + (f" seed={seed}" if seed else "")
    state = RunState.from_record(record.events, manifest, label=label)
    return RunEntry(
        key=str(path),
        label=label,
        state=state,
        origin=RECORDED,
        path=path,
        where=path.name,
        manifest=manifest,
        problems=list(record.problems),
        events=record.events,
    )


def scan_recorded(base: Path, skip: set[Path]) -> list[RunEntry]:
    found = sorted(
        (path for place in record_places(base) for path in find_runs(place)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    entries = []
    for path in found[:MAX_RECORDED]:
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
