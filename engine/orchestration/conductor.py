"""The conductor: hands the jobs' runs to engines, applies what the engines say, and stops and drains.

It holds N engine slots (one engine process each, or a scripted stand-in in tests) and a list of
jobs. Whenever a slot is free it asks the jobs, in order, for a batch to start there; an engine that
is still loading torch keeps its batch waiting until it says it is ready. Every item an engine sends
goes through `handle`: a run event is recorded and folded (LiveRun.apply) and then reported to the
listener, so the headless CLI and the explorer only display. An engine that dies ends its runs
`failed` and is replaced, by one policy (`RestartPolicy`), for every caller.

Two ways to feed it, one code path:
- blocking (`gradfail run`): `run()` pumps the engines until every job has finished; on Ctrl-C the
  caller calls `shutdown()`, which stops the runs, records what arrives until they have stopped
  (or the grace period ends) and ends the rest `interrupted`;
- from an event loop (the explorer): a reader thread calls `poll()` and hands the items to the UI
  thread, which calls `handle()` for each; `shutdown()` runs in a worker thread on quit.
Only `poll()` may run on another thread than the rest; it reads the engines' queues and nothing else.
Torch-free.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec

from engine.changes import check_change
from engine.client import Backend, EngineExited, EngineProcess
from engine.config import ConfigError
from engine.events import EngineReady, Event, RunFinished
from engine.orchestration.jobs import Job, RunBatch
from engine.orchestration.runs import LiveRun
from engine.record import RecordError
from engine.registry import FamilySpec, get_family
from engine.status import ErrorKind, RunStatus

STOP_GRACE_S = 10.0  # how long stopping runs may take to say they have stopped, before they are ended here
POLL_MOST = 256  # items taken from one engine per poll, so that one busy engine cannot starve the others
P = ParamSpec("P")  # the arguments of the Listener method that _tell calls


@dataclass
class RestartPolicy:
    """An engine that dies is replaced, unless engines died `max_deaths` times within `window_s`:
    then something is wrong beyond one run (a broken install, no memory), and restarting would loop."""

    max_deaths: int = 3
    window_s: float = 60.0
    deaths: list[float] = field(default_factory=list)

    def allows_restart(self, now: float) -> bool:
        self.deaths = [t for t in self.deaths if now - t < self.window_s] + [now]
        return len(self.deaths) < self.max_deaths


class Listener:
    """What the conductor reports; every method is optional (a display overrides what it shows)."""

    def engine_ready(self, slot: EngineSlot, ready: EngineReady) -> None: ...
    def engine_lost(
        self, slot: EngineSlot, exited: EngineExited, restarting: bool, died: list[LiveRun]
    ) -> None: ...  # `died`: the runs that ended with it
    def batch_started(self, batch: RunBatch) -> None: ...  # handed to an engine, which may still be loading
    def run_event(self, live: LiveRun, event: Event) -> None: ...
    def run_ended(self, live: LiveRun, finished: RunFinished) -> None: ...
    def job_finished(self, job: Job) -> None: ...
    def problem(self, text: str) -> None: ...


@dataclass(eq=False)
class EngineSlot:
    """A place where runs train: one engine at a time (replaced when it dies), one batch at a time."""

    index: int
    engine: Backend | None = None
    ready: bool = False  # the engine has said EngineReady
    batch: RunBatch | None = None  # sent to the engine, or waiting for it to be ready
    ending: tuple[RunStatus, str] | None = None  # how the batch's runs end, whatever the engine says

    @property
    def free(self) -> bool:
        return self.engine is not None and self.batch is None


class Conductor:
    def __init__(
        self,
        engine_factory: Callable[[], Backend] = EngineProcess,
        listener: Listener | None = None,
        engines: int = 1,
        started: list[Backend] | None = None,
        warmup: bool = False,
        policy: RestartPolicy | None = None,
    ):
        """`started`: engines already started (gradfail run starts its own before its imports), used
        for the first slots. `warmup`: ask a ready engine to import what a first run would (the
        explorer does, while the person is still choosing)."""
        self.engine_factory = engine_factory
        self.listener = listener or Listener()
        self.slots = [EngineSlot(i) for i in range(engines)]
        self._started = list(started or [])
        self.warmup = warmup
        self.policy = policy or RestartPolicy()
        self.jobs: list[Job] = []
        self.closing = False
        self.gave_up: str | None = None  # why engines are no longer restarted
        self.display_lost: OSError | None = None  # the listener could no longer write (see _tell)
        self._waker = threading.Event()  # set by every engine's EventQueue: poll() waits on it

    # -- engines -----------------------------------------------------------------------------------
    def start(self) -> Conductor:
        """Start an engine in every empty slot (OSError if a process cannot be started)."""
        for slot in self.slots:
            if slot.engine is None:
                slot.engine = (self._started.pop(0) if self._started else self.engine_factory()).start()
                slot.ready = False
        return self

    def poll(self, timeout: float) -> list[tuple[EngineSlot, Event | EngineExited]]:
        """What the engines have said, waiting up to `timeout` for something when they are quiet."""
        # Each engine is read once here: another thread may replace a slot's engine meanwhile.
        engines = [(slot, slot.engine) for slot in list(self.slots) if slot.engine is not None]
        items = self._take(engines)
        if items or not engines:
            return items
        # One wait for every engine: whichever speaks first is heard at once.
        self._waker.clear()
        for _, engine in engines:
            engine.events.waker = self._waker
        items = self._take(engines)  # what came before the waker was set
        if not items and self._waker.wait(timeout):
            items = self._take(engines)
        return items

    @staticmethod
    def _take(engines: list[tuple[EngineSlot, Backend]]) -> list[tuple[EngineSlot, Event | EngineExited]]:
        """What the engines have said already, without waiting."""
        items = []
        for slot, engine in engines:
            for _ in range(POLL_MOST):
                item = engine.get(timeout=0)
                if item is None:
                    break
                items.append((slot, item))
        return items

    def pump(self, timeout: float = 0.2) -> None:
        for slot, item in self.poll(timeout):
            self.handle(slot, item)
        self.flush()

    def handle(self, slot: EngineSlot, item: Event | EngineExited) -> None:
        """Apply one item an engine sent: its readiness, its death, or an event of one of its runs."""
        if isinstance(item, EngineExited):
            self._engine_exited(slot, item)
        elif isinstance(item, EngineReady):
            slot.ready = True
            if self.warmup and not self.closing:
                slot.engine.send("warmup")
            self._tell(self.listener.engine_ready, slot, item)
            self._send(slot)
        else:
            self._run_event(slot, item)
        self.flush()

    def flush(self) -> None:
        """Let every job write what its record has put off (a sweep gathers the writes of sweep.json).
        A job whose record cannot be written stops: never train on without recording."""
        for job in list(self.jobs):
            try:
                job.flush()
            except RecordError as exc:
                if not job.stopping:
                    self._tell(self.listener.problem, f"{job.title}: its record cannot be written, so it stops: {exc}")
                    self.stop_job(job)

    def _run_event(self, slot: EngineSlot, event: Event) -> None:
        batch = slot.batch
        live = batch.live(event.run_id) if batch is not None else None
        if live is None or live.ended:
            return  # a late event of a run already ended here
        if isinstance(event, RunFinished) and slot.ending is not None:
            status, message = slot.ending
            event = dataclasses.replace(event, status=status, message=message or event.message)
        live.apply(event)
        self._tell(self.listener.run_event, live, event)
        if isinstance(event, RunFinished):
            self._tell(self.listener.run_ended, live, event)
            if batch.done:
                self._batch_ended(slot)
        elif live.record_error and slot.ending is None:  # never train on without recording
            self._stop_slot(slot, RunStatus.STOPPED, (RunStatus.FAILED, f"stopped: {live.record_error}"))

    def _engine_exited(self, slot: EngineSlot, exited: EngineExited) -> None:
        dead, slot.engine, slot.ready = slot.engine, None, False
        batch = slot.batch
        died = [live for live in batch.lives if not live.ended] if batch is not None and batch.sent else []
        if died:  # its runs died with it; a batch never sent waits for the next engine
            self._end_batch(slot, RunStatus.FAILED, exited.describe(), ErrorKind.CRASH, exited.stderr_tail)
        if dead is not None:
            dead.close()
        if self.closing:
            return
        restarting = self.gave_up is None and self.policy.allows_restart(time.monotonic())
        if not restarting and self.gave_up is None:
            self.gave_up = (
                f"the engine died {self.policy.max_deaths} times within "
                f"{self.policy.window_s:.0f} s ({exited.describe()})"
            )
        self._tell(self.listener.engine_lost, slot, exited, restarting, died)
        if restarting:
            try:
                slot.engine = self.engine_factory().start()
            except OSError as exc:
                self.gave_up = f"cannot start the engine process: {exc}"
        if slot.engine is None and not any(s.engine for s in self.slots):
            self._abandon(self.gave_up or exited.describe())
        self._schedule()

    def _tell(self, say: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        """Report to the listener: `say` is one of its methods. A display that cannot write any more (its terminal closed under it,
        an SSH session dropped, a broken pipe) is told nothing more, and the runs go on being
        recorded: losing the display must never lose the record. Any other error of a display is a
        bug, and is raised."""
        if self.display_lost is not None:
            return
        try:
            say(*args, **kwargs)
        except OSError as exc:
            self.display_lost = exc

    # -- jobs --------------------------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        self.jobs.append(job)
        self._schedule()
        return job

    @property
    def busy(self) -> bool:
        """Whether a job is unfinished (the conductor keeps only those)."""
        return bool(self.jobs)

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Pump the engines until every job has finished (or `until()` says so)."""
        while self.busy and not (until and until()):
            self.pump(0.2)

    def _schedule(self) -> None:
        """Give every free slot a batch, then finish the jobs that have nothing left."""
        for slot in self.slots:
            if not slot.free or self.closing:
                continue
            for job in list(self.jobs):  # _next_batch may finish (and drop) one
                batch = self._next_batch(job)
                if batch is not None:
                    slot.batch, slot.ending = batch, None
                    for live in batch.lives:
                        live.state.status = RunStatus.WAITING
                    self._tell(self.listener.batch_started, batch)
                    self._send(slot)
                    break
        if self.closing:
            return  # shutdown() finishes the jobs, with its own status
        for job in [job for job in self.jobs if job.exhausted]:
            self._finish(job)

    def _next_batch(self, job: Job) -> RunBatch | None:
        try:
            return job.next_batch()
        except RecordError as exc:  # a member's record cannot be made: the job ends here
            self._tell(self.listener.problem, f"{job.title}: cannot record the next run, so it ends here: {exc}")
            job.stopping = True
            self._finish(job, RunStatus.FAILED)
            return None

    def _send(self, slot: EngineSlot) -> None:
        batch = slot.batch
        if batch is None or batch.sent or not slot.ready or slot.engine is None:
            return
        batch.sent = slot.engine.send("start", **batch.command())
        if batch.sent:  # else the engine went away just now: its EngineExited brings a new one
            for live in batch.lives:
                live.state.status = RunStatus.STARTING

    def _batch_ended(self, slot: EngineSlot) -> None:
        batch, slot.batch, slot.ending = slot.batch, None, None
        if batch.job is not None:
            try:
                batch.job.batch_ended(batch)
            except RecordError as exc:  # the runs' own records are complete; only the tie between them is not
                self._tell(self.listener.problem, f"{batch.job.title}: the group record is incomplete: {exc}")
        self._schedule()

    def _end_batch(
        self, slot: EngineSlot, status: RunStatus, message: str = "", error_kind: str = "", traceback: str = ""
    ) -> None:
        """End the slot's batch here (the engine cannot say): every run not ended yet gets `status`."""
        batch = slot.batch
        for live in batch.end_unfinished(status, message, error_kind, traceback):
            self._tell(self.listener.run_event, live, live.finished)
            self._tell(self.listener.run_ended, live, live.finished)
        self._batch_ended(slot)

    def _finish(self, job: Job, status: RunStatus | None = None, message: str = "") -> None:
        try:
            job.finish(status, message)
        except RecordError as exc:
            self._tell(self.listener.problem, f"{job.title}: the group record is incomplete: {exc}")
        finally:
            self.jobs.remove(job)  # the caller keeps what it needs of it: a long session stays bounded
        self._tell(self.listener.job_finished, job)

    def _abandon(self, why: str) -> None:
        """No engine is left and none will be started: what waits for one ends `failed`."""
        for slot in self.slots:
            if slot.batch is not None:
                self._end_batch(slot, RunStatus.FAILED, f"not run: {why}", ErrorKind.CRASH)
        for job in list(self.jobs):
            job.stopping = True
            self._finish(job, RunStatus.FAILED, f"not run: {why}")

    # -- controls ----------------------------------------------------------------------------------
    def slot_of(self, run_id: str) -> EngineSlot | None:
        return next((s for s in self.slots if s.batch is not None and s.batch.live(run_id) is not None), None)

    def pause(self, run_id: str, pause: bool = True) -> bool:
        """Pause (or resume) the batch that trains `run_id`; False if it is not training."""
        slot = self.slot_of(run_id)
        if slot is None or not slot.batch.sent:
            return False
        return slot.engine.send("pause" if pause else "resume")

    def step(self, run_id: str, steps: int) -> bool:
        """Step mode: the paused batch that trains `run_id` trains `steps` steps and pauses again."""
        slot = self.slot_of(run_id)
        if slot is None or not slot.batch.sent:
            return False
        return slot.engine.send("step", steps=steps)

    def change(self, run_id: str, key: str, value: object, spec: FamilySpec | None = None) -> str | None:
        """Change a setting of the batch that trains `run_id` from its next step on (recorded as a
        SettingChanged event when the engine applies it). Returns why not, or None: the change is
        checked here first (engine/changes.py; `spec`: the run's family, by default the registry's),
        and a refused one changes nothing."""
        slot = self.slot_of(run_id)
        if slot is None or not slot.batch.sent:
            return "the run is not training"
        live = slot.batch.live(run_id)
        try:
            value = check_change(spec or get_family(live.request.family), live.state.current_config(), key, value)
        except (ConfigError, LookupError) as exc:
            return "; ".join(getattr(exc, "problems", None) or [str(exc)])
        if not slot.engine.send("change", key=key, value=value):
            return "the engine did not take it (it has gone, or did not answer)"
        return None

    def stop(self, run_id: str) -> None:
        """Stop the batch that trains `run_id` (recorded `stopped`); one not sent yet ends at once."""
        slot = self.slot_of(run_id)
        if slot is not None:
            self._stop_slot(slot, RunStatus.STOPPED)

    def stop_job(self, job: Job) -> None:
        """No more of the job's runs start; the ones going stop."""
        job.stopping = True
        for slot in self.slots:
            if slot.batch is not None and slot.batch.job is job:
                self._stop_slot(slot, RunStatus.STOPPED)
        self._schedule()

    def _stop_slot(self, slot: EngineSlot, reason: RunStatus, ending: tuple[RunStatus, str] | None = None) -> None:
        if ending is not None:
            slot.ending = ending
        if slot.batch.sent and slot.engine is not None and slot.engine.send("stop", reason=reason):
            return
        status, message = ending or (reason, "")
        self._end_batch(slot, status, message or f"{reason} before the engine was ready")

    def shutdown(
        self, status: RunStatus = RunStatus.INTERRUPTED, message: str = "", grace: float = STOP_GRACE_S
    ) -> None:
        """Stop and drain: stop every run, record what arrives until they have stopped (or `grace` has
        passed), end the rest with `status`, finish every job with it, close the engines. Blocking;
        a second Ctrl-C stops the wait, not the recording."""
        if self.closing:
            return
        self.closing = True
        for job in self.jobs:
            job.stopping = True
        reason = RunStatus.INTERRUPTED if status is RunStatus.INTERRUPTED else RunStatus.STOPPED
        try:
            for slot in self.slots:
                if slot.batch is not None:
                    self._stop_slot(slot, reason, (status, message))
            deadline = time.monotonic() + grace
            while any(slot.batch is not None for slot in self.slots) and time.monotonic() < deadline:
                self.pump(0.1)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting, end what is left here
        finally:  # whatever happened above, every record is closed and every engine ends
            for slot in self.slots:
                if slot.batch is not None:
                    self._end_batch(slot, status, message)
            for job in list(self.jobs):
                self._finish(job, status, message)
            self.close()

    def close(self) -> None:
        """Close every engine: no process outlives its owner."""
        self.closing = True
        for slot in self.slots:
            engine, slot.engine = slot.engine, None
            if engine is not None:
                engine.close()
        for engine in self._started:
            engine.close()
        self._started.clear()
