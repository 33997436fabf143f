"""SIGTERM and SIGHUP (the terminal or the SSH session went away) end the explorer as `q` does.

The run is stopped and recorded as interrupted and the engine closed (the app's `shutdown`); then,
since with its terminal gone Textual can block for ever writing its last frame, the process leaves
by itself after a grace period.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Awaitable, Callable

EXIT_GRACE_S = 3.0  # after SIGTERM / SIGHUP, how long Textual may take to restore the terminal
SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def handle_signals(shutdown: Callable[[], Awaitable[None]], exit_app: Callable[[], None]) -> None:
    """On SIGTERM or SIGHUP: await `shutdown()`, then `exit_app()`, and leave for sure after the grace."""

    async def signalled() -> None:
        await shutdown()  # the run's record is closed and the engine gone: nothing is lost now
        timer = threading.Timer(EXIT_GRACE_S, os._exit, (0,))
        timer.daemon = True  # a normal exit does not wait for it
        timer.start()
        exit_app()

    try:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(signalled()))
    except (NotImplementedError, RuntimeError, ValueError):
        pass  # not the main thread, or no signals here: the default (end at once) stays


def release_signals() -> None:
    try:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
    except (NotImplementedError, RuntimeError, ValueError):
        pass
