"""Measurement: how the condition number of the fully connected PWL problem grows with n (Sec. 4.1.1, Theorem 3).

Not a training run: each step measures cond(W W^T) = cond(W)^2 for one n, where W[i, j] =
max(0, j - i + 1) builds a PWL curve from its kinks (f = p W). It is the condition number of the
least-squares problem the `linear` learner of family `pwl` solves, and so (App. A.5) of the number
of gradient steps it needs. Theorem 3 proves Omega(n^3.5); the measured growth is close to n^4
(1.35e8 at n = 100). The run fits log cond = log a + b log n over the points measured so far and
streams the exponent b, with the points and the fit on log-log axes (plotted as log10 values, so
any line plot shows them straight).

Step s measures n = n_min + (s - 1) * n_step, so `steps` is the number of points (default: n = 25,
50, ..., 200). The measurement is float64 (see engine/diagnostics/conditioning.py for why).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

THEOREM_EXPONENT = 3.5  # Theorem 3's lower bound on the growth of cond(W W^T)


@dataclass(frozen=True)
class PWLConditionConfig(BaseConfig):
    n_min: int = knob(25, "the first n measured", low=2, high=5000)
    n_step: int = knob(25, "n grows by this much per step", low=1, high=5000)
    steps: int = knob(8, "points measured: n = n_min, n_min + n_step, ... (one per step)", low=2, high=200)
    eval_every: int = knob(1, "report every this many points", low=1)

    def problems(self) -> list[str]:
        n_max = self.n_min + (self.steps - 1) * self.n_step
        if n_max > 5000:
            return [
                f"steps: the last n would be {n_max}; keep n_min + (steps - 1) * n_step <= 5000 "
                "(an SVD of an n x n matrix per point)"
            ]
        return []


SPEC = FamilySpec(
    name="pwl_condition",
    title="PWL conditioning vs n (measurement)",
    claim="the condition number of the fully connected PWL problem, cond(W W^T), grows at least like "
    "n^3.5 (about n^4 measured), so gradient descent needs that many steps",
    paper_ref="Sec. 4.1.1, Theorem 3, App. A.4",
    config_cls=PWLConditionConfig,
    trainer="engine.families.pwl_condition.trainer:PWLConditionTrainer",
    metrics=(
        MetricSpec("cond", "cond(W W^T) at this n", "conditioning", log_scale=True),
        MetricSpec("cond_w", "cond(W) at this n", "conditioning", log_scale=True),
        MetricSpec("n", "n", "n"),
        MetricSpec("exponent", "fitted exponent b (cond ~ n^b)", "exponent"),
    ),
    cpu_threads=1,
    headline=("n", "cond", "exponent"),
    order=35,
)
