"""A talk's live slides: a result fast enough to train in front of an audience (`paper.LIVE_LIMIT_S`)
trains when its slide is first shown, whether the deck has its record or not.

One engine, started with the talk; each live result is a `GroupRun` on a `Conductor`, recorded under
the runs directory like any `gradfail run --preset fig-...` (so `gradfail report` reads it). A thread
polls the engine (`Conductor.poll`, the only call allowed off the UI thread) and hands what arrives to
the app's thread, which applies it (`Conductor.handle`). Closing the talk, or SIGTERM / SIGHUP, stops
what trains, records it `interrupted` and closes the engine.

A live slide keeps its pace (`Pace`: steps per second from its runs' metrics events, in the engine's own
time) and, from it, when it would finish. `LiveTalk.fall_back` says why a slide should give way to the
deck's recording of the same runs: after a warm-up (`WARMUP_S`, or a quarter of a short slide), a
projected finish more than `TOO_SLOW` times the slide's time (`--slide-seconds`), or a run that failed (the
engine died, the trainer raised). A run that diverged to NaN is a result, not a failure: it stays live.
The app (app.py) then stops the live run (recorded `stopped`) and replays the recording; the engine stays,
for the next live slide.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.catalog import load_preset
from engine.events import Metrics
from engine.groups import GroupPreset
from engine.orchestration import Conductor, GroupRun
from engine.orchestration.factory import Place, group_job
from engine.presets import DEFAULT_SCALE
from engine.status import RunStatus

POLL_S = 0.1
WARMUP_S = 3.0  # a live slide is judged only after this much of it (a quarter of a shorter slide)
TOO_SLOW = 1.5  # ... and gives way to its recording if it would finish after 1.5x the slide's time


@dataclass
class Pace:
    """A live run's pace: its first and latest metrics events' (step, engine time)."""

    first: tuple[int, float]
    last: tuple[int, float]

    def seen(self, step: int, t: float) -> None:
        self.last = (step, t)


def failure(job: GroupRun) -> str | None:
    """Why a live job failed (a run that failed: the engine died, the trainer raised), or None. A run that
    diverged is a result, not a failure."""
    for live in job.lives:
        if live.state.status == RunStatus.FAILED:
            message = live.finished.message if live.finished is not None else ""
            return "the engine failed" + (f": {message.strip().splitlines()[0]}" if message.strip() else "")
    if job.finished and job.status == RunStatus.FAILED:
        return "the engine failed"
    return None


def remaining_steps(job: GroupRun) -> tuple[int, int]:
    """(steps left, steps in all) of a live job's runs, trained one after another."""
    total = left = 0
    for number, member in enumerate(job.members):
        steps = member.config.steps
        total += steps
        if number < len(job.lives):
            live = job.lives[number]
            left += 0 if live.finished is not None else max(0, steps - live.state.step)
        elif not job.finished:
            left += steps
    return left, total


class LiveTalk:
    def __init__(
        self,
        runs_dir: Path,
        device: str = "auto",
        engine_factory: Callable | None = None,
        load: Callable[[str], object] = load_preset,
    ):
        """`load`: a result's group preset by name (a test's own, made slow or faulty)."""
        self.runs_dir = runs_dir
        self.load = load
        self.device = device
        self.conductor = Conductor(engine_factory) if engine_factory else Conductor()
        self.jobs: dict[str, GroupRun] = {}  # preset -> its live run, once started
        self.paces: dict[str, Pace] = {}  # run id -> its pace, from its metrics events
        self._exit = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, hand_over: Callable[[Callable, list], object]) -> LiveTalk:
        """Start the engine and the polling thread; `hand_over(apply, items)` runs `apply(items)` on the UI thread."""
        self.conductor.start()

        def poll() -> None:
            while not self._exit.is_set():
                items = self.conductor.poll(POLL_S)
                if items and not self._exit.is_set():
                    try:
                        hand_over(self.apply, items)
                    except RuntimeError:
                        return  # the app has gone

        self._thread = threading.Thread(target=poll, name="talk-engine", daemon=True)
        self._thread.start()
        return self

    def apply(self, items: list) -> None:
        for slot, item in items:
            if isinstance(item, Metrics):
                if item.run_id in self.paces:
                    self.paces[item.run_id].seen(item.step, item.t)
                else:
                    self.paces[item.run_id] = Pace((item.step, item.t), (item.step, item.t))
            if not self.conductor.closing:
                self.conductor.handle(slot, item)

    def steps_per_s(self, job: GroupRun) -> float | None:
        """The job's pace so far: the steps its runs trained over the engine time they took (None: unknown yet)."""
        steps = seconds = 0.0
        for live in job.lives:
            pace = self.paces.get(live.request.run_id)
            if pace is not None and pace.last[1] > pace.first[1]:
                steps += pace.last[0] - pace.first[0]
                seconds += pace.last[1] - pace.first[1]
        return steps / seconds if steps > 0 and seconds > 0 else None

    def fraction(self, job: GroupRun) -> float:
        """How much of the job's steps are trained (or ended)."""
        left, total = remaining_steps(job)
        return 1.0 if job.finished or not total else 1 - left / total

    def projected(self, job: GroupRun, elapsed: float) -> float | None:
        """When the job would finish, in seconds of its slide (`elapsed` so far), at its pace; None: unknown."""
        if job.finished:
            return elapsed
        rate = self.steps_per_s(job)
        return None if rate is None else elapsed + remaining_steps(job)[0] / rate

    def fall_back(self, job: GroupRun, elapsed: float, slide_seconds: float) -> str | None:
        """Why the slide should give way to its recording, or None: a failed run, or (not finished, past
        the warm-up) a projected finish past `TOO_SLOW` x the slide's time; no pace yet at that time
        counts as too slow too."""
        failed = failure(job)
        if failed is not None or job.finished:
            return failed
        if elapsed < min(WARMUP_S, slide_seconds / 4):
            return None
        limit = TOO_SLOW * slide_seconds
        projected = self.projected(job, elapsed)
        if projected is None:
            return (
                f"too slow: no step measured in {elapsed:.0f} s of a {slide_seconds:g} s slide"
                if elapsed > limit
                else None
            )
        if projected > limit:
            return f"too slow: {math.ceil(projected):,} s projected for a {slide_seconds:g} s slide"
        return None

    def abandon(self, job: GroupRun) -> None:
        """Stop a live job given up for its recording: its run in flight is recorded `stopped`, the engine stays."""
        if not job.finished and not self.conductor.closing:
            self.conductor.stop_job(job)

    def run(self, preset: str) -> GroupRun:
        """The result's live run: started on the first call, the same one after."""
        if preset not in self.jobs:
            group = self.load(preset)
            assert isinstance(group, GroupPreset)
            members = group.members(DEFAULT_SCALE)
            job = group_job(group, members, DEFAULT_SCALE, self.device, Place(self.runs_dir, prefix="talk-"))
            self.jobs[preset] = self.conductor.submit(job)
        return self.jobs[preset]

    def close(self) -> None:
        """Stop what trains (recorded `interrupted`), close the engine, end the thread."""
        self._exit.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        if not self.conductor.closing:
            self.conductor.shutdown(RunStatus.INTERRUPTED, "the talk was closed")
