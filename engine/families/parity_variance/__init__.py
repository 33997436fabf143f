"""Measurement: the target variance of parities against d, beside Theorem 1's bound (Sec. 2.2, Theorem 1).

Not training: each step takes one d of the sweep d_min .. d_max, builds the parity network at its
initialisation (Linear(d, width_mult * d) + ReLU, Linear(., 1), the original init) and measures,
exactly over all 2^d parities and all 2^d inputs, the variance across targets of the full
gradient, Var(H, F, w), and the bound G(w)^2 / 2^d (engine/diagnostics/variance.py says how). On a
log2 scale both fall by about one per added coordinate; the run streams them and the fitted log2
slopes, a "lines" snapshot of log2 variance against d and a table that also shows which parity
orders carry the variance (the parities of one or two coordinates, a handful of the 2^d).

    gradfail run --preset parity-variance

Torch-free half (config and description); the measurement is in `trainer.py`.
"""

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

# 2^d inputs times the hidden width, in float64: d = 18 is ~1.5 GB for the default width.
MAX_D = 18


@dataclass(frozen=True)
class ParityVarianceConfig(BaseConfig):
    d_min: int = knob(2, "smallest input dimension of the sweep", low=1, high=MAX_D)
    d_max: int = knob(
        16, f"largest input dimension (2^d inputs and targets are enumerated; <= {MAX_D})", low=1, high=MAX_D
    )
    width_mult: int = knob(10, "hidden width = width_mult * d, as in the parity family", low=1, high=1000)
    depth: int = knob(1, "number of hidden ReLU layers", low=1, high=8)
    loss: str = knob(
        "hinge",
        "the loss whose gradient is measured: the parity family's hinge or the square loss (y - p)^2 / 2",
        choices=("hinge", "square"),
    )
    inits: int = knob(3, "random initialisations measured (and averaged) at each d", low=1, high=1000)
    by_order: bool = knob(True, "also split the variance by the order of the parity (a table column)")
    fit_from: int = knob(6, "fit the log2 slopes over d >= fit_from (small d are off the asymptote)", low=1, high=MAX_D)
    steps: int = knob(15, "one step per d: must equal d_max - d_min + 1", low=1, high=MAX_D)
    eval_every: int = knob(1, "report every this many steps (1: after every d)", low=1)

    def problems(self) -> list[str]:
        problems = []
        if self.d_max < self.d_min:
            problems.append(f"d_max: got {self.d_max}, expected >= d_min (= {self.d_min})")
        elif self.steps != self.d_max - self.d_min + 1:
            problems.append(
                f"steps: got {self.steps}, expected d_max - d_min + 1 = {self.d_max - self.d_min + 1} "
                f"(the sweep takes one step per d; set steps={self.d_max - self.d_min + 1})"
            )
        return problems


SPEC = FamilySpec(
    name="parity_variance",
    title="Parity target variance vs d (measurement)",
    claim="the gradient's variance across the 2^d parities falls like 2^-d, under Theorem 1's bound G^2/2^d",
    paper_ref="Sec. 2.2, Theorem 1",
    config_cls=ParityVarianceConfig,
    trainer="engine.families.parity_variance.trainer:ParityVarianceTrainer",
    metrics=(
        MetricSpec("target_var", "target variance (exact, all 2^d parities)", "variance", log_scale=True),
        MetricSpec("target_var_bound", "Theorem 1 bound G^2 / 2^d", "variance", log_scale=True),
        MetricSpec("var_ratio", "variance / bound", "ratio"),
        MetricSpec("var_slope", "fitted log2 slope of the variance per d", "slope"),
        MetricSpec("bound_slope", "fitted log2 slope of the bound per d", "slope"),
        MetricSpec("d", "d measured", "d"),
    ),
    cpu_threads=1,
    headline=("d", "target_var", "target_var_bound"),
    order=18,
)
