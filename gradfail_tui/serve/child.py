"""One browser session's app process, as `gradfail serve` starts it: the explorer or the talk, bound to
the server so that it can never outlive it.

    python -m gradfail_tui.serve.child SERVER_PID explorer RUNS_DIR [PRESET [start]]
    python -m gradfail_tui.serve.child SERVER_PID talk DECK SLIDE_SECONDS [live RUNS_DIR]

textual-serve 1.1.3 leaves its apps behind when the server dies without running its own shutdown
(SIGHUP, which it does not handle: an SSH session dropping; SIGKILL; a crash): the app's stdin
reaches its end, which Textual's web driver takes as nothing more than the end of input, and the
explorer trains on, its engine at full speed and its record "running". So here:

- on Linux the kernel sends this process SIGTERM when the server dies (PR_SET_PDEATHSIG);
- a watchdog thread checks once a second that the server is still its parent, and sends the same
  SIGTERM otherwise (other platforms, or a server that died before the first check);
- on SIGTERM the app ends as on `q`: the explorer stops its run, records it `interrupted` and
  closes its engine (explorer/signals.py). With the server gone, the watchdog ends the process
  `HARD_EXIT_S` later whatever holds it; with the server alive, the server does (server.py).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

HARD_EXIT_S = 20.0  # after SIGTERM: the explorer's shutdown waits up to STOP_GRACE_S (10 s) for a run to stop
WATCH_EVERY_S = 1.0
PR_SET_PDEATHSIG = 1


def bind_to_server(server_pid: int) -> None:
    """End this process when the server is gone, however it went."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog below does it, within a second

    def watch() -> None:
        while os.getppid() == server_pid:
            time.sleep(WATCH_EVERY_S)
        os.kill(os.getpid(), signal.SIGTERM)  # (again, after PDEATHSIG: the app handles it once)
        time.sleep(HARD_EXIT_S)  # a thread: a busy or blocked event loop cannot hold this up
        os._exit(1)

    threading.Thread(target=watch, name="server-watchdog", daemon=True).start()
    if os.getppid() != server_pid:  # the server died before PDEATHSIG was set: the watchdog ends us
        return


def main(argv: list[str]) -> int:
    server_pid, kind, *rest = argv
    bind_to_server(int(server_pid))
    if kind == "explorer":
        from gradfail_tui.explorer.app import run_explorer

        preset = rest[1] if len(rest) > 1 else None
        return run_explorer(preset, rest[2:3] == ["start"], Path(rest[0]))
    if kind == "talk":
        from gradfail_tui.talk.app import run_talk

        live = rest[2:3] == ["live"]
        return run_talk(
            Path(rest[0]) if rest[0] else None, float(rest[1]), live, Path(rest[3]) if live else Path("runs")
        )
    print(f"gradfail serve: unknown app {kind!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
