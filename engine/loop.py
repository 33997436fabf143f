"""The run loop: one visible training loop for every family.

It calls the family's trainer, reads its scalars in batches (one device sync per batch, not per
step), stops at the first non-finite value with status "diverged", evaluates on the config's
schedule, honours pause / resume / stop from the parent, and reports everything through
`emit(event)`. Training runs as fast as it can; training metrics are averaged and emitted at most
`EMIT_HZ` times a second whatever the step rate, so watching a run does not slow it down.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable

import torch

from engine.changes import Change
from engine.config import BaseConfig
from engine.events import Event, Metrics, RunFinished, SettingChanged, Snapshot, StatusChanged
from engine.status import ErrorKind, RunStatus
from engine.trainer import Trainer

EMIT_HZ = 10  # training-metric events per second, at most
CHECK_EVERY = 32  # steps between reads of the step scalars (NaN check and averaging)


class Control:
    """Pause / resume / step / stop requests and setting changes from the parent, set by the worker's
    reader thread."""

    def __init__(self):
        self.pending = False  # read every step: a plain attribute is the cheapest check there is
        self._resume = threading.Event()
        self._resume.set()
        self.stop_reason: RunStatus | None = None  # STOPPED or INTERRUPTED
        self.changes: list[tuple[str, object]] = []  # (setting, value) asked for, not yet applied
        self.steps_left = 0  # step mode: pause again after this many steps (0: not stepping)

    def pause(self):
        self._resume.clear()
        self.pending = True

    def resume(self):
        self.steps_left = 0
        self._resume.set()

    def step(self, steps: int):
        """Train `steps` more steps, then pause again (step mode; only while paused)."""
        if self.paused and steps > 0:
            self.steps_left = steps
            self._resume.set()

    def change(self, key: str, value: object):
        """A setting to change at the next step (engine/changes.py); applied even while paused."""
        self.changes.append((key, value))
        self.pending = True

    def take_changes(self) -> list[tuple[str, object]]:
        taken, self.changes = self.changes, []
        return taken

    def stop(self, reason: RunStatus = RunStatus.STOPPED):
        self.stop_reason = self.stop_reason or reason
        self.pending = True
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def wait_while_paused(self, on_change: Callable[[], None] | None = None):
        """Wait for resume (or stop); a change asked for meanwhile is applied at once by `on_change`."""
        while not self._resume.wait(0.05):
            if self.changes and on_change is not None:
                on_change()


class StepFailed(Exception):
    """An exception inside a family's code, with where it happened (for the one-line message)."""

    def __init__(self, phase: str, step: int, cause: BaseException):
        self.phase, self.step, self.cause = phase, step, cause
        super().__init__(f"{type(cause).__name__} in {phase} at step {step}: {cause}")


def run_loop(
    trainer: Trainer,
    config: BaseConfig,
    run_id: str,
    emit: Callable[[Event], None],
    control: Control,
    started: float,
    changes: list[Change] = (),
    check: Callable[[str, object, BaseConfig], object] | None = None,
) -> RunFinished:
    """Train one run for config.steps; returns the RunFinished event saying how it ended."""
    return run_lanes(trainer, config, [run_id], emit, control, started, changes, check)[0]


def run_lanes(
    trainer: Trainer,
    config: BaseConfig,
    run_ids: list[str],
    emit: Callable[[Event], None],
    control: Control,
    started: float,
    changes: list[Change] = (),
    check: Callable[[str, object, BaseConfig], object] | None = None,
) -> list[RunFinished]:
    """Train for config.steps; returns one RunFinished per run, saying how it ended.

    A trainer with `lanes` > 1 trains several independent runs (seeds) at once: its step scalars
    have one value per lane, its evaluations a list per metric, and each lane is reported as the
    run `run_ids[lane]`. A lane that diverges ends alone; the others go on.

    `changes` (already checked) change settings after their step; a change the parent asks for
    (`control.change`) applies after the step in progress, or at once while paused, once `check`
    (key, value, config) has accepted it. Both are recorded as SettingChanged at the step they follow,
    so a change made live at step N and the same change given for step N train the same numbers.
    """
    total = config.steps
    lanes = getattr(trainer, "lanes", 1)
    assert len(run_ids) == lanes, "one run id per lane"
    clock = lambda: time.perf_counter() - started  # noqa: E731 - seconds since the run began
    ended: dict[int, RunFinished] = {}  # lane -> how it ended, for lanes that ended early
    live = lambda: [lane for lane in range(lanes) if lane not in ended]  # noqa: E731
    # A measurement family (parity_variance, tuple_snr, pwl_condition) trains nothing: its step
    # returns no scalars and its evaluations are its results, so a non-finite one is its divergence.
    measures = getattr(trainer, "measures", False)

    def per_lane(value, lane: int):
        return value[lane] if isinstance(value, (list, tuple)) else value

    def evaluate(step: int) -> None:
        values = _call(trainer.evaluate, "evaluate", step)
        if values:
            for lane in live():
                lane_values = {k: per_lane(v, lane) for k, v in values.items()}
                emit(Metrics(run_id=run_ids[lane], t=clock(), step=step, values=lane_values))
                bad = [k for k, v in lane_values.items() if not math.isfinite(v)] if measures else []
                if bad:
                    ended[lane] = RunFinished(
                        run_id=run_ids[lane],
                        t=clock(),
                        step=step,
                        status=RunStatus.DIVERGED,
                        error_kind=ErrorKind.NAN,
                        message=f"the measured {bad[0].replace('_', ' ')} came out NaN or infinite at step {step}",
                    )
                    emit(ended[lane])
            if not live():
                return  # nothing left to picture: a run's record ends with its RunFinished
        for snap in _call(trainer.snapshots, "snapshots", step):
            emit(Snapshot(run_id=run_ids[0], t=clock(), step=step, name=snap.name, kind=snap.kind, data=snap.data))

    evaluate(0)
    if not live():
        return [ended[lane] for lane in range(lanes)]
    window: list[dict[str, torch.Tensor]] = []  # step scalars not yet read
    sums: dict[str, torch.Tensor] = {}  # per lane
    count = 0
    last_emit = clock()
    step = 0
    eval_every = config.eval_every
    schedule = sorted(changes, key=lambda c: c.step)

    def drain(upto: int) -> None:
        """Read the pending step scalars; a lane with a non-finite value ends `diverged` at its first one."""
        nonlocal count
        if not window:
            return
        _call(lambda _: trainer.settle(), "train_step", upto)
        first = upto - len(window) + 1
        for key in window[0]:
            values = torch.stack([w[key] for w in window]).float().cpu().reshape(len(window), lanes)
            finite = torch.isfinite(values)
            for lane in live():
                if not finite[:, lane].all():
                    bad = first + int((~finite[:, lane]).nonzero()[0])
                    ended[lane] = RunFinished(
                        run_id=run_ids[lane],
                        t=clock(),
                        step=bad,
                        status=RunStatus.DIVERGED,
                        error_kind=ErrorKind.NAN,
                        message=f"the training {key.replace('_', ' ')} became NaN or infinite at step {bad}",
                    )
                    emit(ended[lane])
            total = values.double().sum(0)
            sums[key] = sums[key] + total if key in sums else total
        count += len(window)
        window.clear()

    def flush_metrics() -> None:
        nonlocal count, last_emit
        if count and sums:  # a measurement family's steps may return no scalars at all
            for lane in live():
                emit(
                    Metrics(
                        run_id=run_ids[lane],
                        t=clock(),
                        step=step,
                        values={k: float(v[lane]) / count for k, v in sums.items()},
                    )
                )
        sums.clear()
        count = 0
        last_emit = clock()

    def change(key: str, value) -> None:
        """Set `key` from the next step on: the metrics so far are sent first, so no average straddles it."""
        nonlocal eval_every
        old = getattr(trainer.config, key)
        if old == value:
            return
        drain(step)
        flush_metrics()
        _call(lambda _: trainer.change(key, value), "change", step)
        if key == "eval_every":
            eval_every = value
        for lane in live():
            emit(SettingChanged(run_id=run_ids[lane], t=clock(), step=step, setting=key, old=old, new=value))

    def apply_asked() -> None:
        """The changes the parent asked for, each checked here too (an unchecked one is dropped, said on stderr)."""
        for key, value in control.take_changes():
            try:
                value = check(key, value, trainer.config) if check is not None else value
            except ValueError as exc:
                print(f"gradfail engine: change refused: {exc}", file=sys.stderr)
                continue
            change(key, value)

    def stop_here() -> None:
        """A pause: everything up to this step is sent, so the plots show where the run stands; in step
        mode also an evaluation and the snapshots (on the evaluation stream, never the training's)."""
        drain(step)
        flush_metrics()
        if stepping and step % eval_every:
            evaluate(step)

    def finish_all(status: str, message: str = "") -> list[RunFinished]:
        for lane in live():
            ended[lane] = RunFinished(run_id=run_ids[lane], t=clock(), step=step, status=status, message=message)
        return [ended[lane] for lane in range(lanes)]

    while schedule and schedule[0].step == 0:
        change(schedule[0].key, schedule.pop(0).value)
    stepping = False
    for step in range(1, total + 1):
        window.append(_call(trainer.train_step, "train_step", step))
        due_eval = step % eval_every == 0 or step == total
        now = clock()
        if len(window) >= CHECK_EVERY or due_eval or now - last_emit >= 1 / EMIT_HZ or control.pending:
            drain(step)
            if not live():
                return [ended[lane] for lane in range(lanes)]
            if now - last_emit >= 1 / EMIT_HZ or due_eval:
                flush_metrics()
        if due_eval:
            evaluate(step)
            if not live():
                return [ended[lane] for lane in range(lanes)]
        while schedule and schedule[0].step == step:
            change(schedule[0].key, schedule.pop(0).value)
        if control.steps_left:
            control.steps_left -= 1
            if not control.steps_left:
                control.pause()  # step mode: the steps asked for are done
        if control.pending:
            control.pending = False
            if control.changes:
                apply_asked()
            if not live():
                return [ended[lane] for lane in range(lanes)]
            if control.paused:
                stop_here()
                if not live():
                    return [ended[lane] for lane in range(lanes)]
                for lane in live():
                    emit(StatusChanged(run_id=run_ids[lane], t=clock(), step=step, status=RunStatus.PAUSED))
                control.wait_while_paused(apply_asked)
                stepping = control.steps_left > 0
                if control.stop_reason is None:
                    for lane in live():
                        emit(StatusChanged(run_id=run_ids[lane], t=clock(), step=step, status=RunStatus.RUNNING))
            if control.stop_reason is not None:
                drain(step)
                flush_metrics()
                return finish_all(control.stop_reason, f"{control.stop_reason} at step {step} of {total}")
    return finish_all(RunStatus.COMPLETED)


def _call(fn, phase: str, step: int):
    try:
        return fn(step)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except torch.OutOfMemoryError:
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            raise MemoryError(str(exc)) from exc
        raise StepFailed(phase, step, exc) from exc


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception is an allocation failure: CUDA's, or the CPU allocator's RuntimeError."""
    text = str(exc)
    return "out of memory" in text or "can't allocate memory" in text or "DefaultCPUAllocator" in text
