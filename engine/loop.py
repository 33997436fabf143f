"""The run loop: one visible training loop for every family.

It calls the family's trainer, reads its scalars in batches (one device sync per batch, not per
step), stops at the first non-finite value with status "diverged", evaluates on the config's
schedule, honours pause / resume / stop from the parent, and reports everything through
`emit(event)`. Training runs as fast as it can; training metrics are averaged and emitted at most
`EMIT_HZ` times a second whatever the step rate, so watching a run does not slow it down.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import torch

from engine.config import BaseConfig
from engine.events import Event, Metrics, RunFinished, Snapshot, StatusChanged
from engine.trainer import Trainer

EMIT_HZ = 10  # training-metric events per second, at most
CHECK_EVERY = 32  # steps between reads of the step scalars (NaN check and averaging)


class Control:
    """Pause / resume / stop requests from the parent, set by the worker's reader thread."""

    def __init__(self):
        self.pending = False  # read every step: a plain attribute is the cheapest check there is
        self._resume = threading.Event()
        self._resume.set()
        self.stop_reason: str | None = None  # "stopped" or "interrupted"

    def pause(self):
        self._resume.clear()
        self.pending = True

    def resume(self):
        self._resume.set()

    def stop(self, reason: str = "stopped"):
        self.stop_reason = self.stop_reason or reason
        self.pending = True
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def wait_while_paused(self):
        self._resume.wait()


class StepFailed(Exception):
    """An exception inside a family's code, with where it happened (for the one-line message)."""

    def __init__(self, phase: str, step: int, cause: BaseException):
        self.phase, self.step, self.cause = phase, step, cause
        super().__init__(f"{type(cause).__name__} in {phase} at step {step}: {cause}")


def run_loop(trainer: Trainer, config: BaseConfig, run_id: str, emit: Callable[[Event], None],
             control: Control, started: float) -> RunFinished:
    """Train for config.steps; returns the RunFinished event saying how the run ended."""
    total = config.steps
    clock = lambda: time.perf_counter() - started  # noqa: E731 - seconds since the run began

    def evaluate(step: int) -> None:
        values = _call(trainer.evaluate, "evaluate", step)
        if values:
            emit(Metrics(run_id=run_id, t=clock(), step=step, values=values))
        for snap in _call(trainer.snapshots, "snapshots", step):
            emit(Snapshot(run_id=run_id, t=clock(), step=step, name=snap.name, kind=snap.kind, data=snap.data))

    evaluate(0)
    window: list[dict[str, torch.Tensor]] = []  # step scalars not yet read
    sums: dict[str, float] = {}
    count = 0
    last_emit = clock()
    step = 0

    def drain(upto: int) -> int | None:
        """Read the pending step scalars; returns the first step with a non-finite value, if any."""
        nonlocal count
        if not window:
            return None
        first = upto - len(window) + 1
        for key in window[0]:
            values = torch.stack([w[key] for w in window]).float().cpu()
            bad = (~torch.isfinite(values)).nonzero()
            if bad.numel():
                return first + int(bad[0])
            sums[key] = sums.get(key, 0.0) + float(values.sum())
        count += len(window)
        window.clear()
        return None

    def flush_metrics() -> None:
        nonlocal count, last_emit
        if count:
            emit(Metrics(run_id=run_id, t=clock(), step=step, values={k: v / count for k, v in sums.items()}))
        sums.clear()
        count = 0
        last_emit = clock()

    def finished(status: str, message: str = "", error_kind: str = "") -> RunFinished:
        return RunFinished(run_id=run_id, t=clock(), step=step, status=status, message=message,
                           error_kind=error_kind)

    for step in range(1, total + 1):
        window.append(_call(trainer.train_step, "train_step", step))
        due_eval = step % config.eval_every == 0 or step == total
        now = clock()
        if len(window) >= CHECK_EVERY or due_eval or now - last_emit >= 1 / EMIT_HZ or control.pending:
            bad_step = drain(step)
            if bad_step is not None:
                step = bad_step
                return finished("diverged", f"the training loss became NaN or infinite at step {bad_step}", "nan")
            if now - last_emit >= 1 / EMIT_HZ or due_eval:
                flush_metrics()
        if due_eval:
            evaluate(step)
        if control.pending:
            control.pending = False
            if control.paused:
                emit(StatusChanged(run_id=run_id, t=clock(), step=step, status="paused"))
                control.wait_while_paused()
                if control.stop_reason is None:
                    emit(StatusChanged(run_id=run_id, t=clock(), step=step, status="running"))
            if control.stop_reason is not None:
                flush_metrics()
                return finished(control.stop_reason, f"{control.stop_reason} at step {step} of {total}")
    return finished("completed")


def _call(fn, phase: str, step: int):
    try:
        return fn(step)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except torch.OutOfMemoryError:
        raise
    except Exception as exc:
        if _is_oom(exc):
            raise MemoryError(str(exc)) from exc
        raise StepFailed(phase, step, exc) from exc


def _is_oom(exc: BaseException) -> bool:
    text = str(exc)
    return "out of memory" in text or "can't allocate memory" in text or "DefaultCPUAllocator" in text
