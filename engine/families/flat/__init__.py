"""Family 4: flat activations (Sec. 5, Fig. 7 of the paper's extended version).

The target is a step function of a linear map: r = <w*, x> + b* with x ~ N(0, I_100) / 100,
w* ~ N(0, I), b* ~ N(0, 1), and y = u(r), where u rounds r down to the nearest of 52 known levels
Z = b* + {-100, -95, ..., 95} U {-5, ..., 5, -0.2, 0.1, 0.15, 0.175}. u is flat almost everywhere,
so the gradient through it is zero. Four ways to learn it (`learner`):

- sigmoid (Sec. 5.2): p = <v, x> + b through a sum of sigmoids that smooths each step; the
  objective is continuous but as flat as u between steps: slow, and stuck if p starts on a wide step;
- e2e (Sec. 5.3): an MLP 100-100-100-100-1 regressing y with the squared loss: blurs the jumps;
- multiclass (Sec. 5.4): an MLP 100-100-100-52 classifying the step: blurry class boundaries;
- forward (Sec. 5.5): p = <v, x> + b through u itself, with u's backward pass replaced by the
  identity (the "forward-only" update of Kakade et al.): best accuracy, fastest.

All use Adam with betas (0.9, 0.99) and eps 1e-5, batch 256, fresh samples every step. The
target (w*, b*) and the training data depend only on the seed, so the four learners with one seed
face the same problem on the same samples.

Per-learner settings. The original scripts gave each learner its own learning rate and length
(ORIGINAL_SCHEDULES below). The config's defaults are those of the forward learner (the paper's
answer); each of the presets flat-sigmoid, flat-e2e, flat-multiclass and flat-forward sets its
learner with its original lr and steps, so a preset reproduces the original and every value stays
visible and editable (`--set lr=...`), with no hidden per-learner override. A test keeps the
presets equal to this table.

    gradfail run --preset flat-forward

Torch-free half (config and description); the learners are in `trainer.py`.
"""

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

LEARNERS = ("sigmoid", "e2e", "multiclass", "forward")

# learner -> (lr, steps) of the original scripts (and of the flat-<learner> presets).
ORIGINAL_SCHEDULES = {
    "sigmoid": (0.01, 10_000),
    "e2e": (1e-3, 10_000),
    "multiclass": (1e-3, 10_000),
    "forward": (1e-3, 5_000),
}


def step_offsets() -> list[float]:
    """The levels of u relative to b*: sorted distinct {-100, -95, ..., 95} U the fine steps near 0."""
    coarse = [float(z) for z in range(-100, 100, 5)]
    fine = [-5, -4, -3, -2, -1, -0.2, 0, 0.1, 0.15, 0.175, 1, 2, 3, 4, 5]
    return sorted(set(coarse) | {float(z) for z in fine})


@dataclass(frozen=True)
class FlatConfig(BaseConfig):
    learner: str = knob(
        "forward",
        "how u is learned: sigmoid (non-flat approximation), e2e (MLP regression), "
        "multiclass (MLP over the steps), forward (forward-only: identity backward through u)",
        choices=LEARNERS,
    )
    d: int = knob(100, "input dimension", low=1, high=100_000)
    x_std: float = knob(
        0.01, "x ~ N(0, x_std^2 I) (the original divides a standard normal by 100)", low=0, low_open=True
    )
    width: int = knob(100, "hidden width of the e2e and multiclass MLPs", low=1, high=100_000)
    sharpness: float = knob(
        5.0,
        "sigmoid learner: each step is sigmoid(sharpness * (p - m) / (dz / 10)); "
        "larger is closer to u and flatter between steps",
        low=0,
        low_open=True,
    )
    lr: float = knob(
        1e-3, "Adam learning rate (originals: sigmoid 0.01, the others 1e-3; see the presets)", low=0, low_open=True
    )
    beta1: float = knob(0.9, "Adam beta1", low=0, high=1)
    beta2: float = knob(0.99, "Adam beta2", low=0, high=1)
    eps: float = knob(1e-5, "Adam epsilon", low=0, low_open=True)
    batch: int = knob(256, "fresh samples per step", low=1, high=1_000_000)
    eval_samples: int = knob(2000, "fresh samples per evaluation (and for the staircase plot)", low=2, high=1_000_000)
    flat_tol: float = knob(
        1e-4, "an activation derivative below this counts as zero in `flatness`", low=0, low_open=True
    )
    zoom: float = knob(2.0, "the staircase plot shows r within mean(r) +- zoom * std(r)", low=0, low_open=True)
    plot_points: int = knob(200, "points per curve in the staircase plot, at most", low=10, high=10_000)
    steps: int = knob(
        5_000, "training steps (originals: forward 5,000, the others 10,000; see the presets)", low=1, high=10**9
    )
    eval_every: int = knob(100, "evaluate every this many steps", low=1)

    def problems(self) -> list[str]:
        return [
            f"{name}: got {value:g}, expected a number >= 0 and < 1 (Adam's averages must forget)"
            for name, value in (("beta1", self.beta1), ("beta2", self.beta2))
            if value >= 1
        ]


SPEC = FamilySpec(
    name="flat",
    title="Flat activations",
    claim="a piecewise-flat activation passes no gradient; the forward-only update learns it anyway",
    paper_ref="Sec. 5, Fig. 7 (extended version)",
    config_cls=FlatConfig,
    trainer="engine.families.flat.trainer:FlatTrainer",
    metrics=(
        MetricSpec("step_acc", "samples on the right step", "accuracy"),
        MetricSpec("sq_error", "squared error vs the labels (test)", "error", log_scale=True),
        MetricSpec("train_loss", "train loss (squared error; cross-entropy for multiclass)", "loss", log_scale=True),
        MetricSpec("flatness", "share of activations passing zero gradient", "flatness"),
        MetricSpec("params", "the learner's trainable parameters (its test-time cost)", "parameters", log_scale=True),
    ),
    cpu_threads=1,
    headline=("sq_error", "step_acc"),
    order=40,
    live=("lr", "beta1", "beta2", "eps", "batch"),
)
