"""Linear-periodic targets: the torch side. See the package docstring for the experiment."""

from __future__ import annotations

import torch

from engine.diagnostics.variance import (
    PERIODIC_FUNCTIONS,
    SampledVariance,
    periodic_target_variance,
    sphere_directions,
)
from engine.families.periodic import PeriodicConfig
from engine.nn import make_optimizer, mlp, parameter_count
from engine.seeding import generator
from engine.trainer import SnapshotData, Trainer, descend

RESOLUTION_SE = 2  # an estimate within this many standard errors of 0 is not told apart from 0


class PeriodicTrainer(Trainer):
    def __init__(self, config: PeriodicConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        self.psi = PERIODIC_FUNCTIONS[config.psi]
        # The target has a stream of its own: changing the network does not change the problem.
        self.v_star = sphere_directions(1, config.d, config.r, generator(seed, "target"))[0].to(device)
        sizes = [config.d] + [config.width_mult * config.d] * config.depth + [1]
        self.model = mlp(sizes, generator(seed, "init")).to(device)
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.lr)
        self.data_gen = generator(seed, "data", device)
        self.eval_gen = generator(seed, "eval", device)
        self.variance_probe: tuple[torch.Tensor, torch.Tensor] | None = None  # (x, directions), made once
        self.last_eval: tuple | None = None  # (step, t, y, prediction) of the latest evaluation
        self.variance_rows: list[tuple[int, SampledVariance]] = []

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x, t = <v*, x> and y = psi(t)."""
        x = torch.randn(n, self.config.d, generator=gen, device=self.device)
        t = x @ self.v_star
        return x, t, self.psi(t)

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        x, _, y = self.sample(self.config.batch, self.data_gen)
        loss = (self.model(x)[:, 0] - y).square().mean()
        return {"train_loss": descend(self.optimizer, loss)}

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        x, t, y = self.sample(self.config.eval_samples, self.eval_gen)
        prediction = self.model(x)[:, 0]
        self.last_eval = (step, t, y, prediction)
        mse = (prediction - y).square().mean().item()
        values = {"test_mse": mse, "r2": 1 - mse / y.var().item()}
        if self.config.variance_every and step % self.config.variance_every == 0:
            measured = self.measure_variance()
            self.variance_rows.append((step, measured))
            # The estimate is unbiased but can come out <= 0 when the variance is below what the
            # sample resolves; only a resolved value goes on the (log-scale) plot, the resolution
            # always does, and the table shows every estimate as it came out.
            resolution = RESOLUTION_SE * measured.stderr
            values["target_var_resolution"] = resolution
            if measured.variance > resolution:
                values["target_var"] = measured.variance
                values["target_var_rel"] = measured.variance / measured.g2
            else:  # below what the sample resolves: only an upper bound, which proves "at most"
                values["target_var_rel_upper"] = max(resolution, measured.variance + resolution) / measured.g2
        return values

    def measure_variance(self) -> SampledVariance:
        """Var over directions of norm r of the gradient at the current weights (fixed x and directions)."""
        if self.variance_probe is None:
            # One fixed sample of x and one fixed set of directions for the whole run, so the
            # changes over a run come from the weights alone. The unit directions do not depend on
            # r, so runs that differ only in r are measured on the same ones.
            c, gen = self.config, generator(self.seed, "variance", self.device)
            x = torch.randn(c.variance_samples, c.d, generator=gen, device=self.device)
            self.variance_probe = (x, sphere_directions(c.variance_directions, c.d, c.r, gen, self.device))
        return periodic_target_variance(self.model, *self.variance_probe, self.psi)

    @torch.no_grad()
    def snapshots(self, step: int) -> list[SnapshotData]:
        """The prediction against t = <v*, x>, sorted, over the target psi(t)."""
        if self.last_eval is None or self.last_eval[0] != step:
            x, t, y = self.sample(self.config.eval_samples, self.eval_gen)
            self.last_eval = (step, t, y, self.model(x)[:, 0])
        _, t, y, prediction = self.last_eval
        order = t.argsort()
        if order.numel() > self.config.plot_points:
            ranks = torch.linspace(0, order.numel() - 1, self.config.plot_points, device=order.device)
            order = order[ranks.long()]  # evenly spaced in t's rank, both ends kept
        ts = t[order].tolist()
        snaps = [
            SnapshotData(
                "projection",
                "lines",
                {
                    "title": f"prediction vs t = <v*, x> (||v*|| = {self.config.r:g})",
                    "x_label": "t = <v*, x>",
                    "y_label": "output",
                    "series": [
                        {"label": f"target {self.config.psi}(t)", "x": ts, "y": y[order].tolist()},
                        {"label": "prediction", "x": ts, "y": prediction[order].tolist()},
                    ],
                },
            )
        ]
        if self.variance_rows:
            rows = [
                [
                    at,
                    f"{m.variance:.3g}",
                    f"{m.stderr:.2g}",
                    "yes" if m.variance > RESOLUTION_SE * m.stderr else "no (below 2 s.e.)",
                    f"{m.variance / m.g2:.2g}",
                    f"{m.floor:.2g}",
                ]
                for at, m in self.variance_rows
            ]
            m = self.variance_rows[-1][1]
            snaps.append(
                SnapshotData(
                    "target_variance",
                    "table",
                    {
                        "title": f"target variance across {m.directions} directions of norm {self.config.r:g} "
                        f"(on {m.samples:,} fixed x)",
                        "columns": [
                            "step",
                            "estimate",
                            "standard error",
                            "resolved",
                            "estimate / G^2",
                            "sampling floor removed",
                        ],
                        "rows": rows,
                    },
                )
            )
        return snaps

    def parameter_count(self) -> int:
        return parameter_count(self.model)
