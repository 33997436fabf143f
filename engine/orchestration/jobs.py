"""Work the conductor schedules: a job hands out batches of runs, hears how each ended, and finishes.

A job decides *what* runs next; the conductor decides *where* (which engine) and *when* (when an
engine is free). `RunsJob` is one run, or the seeds of one config trained together (`--seeds N`,
tied by a "seeds" group record); a group preset is a `GroupRun` (group.py), whose members go one
after another; a sweep (`SweepRun`, sweep.py) hands out many batches at once; the paper (`PaperRun`,
paper.py) is groups one after another.

A job also describes itself (`Job`'s second half: its kind, its runs' labels and statuses, its
progress, its verdict, a one-line summary, where its record is), so that a display asks the job
instead of testing its class: a new kind of job is drawn by every display as it is, and a display
that wants more of it adds one adapter. factory.py creates every kind in its run directory.
Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.claims import Verdict
from engine.client import RunRequest, start_command
from engine.orchestration.runs import LiveRun
from engine.record import GroupRecorder, JobKind
from engine.registry import get_family
from engine.state import RunState
from engine.status import RESULTS, RunStatus, is_final, worst_status


def count_endings(statuses: Iterable[object]) -> dict[str, int]:
    """How many are done (a result), stopped (by the user: stopped or interrupted), failed (any other
    ending), running (or starting, or paused), waiting: what a sweep's and an audit's progress say."""
    counts = {"done": 0, "stopped": 0, "failed": 0, "running": 0, "waiting": 0}
    for status in statuses:
        if status in RESULTS:
            counts["done"] += 1
        elif status in (RunStatus.STOPPED, RunStatus.INTERRUPTED):
            counts["stopped"] += 1
        elif is_final(status):
            counts["failed"] += 1
        elif status in (RunStatus.RUNNING, RunStatus.STARTING, RunStatus.PAUSED):
            counts["running"] += 1
        else:
            counts["waiting"] += 1
    return counts


def counts_line(counts: dict[str, int], total: int, what: str) -> str:
    """ "3/10 runs done, 2 running, 1 failed, 1 stopped" (stopped only when there are some)."""
    return f"{counts['done']}/{total} {what} done, {counts['running']} running, {counts['failed']} failed" + (
        f", {counts['stopped']} stopped" if counts["stopped"] else ""
    )


class RunBatch:
    """What one "start" command trains: one run, or several seeds of one config trained together as
    lanes of one model (the engine answers with one RunFinished per run); `job` made it."""

    def __init__(self, lives: list[LiveRun], job: Job | None = None):
        if not lives:
            raise ValueError("a batch needs at least one run")
        self.lives = lives
        self.job = job
        self.sent = False  # whether the engine was asked to train it (else there is nothing to stop)

    def command(self) -> dict[str, Any]:
        return start_command([live.request for live in self.lives])

    def live(self, run_id: str) -> LiveRun | None:
        return next((live for live in self.lives if live.run_id == run_id), None)

    @property
    def done(self) -> bool:
        return all(live.ended for live in self.lives)

    @property
    def record_error(self) -> str | None:
        return next((live.record_error for live in self.lives if live.record_error), None)

    def end_unfinished(
        self, status: RunStatus, message: str = "", error_kind: str = "", traceback: str = ""
    ) -> list[LiveRun]:
        """End every run not ended yet with this status; returns them."""
        ended = [live for live in self.lives if not live.ended]
        for live in ended:
            live.end(status, message, error_kind, traceback)
        return ended


class Job:
    """The protocol between a job and the conductor, with what every job keeps; and how a job
    describes itself to a display (kind, labels, statuses, progress, verdict, summary, path)."""

    title = ""
    kind: JobKind  # each kind of job says which it is
    keeps_states = True  # its runs' states stay in memory to the end (a sweep's leave as they end)

    def __init__(self) -> None:
        self.stopping = False  # no batch is handed out any more (x, Ctrl-C, a closing app)
        self.status: RunStatus | None = None  # set by finish()
        self.lives: list[LiveRun] = []  # every run it has handed out, in order
        self.verdict: Verdict | None = None  # the claims judged, for a job that makes claims, once finished
        self.path: Path | None = None  # its record's directory
        self.name = ""  # what it is named by (a preset's name, a run's label)
        self.scale = ""  # a group preset's scale, where it has one
        self.plot: tuple[str, ...] = ()  # the metrics its figure overlays; () for each run's own
        self.log_y = False

    def next_batch(self) -> RunBatch | None:
        """The next batch to start now, or None (nothing left, or it waits for one in flight)."""
        raise NotImplementedError

    def batch_ended(self, batch: RunBatch) -> None:
        """Every run of `batch` has ended (completed, failed, stopped, or its engine died)."""

    @property
    def exhausted(self) -> bool:
        """No batch will come from it any more, and none is in flight: it can be finished."""
        raise NotImplementedError

    def flush(self) -> None:
        """Write what the job's record has put off, if it is due (the conductor calls this as items
        arrive and while it waits). RecordError if it cannot."""

    def finish(self, status: RunStatus | None = None, message: str = "") -> None:
        """Close the job with `status`; by default `stopped` if it was stopped, else its worst run's ending.
        `message`: why, for the runs it ends that never started."""
        self.status = status or (
            RunStatus.STOPPED if self.stopping else worst_status(live.state.status for live in self.lives)
        )

    @property
    def finished(self) -> bool:
        return self.status is not None

    def states(self) -> dict[str, RunState]:
        return {live.label: live.state for live in self.lives}

    # -- how a job describes itself, for the displays ----------------------------------------------
    @property
    def labels(self) -> list[str]:
        """Its runs' labels, in its order, including those not handed out yet."""
        return [live.label for live in self.lives]

    def statuses(self) -> dict[str, RunStatus]:
        """label -> how each run stands: waiting, running, how it ended, or "not run"."""
        return {live.label: RunStatus(live.state.status) for live in self.lives}

    @property
    def total_runs(self) -> int:
        return len(self.labels)

    def progress(self) -> str:
        """One line: how far it is while it goes, how it ended once it has."""
        statuses = list(self.statuses().values())
        counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
        return f"{len(statuses)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items())

    def position(self, batch: RunBatch) -> str:
        """Where `batch` stands in the job ("run 2 of 3: d = 10"); "" for a job of one batch."""
        return ""

    def summary(self) -> str:
        """One line for its end: the verdict where it makes claims, else its progress."""
        return str(self.verdict.outcome) if self.verdict is not None else self.progress()

    def shows_snapshots(self, label: str | None) -> bool:
        """Whether a run's pictures are drawn beside the job's figure (a group preset says; else yes)."""
        return True


class RunsJob(Job):
    """A single run, or seeds of one config; with several seeds, a "seeds" group record ties their run
    records together (for `gradfail report` and the explorer). Seeds go together, as lanes of one
    batched model (`together`, where the family can: FamilySpec.batched_seeds), or one after another."""

    def __init__(self, lives: list[LiveRun], seeds_record: GroupRecorder | None = None, together: bool = True):
        super().__init__()
        self.lives = lives
        self.title = self.name = lives[0].label
        self.kind = JobKind.SEEDS if len(lives) > 1 else JobKind.RUN
        self.path = seeds_record.path if seeds_record is not None else lives[0].run_dir
        if len(lives) > 1:
            self.title = f"{self.name}: {len(lives)} seeds of one config"
        self.batches = [RunBatch(lives, job=self)] if together else [RunBatch([live], job=self) for live in lives]
        self.handed_out = 0  # batches handed out so far; the next goes when the one before has ended
        self.seeds_record = seeds_record

    @property
    def batch(self) -> RunBatch:
        """The first batch (all of them, for one run or seeds trained together)."""
        return self.batches[0]

    @property
    def record_error(self) -> str | None:
        return next((b.record_error for b in self.batches if b.record_error), None)

    @classmethod
    def create(
        cls, requests: list[RunRequest], run_dirs: list[Path], group_dir: Path | None = None, together: bool = True
    ) -> RunsJob:
        """Records for each request (RecordError if one cannot be written), and for several seeds
        the group record in `group_dir`, where their directories are."""
        lives = [LiveRun(request, run_dir) for request, run_dir in zip(requests, run_dirs, strict=True)]
        record = None
        if len(lives) > 1:
            record = GroupRecorder(group_dir or run_dirs[0].parent, seeds_manifest(lives))
        return cls(lives, record, together)

    def next_batch(self) -> RunBatch | None:
        if self.stopping or self.handed_out == len(self.batches):
            return None
        if self.handed_out and not self.batches[self.handed_out - 1].done:
            return None  # one at a time
        self.handed_out += 1
        return self.batches[self.handed_out - 1]

    @property
    def number(self) -> int:
        """How many batches have been handed out (the one going is the last of them)."""
        return self.handed_out

    @property
    def exhausted(self) -> bool:
        if self.stopping:
            return not self.handed_out or self.batches[self.handed_out - 1].done
        return self.handed_out == len(self.batches) and self.batches[-1].done

    def progress(self) -> str:
        if self.kind is JobKind.RUN:
            state = self.lives[0].state
            return f"{state.status}: {state.step:,} steps"
        return super().progress().replace(" runs: ", " seeds: ", 1)

    def finish(self, status: RunStatus | None = None, message: str = "") -> None:
        ending = status or RunStatus.STOPPED
        for batch in self.batches[self.handed_out :]:  # never started: its runs end here, recorded as such
            batch.end_unfinished(ending, message or f"{ending} before it started")
        super().finish(status or worst_status(live.state.status for live in self.lives))
        if self.seeds_record is not None:
            for number, live in enumerate(self.lives, 1):
                self.seeds_record.set_member(number, status=live.state.status, steps=live.state.step)
            self.seeds_record.finish(self.status)


def seeds_manifest(lives: list[LiveRun]) -> dict:
    """group.json of `gradfail run --seeds N`: one config, a run per seed, no claims."""
    first = lives[0].request
    label = f"{first.label}-x{len(lives)}"
    try:
        plot = [get_family(first.family).metrics[0].name]
    except LookupError:  # a family this process does not list (the tests' scripted ones)
        plot = []
    return {
        "kind": "seeds",
        "preset": first.preset,
        "family": first.family,
        "title": f"{label}: {len(lives)} seeds of one config",
        "plot": plot,
        "claims": [],
        "runs": [{"label": f"seed {live.request.seed}", "dir": live.run_dir.name} for live in lives],
    }
