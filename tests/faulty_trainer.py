"""The fault-injecting trainer of tests/faulty_family.py (see there): the torch side, loaded by the engine."""

import os
import time

import torch

from engine.trainer import Trainer


class FaultyTrainer(Trainer):
    def __init__(self, config, device, seed):
        super().__init__(config, device, seed)
        self.fail_if("build", 0)
        self.w = torch.zeros(4, requires_grad=True)

    def fail_if(self, phase, step):
        c = self.config
        if c.phase != phase or step != c.at_step or c.fault in ("none", "nan"):
            return
        if c.fault == "raise":
            raise RuntimeError(f"injected fault in {phase}")
        if c.fault == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 40.00 GiB (injected)")
        if c.fault == "exit":
            os._exit(17)

    def train_step(self, step):
        self.fail_if("train_step", step)
        if self.config.step_sleep:
            time.sleep(self.config.step_sleep)
        loss = ((self.w - 1) ** 2).sum()
        if self.config.fault == "nan" and step >= self.config.at_step:
            loss = loss * float("nan")
        return {"train_loss": loss.detach()}

    def evaluate(self, step):
        self.fail_if("evaluate", step)
        return {"test_acc": 0.5}

    def snapshots(self, step):
        self.fail_if("snapshots", step)  # where a family's diagnostics draw their pictures
        return []
