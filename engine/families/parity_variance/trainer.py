"""Parity target variance vs d: the torch side. See the package docstring for the measurement."""

from __future__ import annotations

import math

import torch

from engine.diagnostics.variance import parity_target_variance, sampled_parity_variance
from engine.families.parity_variance import ParityVarianceConfig
from engine.nn import hinge_loss, mlp
from engine.seeding import generator
from engine.trainer import SnapshotData, Trainer


def square_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(y - p)^2 / 2, the square loss as Theorem 1 states it."""
    return 0.5 * (scores - labels).square().mean()


LOSSES = {"hinge": hinge_loss, "square": square_loss}


def log2_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log2(y) against x."""
    logs = [math.log2(y) for y in ys]
    mx, my = sum(xs) / len(xs), sum(logs) / len(logs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, logs)) / sum((x - mx) ** 2 for x in xs)


class ParityVarianceTrainer(Trainer):
    measures = True  # a measurement, not training: a non-finite result ends the run `diverged`

    def __init__(self, config: ParityVarianceConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        self.rows: list[dict] = []  # one per d measured so far

    def measure(self, d: int) -> dict:
        c = self.config
        sizes = [d] + [c.width_mult * d] * c.depth + [1]
        results, sampled = [], []
        draw = c.sampled_targets >= 2 and d <= c.sampled_d_max
        for i in range(c.inits):
            model = mlp(sizes, generator(self.seed, f"init:d={d}:{i}")).to(self.device)
            results.append(parity_target_variance(model, d, LOSSES[c.loss], by_order=c.by_order))
            if draw:
                targets = generator(self.seed, f"targets:d={d}:{i}")
                sampled.append(sampled_parity_variance(model, d, LOSSES[c.loss], c.sampled_targets, targets))
        mean = lambda values: sum(values) / len(values)  # noqa: E731
        row = {"d": d, "variance": mean([r.variance for r in results]), "bound": mean([r.bound for r in results])}
        if sampled:  # the mean over the inits, and its standard error
            row["sampled"] = mean([r.variance for r in sampled])
            row["sampled_se"] = math.sqrt(sum(r.stderr**2 for r in sampled)) / len(sampled)
            row["sampled_bound"] = mean([r.bound for r in sampled])
        if c.by_order:
            energy = [mean(orders) for orders in zip(*(r.order_energy for r in results))]
            total = sum(energy)
            # Orders 0 (the constant), 1 and 2 together: d^2/2 of the 2^d targets.
            row["low_order_share"] = sum(energy[:3]) / total if total > 0 else float("nan")
        return row

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        self.rows.append(self.measure(self.config.d_min + step - 1))
        return {}

    def fit(self) -> tuple[float, float] | None:
        points = [r for r in self.rows if r["d"] >= self.config.fit_from and r["variance"] > 0]
        if len(points) < 2:
            return None
        ds = [r["d"] for r in points]
        return log2_slope(ds, [r["variance"] for r in points]), log2_slope(ds, [r["bound"] for r in points])

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        if not self.rows:
            return {}
        last = self.rows[-1]
        values = {
            "d": float(last["d"]),
            "target_var": last["variance"],
            "target_var_bound": last["bound"],
            "var_ratio": last["variance"] / last["bound"],
        }
        if "sampled" in last:
            values["target_var_sampled"] = last["sampled"]
            se = last["sampled_se"]
            if se > 0:  # zero only if every draw was the same parity: no error to measure against
                values["sampled_z"] = abs(last["sampled"] - last["variance"]) / se
                values["sampled_over_bound_z"] = (last["sampled"] - last["sampled_bound"]) / se
        slopes = self.fit()
        if slopes:
            values["var_slope"], values["bound_slope"] = slopes
        return values

    def snapshots(self, step: int) -> list[SnapshotData]:
        if not self.rows:
            return []
        ds = [r["d"] for r in self.rows]
        positive = [r for r in self.rows if r["variance"] > 0]
        series = [
            {
                "label": "log2 variance (exact)",
                "x": [r["d"] for r in positive],
                "y": [math.log2(r["variance"]) for r in positive],
            },
            {"label": "log2 bound G^2/2^d", "x": ds, "y": [math.log2(r["bound"]) for r in self.rows]},
        ]
        sampled = [r for r in self.rows if r.get("sampled", 0) > 0]
        if sampled:
            series.append(
                {
                    "label": f"log2 variance (autograd, {self.config.sampled_targets} random parities)",
                    "x": [r["d"] for r in sampled],
                    "y": [math.log2(r["sampled"]) for r in sampled],
                }
            )
        slopes = self.fit()
        title = "target variance across parities vs d (log2)"
        if slopes:
            title += f"; fit over d >= {self.config.fit_from}: variance {slopes[0]:+.3f}/d, bound {slopes[1]:+.3f}/d"
        columns = ["d", "targets 2^d", "variance", "bound G^2/2^d", "variance / bound"]
        if self.config.by_order:
            columns += ["targets of order <= 2", "their share of the variance"]
        columns.append("sampled (autograd) +- se")
        rows = []
        for r in self.rows:
            row = [
                r["d"],
                2 ** r["d"],
                f"{r['variance']:.4g}",
                f"{r['bound']:.4g}",
                f"{r['variance'] / r['bound']:.3f}",
            ]
            if self.config.by_order:
                row += [1 + r["d"] + r["d"] * (r["d"] - 1) // 2, f"{r['low_order_share']:.3f}"]
            row.append(f"{r['sampled']:.4g} +- {r['sampled_se']:.2g}" if "sampled" in r else "")
            rows.append(row)
        return [
            SnapshotData(
                "variance_vs_d", "lines", {"title": title, "x_label": "d", "y_label": "log2", "series": series}
            ),
            SnapshotData("variance_table", "table", {"title": title, "columns": columns, "rows": rows}),
        ]
