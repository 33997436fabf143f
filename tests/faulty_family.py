"""A family that fails on purpose, for the fault tests (loaded with GRADFAIL_FAMILY_MODULES).

It trains a tiny real model so the run loop, the worker and the record are exercised exactly as
for a real family, and then, at the step and in the phase it is told, raises, returns NaN, exits
the process, or sleeps (to give a test time to send a signal).
"""

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

# The trainer (which imports torch) lives in tests/faulty_trainer.py, loaded only by the engine, as a
# real family's does: every CLI call in the tests reads this spec, and should not pay for torch.


@dataclass(frozen=True)
class FaultyConfig(BaseConfig):
    fault: str = knob("none", "what goes wrong", choices=("none", "raise", "nan", "exit", "oom"))
    phase: str = knob("train_step", "where it goes wrong", choices=("train_step", "evaluate", "snapshots", "build"))
    at_step: int = knob(50, "the step at which it goes wrong", low=0)
    step_sleep: float = knob(0.0, "seconds each step sleeps (slow runs for signal tests)", low=0)
    steps: int = knob(200, "training steps", low=1)
    eval_every: int = knob(20, "evaluate every this many steps", low=1)


SPEC = FamilySpec(
    name="faulty",
    title="Faulty (tests only)",
    claim="fails on purpose",
    paper_ref="-",
    config_cls=FaultyConfig,
    trainer="tests.faulty_trainer:FaultyTrainer",
    metrics=(MetricSpec("train_loss", "train loss", "loss"), MetricSpec("test_acc", "test accuracy", "accuracy")),
    cpu_threads=1,
)
