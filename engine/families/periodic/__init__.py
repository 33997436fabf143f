"""Family 1b: linear-periodic targets (Sec. 2.2, Theorem 2; the paper has no experiment for it).

The target is x -> psi(<v*, x>) with psi periodic (cos by default), ||v*|| = r and x ~ N(0, I_d); an
MLP (by default the parity family's, Linear(d, 10 d) + ReLU, Linear(10 d, 1)) learns it with the
squared loss on fresh samples. Theorem 2 (Shamir 2016): the variance across the directions v* of
the full gradient is O(exp(-Omega(d)) + exp(-Omega(r))), so for moderate d and r the gradient is
the same vector whatever v* is, and gradient descent cannot find it. At small r the target is a
slow wave the network fits at once (periodic-easy); at large r it is a fast one, the measured
variance is below what even 20,000 samples of x can resolve, and the network stays at predicting
the target's mean (periodic-hard).

What is streamed: the test squared error and the explained variance R^2 = 1 - MSE / Var(y); the
target variance across random directions of norm r at the current weights (engine/diagnostics/
variance.py, `periodic_target_variance`) every `variance_every` steps, with its resolution (two
standard errors; an estimate below it is shown in the table, not plotted), and the variance over
G^2 = E_x ||d p / dw||^2 (`target_var_rel`, or `target_var_rel_upper`, an upper bound, when the
estimate is below its resolution), which compares across r and d;
and the prediction against t = <v*, x> over the target psi(t).

    gradfail run --preset periodic-easy
    gradfail run --preset periodic-hard

Torch-free half (config and description); the trainer is in `trainer.py`.
"""

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

PSI = ("cos", "sin", "triangle", "sawtooth", "square")  # each of period 2 pi, values in [-1, 1]


@dataclass(frozen=True)
class PeriodicConfig(BaseConfig):
    d: int = knob(10, "input dimension: x ~ N(0, I_d)", low=1, high=4096)
    r: float = knob(1.0, "norm of the hidden direction v* (the frequency of the target along it)", low=0, low_open=True)
    psi: str = knob("cos", "the periodic function (period 2 pi)", choices=PSI)
    width_mult: int = knob(10, "hidden width = width_mult * d", low=1, high=10_000)
    depth: int = knob(1, "number of hidden ReLU layers", low=1, high=32)
    optimizer: str = knob("adam", "optimizer", choices=("sgd", "adam"))
    lr: float = knob(1e-3, "learning rate", low=0, low_open=True)
    batch: int = knob(128, "fresh samples per step", low=1, high=1_000_000)
    eval_samples: int = knob(2000, "fresh samples per evaluation (and for the plot)", low=2, high=10_000_000)
    variance_every: int = knob(
        5000, "measure the target variance at the evaluations whose step is a multiple of this (0 = off)", low=0
    )
    variance_directions: int = knob(200, "random directions v of norm r in the variance estimate", low=2, high=100_000)
    variance_samples: int = knob(20_000, "fixed sample of x the variance is measured on", low=2, high=10_000_000)
    plot_points: int = knob(200, "points in the prediction plot, at most", low=10, high=10_000)
    steps: int = knob(10_000, "training steps", low=1, high=10**9)
    eval_every: int = knob(200, "evaluate every this many steps", low=1)


SPEC = FamilySpec(
    name="periodic",
    title="Linear-periodic targets",
    claim="for psi(<v, x>) with ||v|| = r the gradient hardly depends on v: large r cannot be learned",
    paper_ref="Sec. 2.2, Theorem 2",
    config_cls=PeriodicConfig,
    trainer="engine.families.periodic.trainer:PeriodicTrainer",
    metrics=(
        MetricSpec("r2", "explained variance R^2 (test)", "accuracy"),
        MetricSpec("test_mse", "test squared error", "loss", log_scale=True),
        MetricSpec("train_loss", "train squared error", "loss", log_scale=True),
        MetricSpec(
            "target_var", "target variance across directions of norm r (when resolved)", "variance", log_scale=True
        ),
        MetricSpec("target_var_resolution", "its resolution (2 standard errors)", "variance", log_scale=True),
        MetricSpec(
            "target_var_rel",
            "target variance / G^2: the share of the gradient's squared size that depends on v (when resolved)",
            "relative variance",
            log_scale=True,
        ),
        MetricSpec(
            "target_var_rel_upper",
            "target variance / G^2: below resolution, upper bound",
            "relative variance",
            log_scale=True,
        ),
    ),
    cpu_threads=1,
    headline=("train_loss", "r2"),
    order=15,
    live=("lr", "batch"),
)
