"""The explorer's engines: one for a run or a group, a local pool for a sweep.

A single run, seeds and a group preset keep the explorer's one engine: a run (or its seeds as lanes)
is one batch, and the other jobs hand out their next batch only when the one before has ended (a
group's members go in the paper's order, its figure growing run by run: GroupRun, RunsJob), so a
second engine would sit idle holding torch's memory. A sweep hands out a batch whenever an engine is
free, so it runs on a local pool as `gradfail sweep` does: as many engines as the command line starts
by default, each told its share of the cores (gradfail_tui/pool.py, the one rule).

The pool is the Conductor's slots (engine/orchestration/conductor.py, which drives N engines as it
is): `widen` adds slots and starts their engines when the sweep starts, `narrow` takes the free ones
past the first away again when it has ended, closing their engines off the UI thread. `pause` tells
every engine that trains one of a job's batches, as `Conductor.stop_job` stops them all. Quitting
closes every slot's engine (`Conductor.shutdown`); `join` then waits for the engines `narrow` is
still closing, so that none outlives the explorer.
"""

from __future__ import annotations

import threading

from engine.client import Backend
from engine.orchestration import Conductor, EngineSlot, Job
from gradfail_tui.pool import default_workers, share_of_cores

CLOSE_WAIT_S = 10.0  # how long quitting waits for the engines being closed (each one: 5 s at most, then killed)


class EnginePool:
    def __init__(self, conductor: Conductor):
        self.conductor = conductor
        self._closing: list[threading.Thread] = []

    @property
    def size(self) -> int:
        return len(self.conductor.slots)

    def for_sweep(self, job) -> int:
        """Make room for a sweep (a SweepRun): the engines the command line would use by default, each
        given its share of the cores. Returns how many engines it will run on. OSError if an engine
        process cannot be started (the slots that have one run the sweep)."""
        engines = default_workers(job.spec)
        job.threads = share_of_cores(engines)
        self.widen(engines)
        return engines

    def widen(self, engines: int) -> None:
        """Slots up to `engines`, an engine starting in each new one (it loads torch: its batch waits for
        it). The bridge's thread reads `conductor.slots` afresh at every poll."""
        slots = self.conductor.slots
        slots.extend(EngineSlot(index) for index in range(len(slots), engines))
        self.conductor.start()

    def narrow(self) -> None:
        """Back to the one engine: the free slots past the first leave, and their engines are closed."""
        if self.conductor.closing:
            return  # shutdown closes every slot's engine itself
        extra = [slot for slot in self.conductor.slots[1:] if slot.batch is None]
        if not extra:
            return
        self.conductor.slots = [slot for slot in self.conductor.slots if slot not in extra]
        engines: list[Backend] = []
        for slot in extra:
            engine, slot.engine, slot.ready = slot.engine, None, False
            if engine is not None:
                engines.append(engine)
        # Closing waits for each process to end (it may still be importing torch): not on the UI thread.
        thread = threading.Thread(target=close_all, args=(engines,), name="engine-pool-close", daemon=True)
        self._closing = [t for t in self._closing if t.is_alive()] + [thread]
        thread.start()

    def holds(self, slot: EngineSlot) -> bool:
        """Whether `slot` is still one of the conductor's (an item from an engine `narrow` closed is not)."""
        return any(slot is held for held in self.conductor.slots)

    def pause(self, job: Job, pause: bool = True) -> int:
        """Pause (or resume) every engine training one of `job`'s batches; returns how many were told."""
        told = 0
        for slot in list(self.conductor.slots):
            batch = slot.batch
            if batch is not None and batch.job is job and self.conductor.pause(batch.lives[0].run_id, pause):
                told += 1
        return told

    def first_of_batch(self, run_id: str) -> bool:
        """Whether `run_id` is the first run of the batch training it (a batch of lanes is paused once)."""
        slot = self.conductor.slot_of(run_id)
        return slot is not None and slot.batch.lives[0].run_id == run_id

    def join(self, timeout: float = CLOSE_WAIT_S) -> None:
        """Wait for the engines `narrow` is closing."""
        for thread in self._closing:
            thread.join(timeout)


def close_all(engines: list[Backend]) -> None:
    for engine in engines:
        engine.close()
