"""The parent's side of the engine process: spawn it, send it commands, receive its events.

Used the same way by the headless CLI and by the TUI. A reader thread turns the worker's stdout
into events on a queue; when the process ends, an `EngineExited` (with the tail of its stderr)
follows the last event, so a dead engine is always noticed and never waited on forever.
Torch-free.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.changes import Change
from engine.config import BaseConfig, config_to_dict
from engine.events import Event, from_json


@dataclass
class EngineExited:
    """The engine process ended (pipe-side news, not a run event)."""

    returncode: int | None
    stderr_tail: str

    def describe(self) -> str:
        code = self.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
        else:
            how = f"exited with code {code}"
        last = self.stderr_tail.strip().splitlines()[-1:] or [""]
        return f"the engine process {how}" + (f": {last[0]}" if last[0] else "")


class EventQueue(queue.Queue):
    """An engine's items, in order. Its `waker`, once the conductor sets one, is set on every put, so
    that the conductor waits on one threading.Event for all its engines at once: waiting on each
    engine's queue in turn would leave an engine that has just finished a run idle until the wait on
    the others has timed out."""

    waker: threading.Event | None = None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        if self.waker is not None:
            self.waker.set()

    def take(self, timeout: float | None = None) -> Any:
        """The next item, waiting up to `timeout` (None: for ever); None if there is none by then."""
        try:
            return self.get(timeout=timeout)
        except queue.Empty:
            return None


class Backend(Protocol):
    """What the orchestration needs of an engine: an EngineProcess, or a scripted stand-in in tests.
    `get` reads its `events`, which the conductor waits on together with every other engine's."""

    events: EventQueue

    def start(self) -> Backend: ...
    def send(self, cmd: str, **fields: Any) -> bool: ...
    def get(self, timeout: float | None = None) -> Event | EngineExited | None: ...
    def alive(self) -> bool: ...
    def close(self, timeout: float = 5.0) -> None: ...


class EngineProcess:
    """One engine child process. Runs go through it one at a time."""

    def __init__(self, python: str = sys.executable):
        self.python = python
        self.events = EventQueue()
        self.proc: subprocess.Popen | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._write_lock = threading.Lock()

    def start(self) -> EngineProcess:
        """Start the process, unless it has been started already."""
        if self.proc is not None:
            return self
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # The worker must import this same engine package, installed or from a source checkout.
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [self.python, "-m", "engine.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            # Its own session: Ctrl-C in the terminal reaches the parent only, which then stops the
            # run cleanly and records it as interrupted.
            start_new_session=True,
        )
        threading.Thread(target=self._read_events, name="engine-events", daemon=True).start()
        threading.Thread(target=self._read_stderr, name="engine-stderr", daemon=True).start()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, cmd: str, **fields: Any) -> bool:
        """Send a command; False if the engine is gone (its EngineExited is on the queue)."""
        if not self.alive():
            return False
        try:
            with self._write_lock:
                self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
                self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def get(self, timeout: float | None = None) -> Event | EngineExited | None:
        return self.events.take(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Ask the engine to quit, then make sure it has: no orphan processes."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.send("quit")
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def discard(self) -> None:
        """End a process that was never given a run (`gradfail run` with bad input) without waiting for it."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def _read_events(self) -> None:
        for line in self.proc.stdout:
            try:
                self.events.put(from_json(line))
            except ValueError:
                self._stderr.append(f"(unreadable engine output) {line.rstrip()}")
        returncode = self.proc.wait()
        self.events.put(EngineExited(returncode, "\n".join(self._stderr)))

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line.rstrip())


@dataclass
class RunRequest:
    """What to run: everything the engine needs, already validated by the caller."""

    family: str
    config: BaseConfig
    seed: int = 0
    device: str = "auto"
    preset: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    changes: list[Change] = field(default_factory=list)  # settings changed after a step (engine/changes.py)

    @property
    def label(self) -> str:
        return self.preset or self.family

    def config_dict(self) -> dict[str, Any]:
        return config_to_dict(self.config)

    def command(self) -> dict[str, Any]:
        """The engine's "start" command for this run (engine/worker.py reads it)."""
        return {
            "run_id": self.run_id,
            "family": self.family,
            "config": self.config_dict(),
            "seed": self.seed,
            "device": self.device,
            "preset": self.preset,
            **({"changes": [c.as_dict() for c in self.changes]} if self.changes else {}),
        }


def start_command(requests: list[RunRequest]) -> dict[str, Any]:
    """The engine's "start" command for one run, or for several seeds of one config trained together."""
    if len(requests) == 1:
        return requests[0].command()
    first = requests[0]
    if any(
        (r.family, r.config, r.device, r.preset, r.changes)
        != (first.family, first.config, first.device, first.preset, first.changes)
        for r in requests
    ):
        raise ValueError("runs trained together must share family, config, device, preset and changes")
    return {
        "run_ids": [r.run_id for r in requests],
        "seeds": [r.seed for r in requests],
        "family": first.family,
        "config": first.config_dict(),
        "device": first.device,
        "preset": first.preset,
        **({"changes": [c.as_dict() for c in first.changes]} if first.changes else {}),
    }
