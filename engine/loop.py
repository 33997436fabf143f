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
from dataclasses import dataclass
from typing import Any

import torch

from engine.changes import Change
from engine.config import BaseConfig, ConfigError
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


@dataclass(frozen=True)
class StopWhen:
    """A success test a run stops at once it has passed (a sweep's `--stop-when-decided`; the start
    command's "stop_when", made by engine/sweeps.py's `early_stop`). Only tests whose pass cannot be
    undone by a later value come here: max >= v (a maximum only grows), min <= v (a minimum only
    falls), or the first value in the window. It is checked on every value the run records (an
    evaluation's and the training averages'), so the run's record passes the test exactly as it would
    have at its full budget; a run that has not passed trains to its end."""

    metric: str
    op: str  # ">=" or "<="
    value: float
    stat: str = "max"  # max, min or first
    from_step: int | None = None
    until_step: int | None = None
    text: str = ""

    @classmethod
    def from_dict(cls, data: Any) -> StopWhen | None:
        """The start command's "stop_when" (None: none); ConfigError if it is not a test this loop can decide."""
        if data is None:
            return None
        if not isinstance(data, dict) or (data.get("stat"), data.get("op")) not in (
            ("max", ">="),
            ("min", "<="),
            ("first", ">="),
            ("first", "<="),
        ):
            raise ConfigError([f"stop_when: {data!r} is not a max >=, min <= or first test"], "run request")
        value = data.get("value")
        window = [data.get("from_step"), data.get("until_step")]
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not isinstance(data.get("metric"), str):
            raise ConfigError([f"stop_when: {data!r} needs a metric and a finite value"], "run request")
        if not all(w is None or isinstance(w, int) for w in window):
            raise ConfigError([f"stop_when: {data!r} has a bad window"], "run request")
        text = str(data.get("text") or f"{data['metric']}:{data['stat']} {data['op']} {value:g}")
        return cls(data["metric"], data["op"], float(value), data["stat"], *window, text)

    def counts(self, step: int) -> bool:
        """Whether a value at `step` is in the test's window."""
        return (self.from_step is None or step >= self.from_step) and (
            self.until_step is None or step <= self.until_step
        )

    def passes(self, value: float) -> bool:
        return value >= self.value if self.op == ">=" else value <= self.value


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
    *,
    changes: list[Change] = (),
    check: Callable[[str, object, BaseConfig], object] | None = None,
    stop_when: StopWhen | None = None,
) -> RunFinished:
    """Train one run for config.steps; returns the RunFinished event saying how it ended."""
    return run_lanes(
        trainer, config, [run_id], emit, control, started, changes=changes, check=check, stop_when=stop_when
    )[0]


def run_lanes(
    trainer: Trainer,
    config: BaseConfig,
    run_ids: list[str],
    emit: Callable[[Event], None],
    control: Control,
    started: float,
    *,
    changes: list[Change] = (),
    check: Callable[[str, object, BaseConfig], object] | None = None,
    stop_when: StopWhen | None = None,
) -> list[RunFinished]:
    """Train for config.steps; returns one RunFinished per run, saying how it ended.

    A trainer with `lanes` > 1 trains several independent runs (seeds) at once: its step scalars
    have one value per lane, its evaluations a list per metric, and each lane is reported as the
    run `run_ids[lane]`. A lane that diverges ends alone; the others go on.

    `changes` (already checked) change settings after their step; a change the parent asks for
    (`control.change`) applies after the step in progress, or at once while paused, once `check`
    (key, value, config) has accepted it. Both are recorded as SettingChanged at the step they follow,
    so a change made live at step N and the same change given for step N train the same numbers.

    `stop_when` (StopWhen): a lane that has passed this test ends `completed` at once, its
    RunFinished saying so (`stopped_early`); the others go on.
    """
    return RunLoop(
        trainer, config, run_ids, emit, control, started, changes=changes, check=check, stop_when=stop_when
    ).run()


class RunLoop:
    """The loop of `run_lanes`, its state in attributes: what each method reads and changes is named here.

    Steps go into `window` (scalar tensors not yet read); `drain` reads them in one device sync into
    `sums` (per lane, over `count` steps) and ends a lane whose value is not finite (`ended`);
    `flush_metrics` sends the averages and sets `last_emit`. `step` is the last step trained (0 before
    the first); `eval_every` is the config's until a change sets it; `stepping` says whether the
    latest resume was a step-mode one (its pause ends with an evaluation).
    """

    def __init__(
        self,
        trainer: Trainer,
        config: BaseConfig,
        run_ids: list[str],
        emit: Callable[[Event], None],
        control: Control,
        started: float,
        *,
        changes: list[Change] = (),
        check: Callable[[str, object, BaseConfig], object] | None = None,
        stop_when: StopWhen | None = None,
    ):
        self.trainer, self.config, self.run_ids, self.emit = trainer, config, run_ids, emit
        self.control, self.started, self.check = control, started, check
        self.total = config.steps
        self.lanes = getattr(trainer, "lanes", 1)
        assert len(run_ids) == self.lanes, "one run id per lane"
        # A measurement family (parity_variance, tuple_snr, pwl_condition) trains nothing: its step
        # returns no scalars and its evaluations are its results, so a non-finite one is its divergence.
        self.measures = getattr(trainer, "measures", False)
        self.ended: dict[int, RunFinished] = {}  # lane -> how it ended, for lanes that ended early
        self.window: list[dict[str, torch.Tensor]] = []  # step scalars not yet read
        self.sums: dict[str, torch.Tensor] = {}  # per lane, over `count` steps
        self.count = 0
        self.last_emit = 0.0  # set when training starts
        self.step = 0
        self.eval_every = config.eval_every
        self.schedule = sorted(changes, key=lambda c: c.step)
        self.stepping = False
        self.stop_when = stop_when
        self.first_seen: set[int] = set()  # lanes whose first value in the window has been judged (stat "first")

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> list[RunFinished]:
        """Evaluate at step 0, then train to config.steps, or until every lane has ended or a stop."""
        self.evaluate(0)
        if not self.live():
            return self.endings()
        self.last_emit = self.clock()
        self.apply_scheduled(0)
        trainer, control, window, total = self.trainer, self.control, self.window, self.total
        # The one hot path: per step, one call into the family and a few plain comparisons.
        for step in range(1, total + 1):
            self.step = step
            window.append(_call(trainer.train_step, "train_step", step))
            due_eval = step % self.eval_every == 0 or step == total
            now = self.clock()
            due_read = len(window) >= CHECK_EVERY or due_eval or now - self.last_emit >= 1 / EMIT_HZ or control.pending
            if due_read and not self.read(now, due_eval):
                return self.endings()
            if due_eval:
                self.evaluate(step)
                if not self.live():
                    return self.endings()
            if self.schedule and self.schedule[0].step == step:
                self.apply_scheduled(step)
            if control.steps_left:
                control.steps_left -= 1
                if not control.steps_left:
                    control.pause()  # step mode: the steps asked for are done
            if control.pending:
                ended = self.obey()
                if ended is not None:
                    return ended
        return self.finish_all(RunStatus.COMPLETED)

    def read(self, now: float, due_eval: bool) -> bool:
        """Read the step scalars so far, and send their averages when they are due; False if no lane is left."""
        self.drain(self.step)
        if not self.live():
            return False
        if now - self.last_emit >= 1 / EMIT_HZ or due_eval:
            self.flush_metrics()
        return bool(self.live())  # a lane may have passed its stop_when test

    def obey(self) -> list[RunFinished] | None:
        """What the parent asked for after this step: changes, a pause, a stop. Returns the endings if the run ends."""
        control = self.control
        control.pending = False
        if control.changes:
            self.apply_asked()
        if not self.live():
            return self.endings()
        if control.paused and not self.hold():
            return self.endings()
        if control.stop_reason is not None:
            self.drain(self.step)
            self.flush_metrics()
            return self.finish_all(control.stop_reason, f"{control.stop_reason} at step {self.step} of {self.total}")
        return None

    def hold(self) -> bool:
        """Pause: everything up to this step is sent, so the plots show where the run stands, then wait
        for resume, a step or a stop (changes asked for meanwhile apply at once). False if no lane is left."""
        self.drain(self.step)
        self.flush_metrics()
        if self.stepping and self.step % self.eval_every:
            # the end of step mode: an evaluation and the snapshots (on the evaluation stream, never the training's)
            self.evaluate(self.step)
        if not self.live():
            return False
        self.emit_status(RunStatus.PAUSED)
        self.control.wait_while_paused(self.apply_asked)
        self.stepping = self.control.steps_left > 0
        if self.control.stop_reason is None:
            self.emit_status(RunStatus.RUNNING)
        return True

    # -- the lanes --------------------------------------------------------------------------------
    def clock(self) -> float:
        """Seconds since the run began."""
        return time.perf_counter() - self.started

    def live(self) -> list[int]:
        """The lanes still training."""
        return [lane for lane in range(self.lanes) if lane not in self.ended]

    def endings(self) -> list[RunFinished]:
        return [self.ended[lane] for lane in range(self.lanes)]

    def finish_all(self, status: str, message: str = "") -> list[RunFinished]:
        for lane in self.live():
            self.ended[lane] = RunFinished(
                run_id=self.run_ids[lane], t=self.clock(), step=self.step, status=status, message=message
            )
        return self.endings()

    def diverge(self, lane: int, step: int, message: str) -> None:
        """End one lane `diverged` at `step`; the others go on."""
        self.ended[lane] = RunFinished(
            run_id=self.run_ids[lane],
            t=self.clock(),
            step=step,
            status=RunStatus.DIVERGED,
            error_kind=ErrorKind.NAN,
            message=message,
        )
        self.emit(self.ended[lane])

    def check_passed(self, lane: int, step: int, values: dict[str, float]) -> None:
        """End a lane `completed` once a value it has just recorded passes its `stop_when` test."""
        test = self.stop_when
        value = values.get(test.metric) if test is not None else None
        if value is None or not math.isfinite(value) or not test.counts(step) or lane in self.ended:
            return
        if step >= self.total:
            return  # passed at its last step: it ran its full budget, and completes as any run does
        if test.stat == "first":
            if lane in self.first_seen:
                return  # the first value has been judged: nothing later changes it
            self.first_seen.add(lane)
        if not test.passes(value):
            return
        self.ended[lane] = RunFinished(
            run_id=self.run_ids[lane],
            t=self.clock(),
            step=step,
            status=RunStatus.COMPLETED,
            stopped_early=f"{test.text} met at step {step:,}",
        )
        self.emit(self.ended[lane])

    def emit_status(self, status: RunStatus) -> None:
        for lane in self.live():
            self.emit(StatusChanged(run_id=self.run_ids[lane], t=self.clock(), step=self.step, status=status))

    # -- measuring --------------------------------------------------------------------------------
    def evaluate(self, step: int) -> None:
        values = _call(self.trainer.evaluate, "evaluate", step)
        if values:
            for lane in self.live():
                lane_values = {k: _per_lane(v, lane) for k, v in values.items()}
                self.emit(Metrics(run_id=self.run_ids[lane], t=self.clock(), step=step, values=lane_values))
                bad = [k for k, v in lane_values.items() if not math.isfinite(v)] if self.measures else []
                if bad:
                    what = bad[0].replace("_", " ")
                    self.diverge(lane, step, f"the measured {what} came out NaN or infinite at step {step}")
                else:
                    self.check_passed(lane, step, lane_values)
            if not self.live():
                return  # nothing left to picture: a run's record ends with its RunFinished
        for snap in _call(self.trainer.snapshots, "snapshots", step):
            self.emit(
                Snapshot(
                    run_id=self.run_ids[0], t=self.clock(), step=step, name=snap.name, kind=snap.kind, data=snap.data
                )
            )

    def drain(self, upto: int) -> None:
        """Read the pending step scalars; a lane with a non-finite value ends `diverged` at its first one."""
        window = self.window
        if not window:
            return
        _call(lambda _: self.trainer.settle(), "train_step", upto)
        first = upto - len(window) + 1
        for key in window[0]:
            values = torch.stack([w[key] for w in window]).float().cpu().reshape(len(window), self.lanes)
            finite = torch.isfinite(values)
            for lane in self.live():
                if not finite[:, lane].all():
                    bad = first + int((~finite[:, lane]).nonzero()[0])
                    what = key.replace("_", " ")
                    self.diverge(lane, bad, f"the training {what} became NaN or infinite at step {bad}")
            total = values.double().sum(0)
            self.sums[key] = self.sums[key] + total if key in self.sums else total
        self.count += len(window)
        window.clear()

    def flush_metrics(self) -> None:
        """Send each lane's training averages since the last flush."""
        if self.count and self.sums:  # a measurement family's steps may return no scalars at all
            for lane in self.live():
                values = {k: float(v[lane]) / self.count for k, v in self.sums.items()}
                self.emit(Metrics(run_id=self.run_ids[lane], t=self.clock(), step=self.step, values=values))
                self.check_passed(lane, self.step, values)
        self.sums.clear()
        self.count = 0
        self.last_emit = self.clock()

    # -- changes ----------------------------------------------------------------------------------
    def apply_scheduled(self, step: int) -> None:
        """The changes given for this step (already checked)."""
        while self.schedule and self.schedule[0].step == step:
            due = self.schedule.pop(0)
            self.change(due.key, due.value)

    def apply_asked(self) -> None:
        """The changes the parent asked for, each checked here too (an unchecked one is dropped, said on stderr)."""
        for key, value in self.control.take_changes():
            try:
                value = self.check(key, value, self.trainer.config) if self.check is not None else value
            except ValueError as exc:
                print(f"gradfail engine: change refused: {exc}", file=sys.stderr)
                continue
            self.change(key, value)

    def change(self, key: str, value) -> None:
        """Set `key` from the next step on: the metrics so far are sent first, so no average straddles it."""
        old = getattr(self.trainer.config, key)
        if old == value:
            return
        self.drain(self.step)
        self.flush_metrics()
        _call(lambda _: self.trainer.change(key, value), "change", self.step)
        if key == "eval_every":
            self.eval_every = value
        for lane in self.live():
            self.emit(
                SettingChanged(
                    run_id=self.run_ids[lane], t=self.clock(), step=self.step, setting=key, old=old, new=value
                )
            )


def _per_lane(value, lane: int):
    return value[lane] if isinstance(value, (list, tuple)) else value


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
