"""A family that fails on purpose, for the fault tests (loaded with GRADFAIL_FAMILY_MODULES).

It trains a tiny real model so the run loop, the worker and the record are exercised exactly as
for a real family, and then, at the step and in the phase it is told, raises, returns NaN, exits
the process, or sleeps (to give a test time to send a signal).
"""

import os
import time
from dataclasses import dataclass

import torch

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec
from engine.trainer import Trainer


@dataclass(frozen=True)
class FaultyConfig(BaseConfig):
    fault: str = knob("none", "what goes wrong", choices=("none", "raise", "nan", "exit", "oom"))
    phase: str = knob("train_step", "where it goes wrong", choices=("train_step", "evaluate", "build"))
    at_step: int = knob(50, "the step at which it goes wrong", low=0)
    step_sleep: float = knob(0.0, "seconds each step sleeps (slow runs for signal tests)", low=0)
    steps: int = knob(200, "training steps", low=1)
    eval_every: int = knob(20, "evaluate every this many steps", low=1)


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


SPEC = FamilySpec(
    name="faulty", title="Faulty (tests only)", claim="fails on purpose", paper_ref="-",
    config_cls=FaultyConfig, trainer="tests.faulty_family:FaultyTrainer",
    metrics=(MetricSpec("train_loss", "train loss", "loss"), MetricSpec("test_acc", "test accuracy", "accuracy")),
    cpu_threads=1)
