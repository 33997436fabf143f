"""An engine on Ray: the same engine code in a Ray actor, speaking the `Backend` protocol to the conductor.

`RayEngine` is what `EngineProcess` is for the local pool: the conductor gives it one batch at a
time, sends it start / pause / resume / stop / step / change, and reads its events from a queue. The
actor (`EngineActor`, torch-free here) imports the engine's torch side in its own process
(engine/ray_actor.py) and trains with the very function the engine process uses
(`engine.worker.run_one`), in a thread, steered by the engine process's own dispatcher
(`engine.worker.obey`), so that every command reaches it while it trains (the actor runs several
methods at once: `max_concurrency`). Its events go
back to the driver as the JSON lines the pipe carries (`events.to_json`): a pump thread here asks
the actor for what it has (`drain`, waiting up to half a second) and puts the events on the queue,
where `Conductor.poll` reads them, so the driver writes the same run records as with a local sweep.
A drain gathers a run's metrics for a tenth of a second before it answers, and answers at once for
anything else (a run's end, so that the next one starts without waiting): answering every metric
as it came cost a remote call each, and the calls took the actor's interpreter from the training
thread (a short parity run trained 2.5x slower in an actor than in an engine process, measured).
An actor that dies (its node lost, killed, out of memory) ends the pump with an `EngineExited`:
the conductor marks its runs `failed` and starts another actor, as it does for a process.

Joining a cluster (`connect(address)`): Ray 2.59 and later turn token authentication on for a cluster
`ray start --head` starts on a machine where Ray keeps a token (a local Ray makes one; later versions
turn it on everywhere), and a driver then needs the cluster's token and `RAY_AUTH_MODE=token`, which
Ray 2.60's driver does not set by itself for an address it joins. So, unless the user set
RAY_AUTH_MODE, a join uses token mode when a token is at hand (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, or
Ray's default token file, which `ray start` writes on the cluster's machines), and checks that an
actor can start there (a driver in token mode on a cluster without it joins, but its actors die).
Ray's own log lines while joining (twenty lines of retries for a missing token) are kept off the
terminal: a failed join is one line saying what to do.

Ray is optional (`pip install "gradfail[ray]"`) and imported only by `connect`; the driver never
imports torch (the actor's module imports it inside the actor's process). Torch-free here.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from engine.client import EngineExited, EventQueue
from engine.events import Event, Metrics, from_json, to_json

INSTALL_HINT = 'Ray is not installed: pip install "gradfail[ray]" (or pip install ray), then run this again'
DRAIN_WAIT_S = 0.5  # how long one drain call waits for the actor's first event
DRAIN_GATHER_S = 0.1  # how long it then gathers metrics before it answers
CONNECT_TIMEOUT_S = 5.0  # to reach the head's port
COMMAND_TIMEOUT_S = 10.0  # for the actor to say whether it took a command (it answers at once while it trains)
PROBE_TIMEOUT_S = 60.0  # for a first actor to start on a joined cluster (a worker process, cold)
DEFAULT_TOKEN_FILE = Path.home() / ".ray" / "auth_token"  # where `ray start` keeps the cluster's token
TOKEN_HELP = (
    "on a machine of the cluster Ray's token file (~/.ray/auth_token) is read by itself; from elsewhere "
    "give it as RAY_AUTH_TOKEN=... (or RAY_AUTH_TOKEN_PATH=FILE); `ray get-auth-token` prints it there"
)


class RayUnavailable(Exception):
    """Ray cannot be used (not installed, the cluster cannot be reached); the message says what to do."""


class EngineActor:
    """The class handed to Ray, torch-free: Ray makes it in a worker process, where its `__init__`
    imports the torch side (engine/ray_actor.py's ActorTrainer, which trains and steers) and where its
    events wait in a queue for the driver's `drain`."""

    def __init__(self) -> None:
        # The one import of the torch side from the orchestration layer: it runs in Ray's worker
        # process, never in the driver (pyproject.toml's import contracts name it).
        from engine.ray_actor import ActorTrainer

        self.events: queue.Queue[tuple[str, bool]] = queue.Queue()  # (JSON line, whether it is only metrics)
        self.trainer = ActorTrainer(self.emit)

    def emit(self, event: Event) -> None:
        self.events.put((to_json(event), isinstance(event, Metrics)))

    def start(self, cmd: dict[str, Any]) -> bool:
        return self.trainer.start(cmd)

    def command(self, cmd: dict[str, Any]) -> bool:
        """pause, resume, stop, step or change, as the engine process obeys them (engine.worker.obey)."""
        return self.trainer.command(cmd)

    def drain(self, wait: float = DRAIN_WAIT_S, gather: float = DRAIN_GATHER_S) -> list[str]:
        """The events since the last call: waiting up to `wait` for the first, then gathering metrics
        for up to `gather` seconds; any other event is answered at once."""
        try:
            line, only_metrics = self.events.get(timeout=wait)
        except queue.Empty:
            return []
        lines = [line]
        deadline = time.monotonic() + gather
        while only_metrics:
            try:
                line, only_metrics = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            lines.append(line)
        while True:  # and whatever else is there already
            try:
                lines.append(self.events.get_nowait()[0])
            except queue.Empty:
                return lines

    def pid(self) -> int:
        return os.getpid()


class RayEngine:
    """The driver's side of one actor: the `Backend` the conductor drives (engine/client.py)."""

    def __init__(self, ray: Any, actor_class: Any, options: dict[str, Any]):
        self.ray = ray
        self.actor_class = actor_class
        self.options = options
        self.actor = None
        self.events = EventQueue()
        self._alive = False
        self._closing = threading.Event()

    def start(self) -> RayEngine:
        if self.actor is not None:
            return self
        self.actor = self.actor_class.options(**self.options).remote()
        self._alive = True
        threading.Thread(target=self._pump, name="ray-events", daemon=True).start()
        return self

    def _pump(self) -> None:
        why = ""
        while not self._closing.is_set():
            try:
                lines = self.ray.get(self.actor.drain.remote())
            except Exception as exc:  # RayActorError, a lost node, ...: the actor is gone
                why = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                break
            for line in lines:
                try:
                    self.events.put(from_json(line))
                except ValueError:
                    pass
        self._alive = False
        self.events.put(EngineExited(None if why else 0, why or "closed"))

    @property
    def pid(self) -> int | None:
        return None

    def alive(self) -> bool:
        return self._alive

    def send(self, cmd: str, **fields: Any) -> bool:
        """Whether the actor took the command: a start is sent and trains; a steering command (pause,
        resume, stop, step, change) is answered by the actor, so a command it did not apply is never
        reported as applied; "warmup" needs nothing (the actor imported torch when it was made)."""
        if not self._alive:
            return False
        try:
            if cmd == "start":
                self.actor.start.remote(fields)
            elif cmd == "quit":
                self.close()
            elif cmd != "warmup":
                return bool(self.ray.get(self.actor.command.remote({"cmd": cmd, **fields}), timeout=COMMAND_TIMEOUT_S))
            return True
        except Exception:  # the actor has gone, or did not answer in time
            return False

    def get(self, timeout: float | None = None) -> Event | EngineExited | None:
        return self.events.take(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """End the actor: no Ray worker outlives the sweep."""
        if self.actor is None or self._closing.is_set():
            return
        self._closing.set()
        try:
            self.ray.kill(self.actor)
        except Exception:
            pass

    def kill(self) -> None:
        """End the actor as a crash would (tests: a dead worker)."""
        self.ray.kill(self.actor, no_restart=True)


def reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """RayUnavailable unless something answers at HOST:PORT (a cluster's head, `ray start --head`'s
    address); "auto" and "ray://" client addresses are left to Ray."""
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise RayUnavailable(
            f"--ray {address}: expected HOST:PORT of the cluster's head (as `ray start --head` prints it)"
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailable(
            f"--ray {address}: cannot reach the Ray cluster there ({exc.strerror or exc}); "
            "is `ray start --head` running on that machine, and is the port open? Nothing was run."
        ) from None


class Probe:
    """The smallest actor: whether one can start on a joined cluster."""

    def ping(self) -> bool:
        return True


def check_actors_start(ray: Any, address: str, chose_token: bool) -> None:
    """RayUnavailable (Ray shut down) unless an actor starts on the joined cluster and answers."""
    try:
        ray.get(ray.remote(num_cpus=0)(Probe).remote().ping.remote(), timeout=PROBE_TIMEOUT_S)
    except Exception as exc:
        ray.shutdown()
        hint = (
            "; a cluster started with RAY_AUTH_MODE=disabled needs RAY_AUTH_MODE=disabled here too"
            if chose_token
            else ""
        )
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayUnavailable(f"--ray {address}: joined, but no actor could start there ({first}){hint}") from None


def token_at_hand() -> bool:
    """Whether Ray would find a cluster token here (its own order: the variable, the file it names, its file)."""
    return (
        bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")) or DEFAULT_TOKEN_FILE.is_file()
    )


@contextlib.contextmanager
def quiet_stderr() -> Iterator[IO[bytes]]:
    """This process's standard error (file descriptor 2, where Ray's C++ core writes) into a file while
    the block runs; the file is yielded, to be read if the block failed."""
    with tempfile.TemporaryFile() as kept:
        saved = os.dup(2)
        os.dup2(kept.fileno(), 2)
        try:
            yield kept
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def said(kept: IO[bytes]) -> str:
    kept.seek(0)
    return kept.read().decode(errors="replace")


def connect(address: str | None, workers: int | None = None) -> tuple[Callable[[], RayEngine], Callable[[], None]]:
    """Start a local Ray (`address` None; `workers` CPUs) or join the cluster at `address`.
    Returns the engine factory and what shuts Ray down; RayUnavailable says why not."""
    init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    chose_token = False
    if address is None:
        init["num_cpus"] = workers or os.cpu_count() or 1
    else:
        reachable(address)  # ray.init retries an unreachable address for minutes
        init["address"] = address
        if "RAY_AUTH_MODE" not in os.environ and token_at_hand():
            os.environ["RAY_AUTH_MODE"] = "token"  # before Ray is imported: its core reads it then
            chose_token = True
    try:
        import ray
    except ImportError:
        raise RayUnavailable(INSTALL_HINT) from None
    where = f"the Ray cluster at {address}" if address else "a local Ray"
    with quiet_stderr() as kept:
        try:
            ray.init(**init)
        except Exception as exc:  # ConnectionError, a timeout, a bad address: nothing has run
            if "InvalidAuthToken" in said(kept) or "Unauthenticated" in said(kept):
                raise RayUnavailable(
                    f"--ray {address}: {where} asks for its token (Ray's token authentication), and "
                    f"{'the one found here was refused' if chose_token else 'none was found here'}: {TOKEN_HELP}"
                ) from None
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RayUnavailable(
                f"--ray {address or ''}: cannot reach {where}: {message}".replace("--ray : ", "--ray: ")
            ) from None
    if address is not None:
        check_actors_start(ray, address, chose_token)
    actor_class = ray.remote(EngineActor)
    # One CPU per actor (Ray sets each worker's thread count to its CPUs); a run uses threads as the
    # engine process does; max_concurrency lets stop and drain through while a run trains.
    options = {"num_cpus": 1, "max_concurrency": 4}
    return (lambda: RayEngine(ray, actor_class, options)), ray.shutdown
