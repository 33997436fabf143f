"""Runs in progress, seen from the parent: each event recorded, then folded into the run's state.

A `LiveRun` is one run: its request, its record on disk and its `RunState`. `apply` is the one
place where an event reaches both (record first, so nothing shown is ever missing from the
record). Torch-free.
"""

from __future__ import annotations

from pathlib import Path

from engine.client import EngineExited, RunRequest
from engine.events import Event, RunFinished
from engine.record import RecordError, RunRecorder
from engine.state import RunState
from engine.status import ErrorKind, RunStatus


class LiveRun:
    def __init__(self, request: RunRequest, run_dir: Path, label: str | None = None):
        self.request = request
        self.run_dir = run_dir
        self.label = label or request.label
        config = request.config_dict()
        self.recorder = RunRecorder(
            run_dir,
            {
                "run_id": request.run_id,
                "family": request.family,
                "preset": request.preset,
                "config": config,
                "seed": request.seed,
                "device": request.device,
            },
        )
        self.state = RunState(
            run_id=request.run_id,
            label=self.label,
            family=request.family,
            preset=request.preset,
            config=config,
            seed=request.seed,
            total_steps=request.config.steps,
            status=RunStatus.WAITING,
        )
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
        event = RunFinished(
            run_id=self.run_id,
            t=self.state.t,
            step=self.state.step,
            status=status,
            message=message or f"{status} at step {self.state.step:,}",
            error_kind=error_kind,
            traceback=traceback,
        )
        self.apply(event)
        return event

    def engine_died(self, exited: EngineExited) -> RunFinished:
        return self.end(RunStatus.FAILED, exited.describe(), ErrorKind.CRASH, exited.stderr_tail)
