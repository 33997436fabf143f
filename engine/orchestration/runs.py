"""Runs in progress, seen from the parent: each event recorded, then folded into the run's state.

A `LiveRun` is one run: its request, its record on disk and its `RunState`. `apply` is the one
place where an event reaches both (record first, so nothing shown is ever missing from the
record). A `RunBatch` is what one "start" command trains: one run, or several seeds of one config
trained together as lanes of one model; the engine answers with one RunFinished per run.
Torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.client import EngineExited, RunRequest, start_command
from engine.events import Event, RunFinished
from engine.record import RecordError, RunRecorder
from engine.state import RunState
from engine.status import RunStatus

if TYPE_CHECKING:
    from engine.orchestration.jobs import Job


class LiveRun:
    def __init__(self, request: RunRequest, run_dir: Path, label: str | None = None):
        self.request = request
        self.run_dir = run_dir
        self.label = label or request.label
        config = request.config_dict()
        self.recorder = RunRecorder(run_dir, {
            "run_id": request.run_id, "family": request.family, "preset": request.preset,
            "config": config, "seed": request.seed, "device": request.device})
        self.state = RunState(run_id=request.run_id, label=self.label, family=request.family,
                              preset=request.preset, config=config, seed=request.seed,
                              total_steps=request.config.steps, status=RunStatus.WAITING)
        self.finished: RunFinished | None = None
        self.record_error: str | None = None

    @property
    def run_id(self) -> str:
        return self.request.run_id

    @property
    def ended(self) -> bool:
        return self.finished is not None

    def apply(self, event: Event) -> None:
        """Record the event, then fold it into the state; a RunFinished closes the record.
        Nothing comes after a run's end: a late event is dropped."""
        if self.finished is not None:
            return
        try:
            self.recorder.append(event)
        except RecordError as exc:
            self.record_error = str(exc)
        self.state.apply(event)
        if isinstance(event, RunFinished):
            self.finished = event
            try:
                self.recorder.finish(event.status, event.message, event.step)
            except OSError as exc:
                self.record_error = f"cannot finish the record in {self.run_dir}: {exc}"

    def end(self, status: RunStatus, message: str = "", error_kind: str = "", traceback: str = "") -> RunFinished:
        """End the run here, where the engine can no longer say how it ended (it died, it never got the
        run, it did not answer a stop in time); the record keeps every event received before."""
        event = RunFinished(run_id=self.run_id, t=self.state.t, step=self.state.step, status=status,
                            message=message or f"{status} at step {self.state.step:,}", error_kind=error_kind,
                            traceback=traceback)
        self.apply(event)
        return event

    def engine_died(self, exited: EngineExited) -> RunFinished:
        return self.end(RunStatus.FAILED, exited.describe(), "crash", exited.stderr_tail)


class RunBatch:
    """The runs of one start command; `job` is the work it belongs to (set by the job that made it)."""

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

    def end_unfinished(self, status: RunStatus, message: str = "", error_kind: str = "",
                       traceback: str = "") -> list[LiveRun]:
        """End every run not ended yet with this status; returns them."""
        ended = [live for live in self.lives if not live.ended]
        for live in ended:
            live.end(status, message, error_kind, traceback)
        return ended
