"""The torch side of a Ray actor: what trains inside a Ray worker process.

`ActorTrainer` is to `RayEngine.EngineActor` (engine/orchestration/ray_engine.py, torch-free) what
`engine.worker.main` is to `EngineProcess`: it imports torch, says `EngineReady`, trains one batch at
a time with the engine process's own `run_one`, in a thread, and steers the run in flight with the
engine process's own dispatcher (`worker.obey`: pause, resume, stop, step, change), so an engine on
Ray knows every command a local one does. Only a Ray worker process imports this module: the
torch-free `EngineActor` imports it in its `__init__`, which runs there (the import contracts in
pyproject.toml name that one import).
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Callable
from typing import Any

from engine import __version__, worker
from engine.events import EngineReady, Event
from engine.loop import Control


class ActorTrainer:
    def __init__(self, emit: Callable[[Event], None]) -> None:
        torch = worker.import_torch_side()
        worker.DEFAULT_THREADS = torch.get_num_threads()
        self.emit = emit
        # As in the engine process, a Control exists before the first start, and each start gets a new one.
        self.control = Control()
        self.training: threading.Thread | None = None
        self.versions = {"gradfail": __version__, "torch": torch.__version__, "python": platform.python_version()}
        devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        emit(
            EngineReady(
                run_id="", t=0.0, torch_version=torch.__version__, cuda=torch.cuda.is_available(), devices=devices
            )
        )

    def start(self, cmd: dict[str, Any]) -> bool:
        """Train the batch `cmd` describes in a thread; False while one is training (one at a time)."""
        if self.training is not None and self.training.is_alive():
            return False
        self.control = control = Control()

        def train() -> None:
            for finished in worker.run_one(cmd, self.emit, control, self.versions):
                self.emit(finished)

        self.training = threading.Thread(target=train, name="train", daemon=True)
        self.training.start()
        return True

    def command(self, cmd: dict[str, Any]) -> bool:
        """Steer the run in flight (pause, resume, stop, step, change); False for a command it does not know."""
        return worker.obey(self.control, cmd)
