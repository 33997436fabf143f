"""A talk's live slides: a result with no record in the deck, fast enough to train in front of an
audience (`paper.LIVE_LIMIT_S`), trains when its slide is first shown.

One engine, started with the talk; each live result is a `GroupRun` on a `Conductor`, recorded under
the runs directory like any `gradfail run --preset fig-...` (so `gradfail report` reads it). A thread
polls the engine (`Conductor.poll`, the only call allowed off the UI thread) and hands what arrives to
the app's thread, which applies it (`Conductor.handle`). Closing the talk, or SIGTERM / SIGHUP, stops
what trains, records it `interrupted` and closes the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from engine.catalog import load_preset
from engine.groups import GroupPreset
from engine.orchestration import Conductor, GroupRun
from engine.orchestration.factory import Place, group_job
from engine.presets import DEFAULT_SCALE
from engine.status import RunStatus

POLL_S = 0.1


class LiveTalk:
    def __init__(self, runs_dir: Path, device: str = "auto", engine_factory: Callable | None = None):
        self.runs_dir = runs_dir
        self.device = device
        self.conductor = Conductor(engine_factory) if engine_factory else Conductor()
        self.jobs: dict[str, GroupRun] = {}  # preset -> its live run, once started
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
            if not self.conductor.closing:
                self.conductor.handle(slot, item)

    def run(self, preset: str) -> GroupRun:
        """The result's live run: started on the first call, the same one after."""
        if preset not in self.jobs:
            group = load_preset(preset)
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
