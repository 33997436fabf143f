"""The engine bridge: a reader thread between the engines and the UI (toolong's pattern).

The engines can say more than a terminal should redraw (ten metric events a second, plus
evaluations and snapshots), and the UI must never block on a pipe. So one thread polls the
orchestration layer's engines (`Conductor.poll`, which only reads their queues), gathers what
arrives, and posts it to the app as one `EngineItemsReceived` at most `BATCH_HZ` times a second;
the app hands each item to `Conductor.handle` on the UI thread, inside `batch_update()`. At most
one batch is in flight: while the UI is still applying one, new items join the next (the hand-over
is a bounded queue of one), so a busy UI slows its own redraws, never the engine. The start and
end of a run, an engine being ready and an engine dying are passed on at once. `stop()` sets the
exit event and joins.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from textual.message import Message

from engine.client import EngineExited
from engine.events import EngineReady, RunFinished, RunStarted
from gradfail_tui.explorer.messages import EngineItemsReceived

BATCH_HZ = 3  # batches a second, at most (each redraws the status line)
POLL_S = 0.05  # how long one poll waits, so the exit event is seen within this
URGENT = (RunStarted, RunFinished, EngineReady, EngineExited)


class EngineBridge:
    def __init__(self, poll: Callable[[float], list], post: Callable[[Message], object], batch_hz: float = BATCH_HZ):
        self.poll = poll
        self.post = post
        self.interval = 1.0 / batch_hz
        self._exit = threading.Event()
        self._handoff: queue.Queue = queue.Queue(maxsize=1)  # a token: one batch in flight at most
        self._thread = threading.Thread(target=self._run, name="engine-bridge", daemon=True)

    def start(self) -> EngineBridge:
        self._thread.start()
        return self

    def batch_applied(self) -> None:
        """Called by the UI when it has applied a batch: the next one may be posted."""
        try:
            self._handoff.get_nowait()
        except queue.Empty:
            pass

    def stop(self, timeout: float = 2.0) -> None:
        self._exit.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        batch: list = []
        last_post = 0.0
        while not self._exit.is_set():
            arrived = self.poll(POLL_S)
            batch += arrived
            urgent = any(isinstance(item, URGENT) for _, item in arrived)
            now = time.monotonic()
            if batch and (urgent or now - last_post >= self.interval) and self._flush(batch, force=urgent):
                last_post = now

    def _flush(self, batch: list, force: bool = False) -> bool:
        """Post the batch if the UI has taken the previous one (or `force`); True if posted."""
        try:
            self._handoff.put_nowait(True)
        except queue.Full:
            if not force:
                return False  # the UI is still busy: these items join the next batch
        self.post(EngineItemsReceived(list(batch)))
        batch.clear()
        return True
