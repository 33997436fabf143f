"""Measurement: the target variance of parities against d, beside Theorem 1's bound (Sec. 2.2, Theorem 1).

Not training: each step takes one d of the sweep d_min .. d_max, builds the parity network at its
initialisation (Linear(d, width_mult * d) + ReLU, Linear(., 1), the original init) and measures,
exactly over all 2^d parities and all 2^d inputs, the variance across targets of the full
gradient, Var(H, F, w), and the bound G(w)^2 / 2^d (engine/diagnostics/variance.py says how). For
d <= sampled_d_max it also estimates the variance a second, independent way: autograd's gradient
for `sampled_targets` parities drawn at random, their sample variance and its standard error
(`target_var_sampled`; `sampled_z` is its distance from the exact value in standard errors, and
`sampled_over_bound_z` its distance above the bound, with G^2 from autograd too). On a
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
    sampled_targets: int = knob(
        512,
        "also estimate the variance independently, by autograd over this many parities drawn at random "
        "(0: off); for d <= sampled_d_max",
        low=0,
        high=100_000,
    )
    sampled_d_max: int = knob(
        8,
        "the largest d of the sampled estimate: beyond about 2^d > K the draws miss the few low-order "
        "parities that carry the variance, and its standard error no longer says so",
        low=1,
        high=MAX_D,
    )
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
        MetricSpec(
            "target_var_sampled",
            "target variance sampled by autograd over random parities (d <= sampled_d_max)",
            "variance",
            log_scale=True,
        ),
        MetricSpec("sampled_z", "|sampled - exact| / the sampled estimate's standard error", "agreement"),
        MetricSpec(
            "sampled_over_bound_z",
            "(sampled - bound) / the sampled estimate's standard error: > 0 is above the bound",
            "agreement",
        ),
    ),
    cpu_threads=1,
    headline=("d", "target_var", "target_var_bound"),
    order=18,
)
