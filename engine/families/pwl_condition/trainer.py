"""PWL conditioning vs n: the torch side. See the package docstring (Sec. 4.1.1, Theorem 3)."""

from __future__ import annotations

import math

import torch

from engine.diagnostics import conditioning
from engine.families.pwl.data import kink_matrix
from engine.families.pwl_condition import THEOREM_EXPONENT, PWLConditionConfig
from engine.trainer import SnapshotData, Trainer


class PWLConditionTrainer(Trainer):
    measures = True  # a measurement, not training: a non-finite result ends the run `diverged`

    def __init__(self, config: PWLConditionConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        self.ns: list[int] = []
        self.cond_w: list[float] = []

    def n_at(self, step: int) -> int:
        return self.config.n_min + (step - 1) * self.config.n_step

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        # One measurement per step, on the CPU in float64 (an SVD; nothing to gain from a GPU here).
        # Nothing to average between steps, so no step scalars: evaluate() reports each point.
        n = self.n_at(step)
        self.ns.append(n)
        self.cond_w.append(conditioning.condition_number(kink_matrix(n)))
        return {}

    @property
    def conds(self) -> list[float]:
        return [c * c for c in self.cond_w]  # cond(W W^T) = cond(W)^2

    def fit(self) -> tuple[float, float] | None:
        # A non-finite point ends the run `diverged` (the loop checks what evaluate reports); a fit
        # through it would not even be computed (lstsq fails on NaN), so there is none.
        if len(self.ns) < 2 or not all(math.isfinite(c) for c in self.conds):
            return None
        return conditioning.fit_power_law(self.ns, self.conds)

    def evaluate(self, step: int) -> dict[str, float]:
        if not self.ns:
            return {}
        values = {"n": float(self.ns[-1]), "cond": self.conds[-1], "cond_w": self.cond_w[-1]}
        fit = self.fit()
        if fit is not None:
            values["exponent"] = fit[0]
        return values

    def snapshots(self, step: int) -> list[SnapshotData]:
        if not self.ns:
            return []
        log_n = [math.log10(n) for n in self.ns]
        series = [{"label": "cond(W W^T), measured", "x": log_n, "y": [math.log10(c) for c in self.conds]}]
        fit = self.fit()
        rows = [[n, f"{cw:.4g}", f"{cw * cw:.4g}"] for n, cw in zip(self.ns, self.cond_w)]
        title = "cond(W W^T) vs n, log-log"
        if fit is not None:
            b, a = fit
            series.append({"label": f"fit: {a:.3g} n^{b:.3f}", "x": log_n, "y": [math.log10(a) + b * x for x in log_n]})
            # Theorem 3's slope, through the first point, for comparison.
            y0 = math.log10(self.conds[0])
            series.append(
                {
                    "label": f"slope {THEOREM_EXPONENT} (Theorem 3's bound)",
                    "x": log_n,
                    "y": [y0 + THEOREM_EXPONENT * (x - log_n[0]) for x in log_n],
                }
            )
            title += f": exponent {b:.3f}"
        return [
            SnapshotData(
                "cond_vs_n",
                "lines",
                {"title": title, "x_label": "log10 n", "y_label": "log10 cond(W W^T)", "series": series},
            ),
            SnapshotData(
                "cond_table",
                "table",
                {"title": "condition numbers per n", "columns": ["n", "cond(W)", "cond(W W^T)"], "rows": rows},
            ),
        ]
