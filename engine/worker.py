"""The engine process: `python -m engine.worker`, started by engine.client.EngineProcess.

Protocol (one JSON object a line):
- stdin, from the parent: {"cmd": "start", "run_id", "family", "config", "seed", "device", "preset"}
  (or "run_ids" and "seeds" lists: several seeds trained together, each recorded as its own run),
  and an optional "changes" list ({"step", "key", "value"}: settings changed after that step) and
  "stop_when" (a success test: a run that passes it ends `completed` at once; engine/loop.py's StopWhen),
  {"cmd": "pause"}, {"cmd": "resume"}, {"cmd": "stop", "reason": "stopped"|"interrupted"},
  {"cmd": "step", "steps": N} (while paused: train N steps, then pause again),
  {"cmd": "change", "key", "value"} (a setting changed from the next step on, engine/changes.py),
  {"cmd": "warmup"} (import what the first run would, while the user is still choosing),
  {"cmd": "quit"}. End of input means the parent is gone: stop and exit.
- stdout, to the parent: events (engine/events.py), beginning with one EngineReady.
Everything else the process prints (warnings, stray prints) goes to stderr, which the parent
keeps for its error messages, so the event channel stays clean.

A run that fails (an exception in the family's code, out of memory, a device that is not there)
ends with a RunFinished event and the process waits for the next run; only a hard death
(a signal, the OOM killer) ends it, and the parent reports that.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import platform
import queue
import re
import signal
import sys
import threading
import time
import traceback

# glibc malloc's knobs (malloc.h), and the values the engine sets: memory blocks up to 64 MB come
# from the heap, and up to 512 MB of freed heap is kept for the next allocation.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_FREED, HEAP_UP_TO = 512 << 20, 64 << 20


def keep_freed_memory() -> None:
    """Let malloc reuse freed memory instead of handing it back to the kernel at every free.

    By default glibc gives multi-megabyte tensors their own mapping, or trims them off the heap
    when freed, so a training step that makes and frees its activations gets fresh pages every
    time, and the page faults cost more than the arithmetic: the tuple CNN's step took 170 ms
    instead of 120 on 2 cores here (measured; the peak RSS was the same). PyTorch's CPU
    performance guides suggest jemalloc or tcmalloc for this; this gets the same from the
    allocator already loaded. Elsewhere than glibc this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, HEAP_UP_TO)
    mallopt(M_TRIM_THRESHOLD, KEEP_FREED)


def import_torch_side():
    """Import torch and the run loop with Python's cyclic garbage collector off; returns torch.

    The collector runs full collections while torch's import creates its ~250,000 objects, each
    walking all of them: with it off, the import takes 0.1-0.3 s less (of about 2 s, measured). What
    the import leaves lives as long as the process, so it is then frozen (later collections skip it;
    the import's own cyclic garbage, about 1 MB, stays) and collection resumes for everything made
    afterwards, the runs' objects included.
    """
    gc.disable()
    try:
        import torch

        importlib.import_module("engine.loop")  # the engine's torch side, which every run uses
    finally:
        gc.freeze()
        gc.enable()
    return torch


def main() -> int:
    keep_freed_memory()
    # Keep fd 1 for events only: anything else printed to stdout goes to stderr instead.
    events_out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # The parent decides what Ctrl-C means (the worker runs in its own session anyway).
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    lock = threading.Lock()

    def emit(event) -> None:
        from engine.events import to_json

        line = to_json(event) + "\n"
        with lock:
            try:
                events_out.write(line)
            except (BrokenPipeError, OSError):
                os._exit(0)  # the parent is gone; nobody is left to tell

    torch = import_torch_side()

    global DEFAULT_THREADS
    DEFAULT_THREADS = torch.get_num_threads()

    from engine import __version__
    from engine.events import EngineReady
    from engine.loop import Control
    from engine.status import RunStatus

    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    emit(
        EngineReady(run_id="", t=0.0, torch_version=torch.__version__, cuda=torch.cuda.is_available(), devices=devices)
    )

    commands: queue.Queue = queue.Queue()
    state = {"control": Control()}

    def read_commands() -> None:
        for line in sys.stdin:
            try:
                cmd = json.loads(line)
                name = cmd.get("cmd")
            except (json.JSONDecodeError, AttributeError):
                print(f"gradfail worker: ignoring a malformed command: {line!r}", file=sys.stderr)
                continue
            if name == "start":
                # The run's Control exists from the moment its start is read, so a stop or pause
                # sent right after a start (before the main loop takes it) reaches that run.
                state["control"] = Control()
            control = state["control"]
            if not obey(control, cmd):
                commands.put((cmd, control))
        state["control"].stop(RunStatus.INTERRUPTED)  # end of input: the parent has gone
        commands.put(({"cmd": "quit"}, state["control"]))

    threading.Thread(target=read_commands, name="commands", daemon=True).start()
    versions = {"gradfail": __version__, "torch": torch.__version__, "python": platform.python_version()}
    while True:
        cmd, control = commands.get()  # a start comes with the Control its run obeys
        if cmd.get("cmd") == "quit":
            return 0
        if cmd.get("cmd") == "warmup":
            # The first optimizer built in a process imports much of torch (about 2 s here). The TUI
            # asks for this while the user is still choosing a run; `gradfail run` does not wait for it.
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        if cmd.get("cmd") == "start":
            for finished in run_one(cmd, emit, control, versions):
                emit(finished)


DEFAULT_THREADS = os.cpu_count() or 1  # replaced by torch's own default once torch is imported

STEERING = ("pause", "resume", "stop", "step", "change")  # the commands that steer the run in flight


def obey(control, cmd: dict) -> bool:
    """Apply a command that steers the run in flight to its `Control` (engine/loop.py) and return True;
    False for any other command (start, warmup, quit), which is the caller's to carry out. The engine
    process and the Ray actor (engine/ray_actor.py) both steer through here, so both know every command."""
    from engine.status import RunStatus

    name = cmd.get("cmd")
    if name == "pause":
        control.pause()
    elif name == "resume":
        control.resume()
    elif name == "stop":
        control.stop(RunStatus.parse(cmd.get("reason")) or RunStatus.STOPPED)
    elif name == "step":
        control.step(int(cmd.get("steps", 1)))
    elif name == "change":
        control.change(str(cmd.get("key")), cmd.get("value"))
    else:
        return False
    return True


def run_one(cmd: dict, emit, control, versions: dict) -> list:
    """Run one training run (or one group of seeds trained together) to its end.

    Returns the RunFinished event of each run (never raises). A group is asked for with
    "run_ids" and "seeds" lists instead of "run_id" and "seed".
    """
    import torch

    from engine.changes import check_change
    from engine.loop import StepFailed, StopWhen, run_lanes
    from engine.status import ErrorKind

    request = _Request(cmd)
    try:
        stop_when = StopWhen.from_dict(cmd.get("stop_when"))  # before the model is built: a bad one is a bad request
        spec, config, changes, device, trainer = request.build()
    except Exception as exc:  # a bad request or a bug in the family's setup: report it, keep the engine alive
        return request.setup_failed(exc)
    request.announce(emit, spec, config, device, versions)
    try:
        return run_lanes(
            trainer,
            config,
            request.run_ids,
            emit,
            control,
            request.started,
            changes=changes,
            check=lambda key, value, current: check_change(spec, current, key, value),
            stop_when=stop_when,
        )
    except StepFailed as exc:
        return request.failed(f"{spec.name}: {exc}", ErrorKind.CRASH, traceback.format_exc(), exc.step)
    except (MemoryError, torch.OutOfMemoryError) as exc:
        message = f"out of memory during training: {_allocation(exc)}; try a smaller batch or width"
        return request.failed(message, ErrorKind.OOM)
    finally:
        del trainer
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class _Request:
    """A start command's runs (their ids and seeds, timed from when it arrived): building them,
    announcing them, and the RunFinished events that end them all `failed`."""

    def __init__(self, cmd: dict):
        self.cmd = cmd
        self.started = time.perf_counter()
        self.run_ids = list(cmd.get("run_ids") or [cmd.get("run_id", "")])
        self.seeds = [int(s) for s in (cmd.get("seeds") or [cmd.get("seed", 0)])]

    def build(self) -> tuple:
        """(spec, config, checked changes, device, trainer); raises what `setup_failed` reports."""
        from engine.changes import changes_from_dicts, check_changes
        from engine.config import ConfigError, build_config
        from engine.device import resolve_device
        from engine.registry import get_family, load_trainer_class

        cmd, seeds = self.cmd, self.seeds
        spec = get_family(cmd["family"])
        config = build_config(spec.config_cls, cmd.get("config", {}), source="run request")
        try:
            changes = check_changes(spec, config, changes_from_dicts(cmd.get("changes")))
        except ValueError as exc:
            raise ConfigError([str(exc)], "run request") from None
        if len(seeds) != len(self.run_ids):
            raise ConfigError(["seeds: one run id per seed is needed"], "run request")
        if len(seeds) > 1 and not spec.batched_seeds:
            raise ConfigError(
                [
                    f"--seeds: the {spec.name} family cannot train several seeds in one model; "
                    "run the seeds one after another"
                ],
                "run request",
            )
        device = resolve_device(cmd.get("device", "auto"))
        if device.type == "cpu":
            _set_cpu_threads(spec, len(seeds), int(cmd.get("threads") or 0))
        trainer = load_trainer_class(spec)(config, device, seeds if len(seeds) > 1 else seeds[0])
        return spec, config, changes, device, trainer

    def announce(self, emit, spec, config, device, versions: dict) -> None:
        """One RunStarted per run, before the first step."""
        from engine.config import config_to_dict
        from engine.device import describe_device
        from engine.events import RunStarted

        for run_id, seed in zip(self.run_ids, self.seeds):
            emit(
                RunStarted(
                    run_id=run_id,
                    t=time.perf_counter() - self.started,
                    family=spec.name,
                    config=config_to_dict(config),
                    seed=seed,
                    device=str(device),
                    device_name=describe_device(device),
                    total_steps=config.steps,
                    preset=self.cmd.get("preset"),
                    versions=versions,
                )
            )

    def failed(self, message: str, kind, tb: str = "", step: int = 0) -> list:
        from engine.events import RunFinished
        from engine.status import RunStatus

        return [
            RunFinished(
                run_id=run_id,
                t=time.perf_counter() - self.started,
                step=step,
                status=RunStatus.FAILED,
                message=message,
                error_kind=kind,
                traceback=tb,
            )
            for run_id in self.run_ids
        ]

    def setup_failed(self, exc: Exception) -> list:
        """A run that could not be built: a bad request, no memory for the model, or a bug in the family
        (called while `exc` is being handled, for its traceback)."""
        import torch

        from engine.config import ConfigError
        from engine.device_names import DeviceError
        from engine.loop import is_out_of_memory
        from engine.status import ErrorKind

        if isinstance(exc, (ConfigError, DeviceError, LookupError)):
            return self.failed(str(exc), ErrorKind.CONFIG)
        if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
            return self.failed(f"out of memory while building the model: {_allocation(exc)}", ErrorKind.OOM)
        if is_out_of_memory(exc):  # the CPU allocator says so with a RuntimeError
            return self.failed(
                f"out of memory while building the model: {_allocation(exc)}; try a smaller width, batch or input size",
                ErrorKind.OOM,
            )
        family = self.cmd.get("family")
        return self.failed(
            f"{type(exc).__name__} while building the {family} run: {exc}", ErrorKind.CRASH, traceback.format_exc()
        )


def _set_cpu_threads(spec, seeds: int, share: int) -> None:
    """The family's choice for one run (small models lose more to thread sync than they gain);
    torch's default for seeds trained together, whose every op does a lane's work many times
    over (16 parity30 lanes: 1.5-1.7 ms a step on 2 threads against 2.3-2.9 on one, measured);
    set every run, since the previous run in this process may have set another.
    A sweep running N engines side by side gives each its share of the cores (`share`; 0: none given):
    lanes on 2 threads in each of 2 engines on 2 cores ran 5-10x slower than on 1 (measured)."""
    import torch

    single = spec.cpu_threads if seeds == 1 else None
    torch.set_num_threads(min(single or DEFAULT_THREADS, share) if share > 0 else single or DEFAULT_THREADS)


def _allocation(exc: BaseException) -> str:
    """What the allocator could not do, for people: "cannot allocate 625.0 GiB" (or its first line)."""
    found = re.search(r"tried to allocate (\d+) bytes", str(exc))
    return f"cannot allocate {int(found.group(1)) / 2**30:,.1f} GiB at once" if found else _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


if __name__ == "__main__":
    code = main()
    # Leave without the interpreter's teardown of torch's modules (about half a second here, measured):
    # every event is written (fd 1 is line-buffered) and nothing else needs closing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
