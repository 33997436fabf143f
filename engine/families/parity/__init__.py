"""Family 1: learning random parities (Sec. 2, Fig. 1, Theorem 1 of the paper).

x is uniform on {-1, +1}^d and the target is the product of x over a hidden subset of the
coordinates. For different subsets the targets are orthogonal, so the gradient at any w carries
about 2^-d of information about which subset it is (Theorem 1): SGD learns d = 5 and 10 at once
and stays at chance at d = 30 for as long as anyone cares to run it.

This module is the torch-free half (config and description); the trainer is in `trainer.py`.
"""

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

# The target variance (engine/diagnostics/variance.py) enumerates 2^d inputs: ~1 s at d = 16.
VARIANCE_MAX_D = 16


@dataclass(frozen=True)
class ParityConfig(BaseConfig):
    d: int = knob(30, "input dimension: x is uniform on {-1,+1}^d", low=1, high=4096)
    subset: str = knob(
        "random",
        "how the hidden subset is chosen: 'random' takes the coordinates "
        "where a standard normal d-vector is positive (about d/2, the original); "
        "'fixed' takes subset_size of them",
        choices=("random", "fixed"),
    )
    subset_size: int = knob(0, "size of the hidden subset when subset = fixed (1..d)", low=0)
    width_mult: int = knob(10, "hidden width = width_mult * d", low=1, high=10_000)
    depth: int = knob(1, "number of hidden ReLU layers (deeper does not help)", low=1, high=32)
    optimizer: str = knob("sgd", "optimizer", choices=("sgd", "adam"))
    lr: float = knob(0.01, "learning rate", low=0, low_open=True)
    batch: int = knob(128, "fresh samples per SGD step", low=1, high=1_000_000)
    eval_samples: int = knob(500, "fresh samples per evaluation", low=1, high=10_000_000)
    steps: int = knob(50_000, "training steps", low=1, high=10**9)
    eval_every: int = knob(100, "evaluate every this many steps", low=1)
    variance_every: int = knob(
        0,
        "measure the exact target variance over all 2^d parities and Theorem 1's bound "
        "at the evaluations whose step is a multiple of this "
        f"(0 = off; needs d <= {VARIANCE_MAX_D})",
        low=0,
    )

    def problems(self) -> list[str]:
        problems = []
        if self.subset == "fixed" and not 1 <= self.subset_size <= self.d:
            problems.append(f"subset_size: got {self.subset_size}, expected 1..d (= {self.d}) when subset = fixed")
        if self.variance_every and self.d > VARIANCE_MAX_D:
            problems.append(
                f"variance_every: the exact target variance enumerates all 2^d inputs and targets, "
                f"so it needs d <= {VARIANCE_MAX_D} (got d = {self.d}); set variance_every=0"
            )
        return problems


SPEC = FamilySpec(
    name="parity",
    title="Random parities",
    claim="the gradient carries no information about which parity is the target: SGD fails at large d",
    paper_ref="Sec. 2, Fig. 1, Theorem 1",
    config_cls=ParityConfig,
    trainer="engine.families.parity.trainer:ParityTrainer",
    metrics=(
        MetricSpec("test_acc", "test accuracy", "accuracy", chance=0.5),
        MetricSpec("train_loss", "train hinge loss", "loss"),
        MetricSpec("test_loss", "test hinge loss", "loss"),
        MetricSpec("target_var", "target variance (exact, all 2^d parities)", "variance", log_scale=True),
        MetricSpec("target_var_bound", "Theorem 1 bound G^2 / 2^d", "variance", log_scale=True),
    ),
    cpu_threads=1,
    batched_seeds=True,
    order=10,
    live=("lr",),
    headline=("train_loss", "test_acc"),
)
