"""The engine bridge: a reader thread between the engine's event queue and the UI (toolong's pattern).

The engine process can emit events faster than a terminal should be redrawn (ten metric events a
second, plus evaluations and snapshots), and the UI must never block on a pipe. So one thread
reads the engine with `get(timeout=...)`, gathers what arrives, and posts it to the app as one
`EventsReceived` at most `BATCH_HZ` times a second; the app applies a whole batch inside
`batch_update()`. At most one batch is in flight: while the UI is still applying one, new events
join the next (the hand-over is a bounded queue of one), so a busy UI slows its own redraws,
never the engine. Start and end of a run, the engine being ready and the engine dying are
passed on at once. `EngineExited` is the last thing an engine ever says, so it doubles as the
sentinel that ends the thread; `stop()` sets the exit event and joins.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Protocol

from textual.message import Message

from engine.client import EngineExited
from engine.events import EngineReady, Event, RunFinished, RunStarted
from gradfail_tui.messages import EngineDied, EngineLoaded, EventsReceived

BATCH_HZ = 3  # batches of run events a second, at most (each redraws the status line)
POLL_S = 0.05  # how long one get() waits, so the exit event is seen within this


class Backend(Protocol):
    """What the app needs of an engine: engine.client.EngineProcess, or a scripted stand-in."""

    def start(self) -> "Backend": ...
    def send(self, cmd: str, **fields) -> bool: ...
    def get(self, timeout: float | None = None) -> Event | EngineExited | None: ...
    def alive(self) -> bool: ...
    def close(self, timeout: float = 5.0) -> None: ...


class EngineBridge:
    def __init__(self, engine: Backend, post: Callable[[Message], object], batch_hz: float = BATCH_HZ):
        self.engine = engine
        self.post = post
        self.interval = 1.0 / batch_hz
        self._exit = threading.Event()
        self._handoff: queue.Queue = queue.Queue(maxsize=1)  # a token: one batch in flight at most
        self._thread = threading.Thread(target=self._run, name="engine-bridge", daemon=True)

    def start(self) -> "EngineBridge":
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
        batch: list[Event] = []
        last_post = 0.0
        while not self._exit.is_set():
            item = self.engine.get(timeout=POLL_S)
            urgent = False
            if isinstance(item, EngineExited):
                self._flush(batch, force=True)
                self.post(EngineDied(item))
                return
            if isinstance(item, EngineReady):
                self.post(EngineLoaded(item))
            elif item is not None:
                batch.append(item)
                urgent = isinstance(item, (RunStarted, RunFinished))
            now = time.monotonic()
            if batch and (urgent or now - last_post >= self.interval):
                if self._flush(batch, force=urgent):
                    last_post = now

    def _flush(self, batch: list[Event], force: bool = False) -> bool:
        """Post the batch if the UI has taken the previous one (or `force`); True if posted."""
        if not batch:
            return False
        try:
            self._handoff.put_nowait(True)
        except queue.Full:
            if not force:
                return False  # the UI is still busy: these events join the next batch
        self.post(EventsReceived(list(batch)))
        batch.clear()
        return True
