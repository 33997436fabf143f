"""Flat activations: the torch side. See the package docstring for the experiment."""

from __future__ import annotations

import torch
from torch import nn

from engine.families.flat import FlatConfig, step_offsets
from engine.nn import init_linear_, make_optimizer, mlp, parameter_count
from engine.seeding import generator
from engine.trainer import SnapshotData, Trainer, descend


class Staircase:
    """u and its non-flat approximation, over the sorted levels Z."""

    def __init__(self, levels: torch.Tensor, sharpness: float):
        self.levels = levels
        gaps = levels[1:] - levels[:-1]
        self.gaps = gaps
        # The original: step i is sigmoid(c (p - m_i) / (dZ_i / 10)) with m_i = Z_(i+1) - dZ_i / 20,
        # so its transition sits just before the jump and is 1/(10 c) of the gap wide.
        self.centres = levels[1:] - gaps / 20
        self.slopes = sharpness * 10 / gaps

    def index(self, r: torch.Tensor) -> torch.Tensor:
        """Index of u(r): the largest level <= r (the lowest level below Z_0)."""
        return (torch.searchsorted(self.levels, r.contiguous(), right=True) - 1).clamp_min(0)

    def u(self, r: torch.Tensor) -> torch.Tensor:
        return self.levels[self.index(r)]

    def nearest(self, values: torch.Tensor) -> torch.Tensor:
        """Index of the level nearest each value: the step a real-valued prediction is on."""
        above = torch.searchsorted(self.levels, values.contiguous()).clamp(1, len(self.levels) - 1)
        below = above - 1
        closer_below = (values - self.levels[below]).abs() <= (self.levels[above] - values).abs()
        return torch.where(closer_below, below, above)

    def smooth(self, p: torch.Tensor) -> torch.Tensor:
        """u~(p) = Z_0 + sum_i dZ_i sigmoid(slope_i (p - m_i)): Sec. 5.2's non-flat approximation."""
        return self.levels[0] + (self.gaps * torch.sigmoid(self.slopes * (p[:, None] - self.centres))).sum(1)

    def smooth_derivative(self, p: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.slopes * (p[:, None] - self.centres))
        return (self.gaps * self.slopes * s * (1 - s)).sum(1)


class Learner:
    """One of Sec. 5's four ways to learn y = u(r); a FlatTrainer holds one."""

    def __init__(self, config: FlatConfig, stairs: Staircase, init: torch.Generator):
        self.config, self.stairs = config, stairs
        self.model = self.build(init)

    def build(self, init: torch.Generator) -> nn.Module:
        raise NotImplementedError

    def loss(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Training loss on a batch; `label` is the index of u(r) among the levels."""
        return (self.predict(x) - self.stairs.levels[label]).square().mean()

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def flatness(self, x: torch.Tensor) -> float:
        """Share of the batch's activations whose derivative is (numerically) zero."""
        raise NotImplementedError

    def reference_curves(self, r: torch.Tensor) -> list[dict]:
        """Extra curves for the staircase plot, over the sorted r."""
        return []


class LinearLearner(Learner):
    """p = <v, x> + b through an activation."""

    def build(self, init):
        return init_linear_(nn.Linear(self.config.d, 1), init)

    def pre(self, x):
        return self.model(x)[:, 0]


class SigmoidLearner(LinearLearner):
    """Sec. 5.2: the non-flat approximation u~ of u, trained with the squared loss."""

    def predict(self, x):
        return self.stairs.smooth(self.pre(x))

    def flatness(self, x):
        return (self.stairs.smooth_derivative(self.pre(x)) < self.config.flat_tol).float().mean().item()

    def reference_curves(self, r):
        # The paper's dashed magenta curve: what the learner would output with p = r exactly.
        return [{"label": "non-flat approximation u~(r)", "x": r.tolist(), "y": self.stairs.smooth(r).tolist()}]


class ForwardLearner(LinearLearner):
    """Sec. 5.5: u in the forward pass, the identity in the backward pass (straight-through)."""

    def predict(self, x):
        p = self.pre(x)
        return p + (self.stairs.u(p) - p).detach()

    def flatness(self, x):
        return 1.0  # u' = 0 wherever it exists: the identity backward is all that moves v and b


class MlpLearner(Learner):
    """An MLP; its activations are ReLUs, flat for negative inputs."""

    def flatness(self, x):
        dead, total = 0, 0
        h = x
        for layer in list(self.model)[:-1]:
            h = layer(h)
            if isinstance(layer, nn.Linear):
                dead += int((h <= 0).sum())
                total += h.numel()
        return dead / total


class EndToEndLearner(MlpLearner):
    """Sec. 5.3: MLP 100-100-100-100-1 regressing y with the squared loss."""

    def build(self, init):
        w = self.config.width
        return mlp([self.config.d, w, w, w, 1], init)

    def predict(self, x):
        return self.model(x)[:, 0]


class MultiClassLearner(MlpLearner):
    """Sec. 5.4: MLP 100-100-100-|Z|, cross-entropy over the step index, predicts Z[argmax]."""

    def build(self, init):
        w = self.config.width
        return mlp([self.config.d, w, w, len(self.stairs.levels)], init)

    def loss(self, x, label):
        return nn.functional.cross_entropy(self.model(x), label)

    def predict(self, x):
        return self.stairs.levels[self.model(x).argmax(1)]


LEARNERS: dict[str, type[Learner]] = {
    "sigmoid": SigmoidLearner,
    "e2e": EndToEndLearner,
    "multiclass": MultiClassLearner,
    "forward": ForwardLearner,
}


class FlatTrainer(Trainer):
    def __init__(self, config: FlatConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        # The target comes from its own stream, so every learner with this seed gets the same one.
        target = generator(seed, "target")
        self.w_star = torch.randn(config.d, generator=target).to(device)
        self.b_star = torch.randn((), generator=target).item()
        levels = torch.tensor(step_offsets(), dtype=torch.float32) + self.b_star
        self.stairs = Staircase(levels.to(device), config.sharpness)
        self.learner = LEARNERS[config.learner](config, self.stairs, generator(seed, "init"))
        self.learner.model.to(device)
        self.optimizer = make_optimizer(
            "adam", self.learner.model.parameters(), config.lr, betas=(config.beta1, config.beta2), eps=config.eps
        )
        self.data_gen = generator(seed, "data", device)
        self.eval_gen = generator(seed, "eval", device)
        self.last_eval: tuple[int, torch.Tensor, torch.Tensor] | None = None  # (step, r, prediction)

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x, r = <w*, x> + b*, and the index of the label u(r) among the levels."""
        x = torch.randn(n, self.config.d, generator=gen, device=self.device).mul_(self.config.x_std)
        r = x @ self.w_star + self.b_star
        return x, r, self.stairs.index(r)

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        x, _, label = self.sample(self.config.batch, self.data_gen)
        loss = self.learner.loss(x, label)
        return {"train_loss": descend(self.optimizer, loss)}

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        x, r, label = self.sample(self.config.eval_samples, self.eval_gen)
        prediction = self.learner.predict(x)
        self.last_eval = (step, r, prediction)
        return {
            "sq_error": (prediction - self.stairs.levels[label]).square().mean().item(),
            "step_acc": (self.stairs.nearest(prediction) == label).float().mean().item(),
            "flatness": self.learner.flatness(x),
            "params": float(self.parameter_count()),  # Sec. 5.3, 5.5: the price at test time
        }

    @torch.no_grad()
    def snapshots(self, step: int) -> list[SnapshotData]:
        """Fig. 7: the prediction against r, sorted, over the label staircase, near the mean of r."""
        if self.last_eval is None or self.last_eval[0] != step:
            self.evaluate(step)
        _, r, prediction = self.last_eval
        centre, spread = r.mean(), r.std()
        keep = ((r - centre).abs() <= self.config.zoom * spread).nonzero().flatten()
        keep = keep[r[keep].argsort()]
        if keep.numel() > self.config.plot_points:
            ranks = torch.linspace(0, keep.numel() - 1, self.config.plot_points, device=keep.device)
            keep = keep[ranks.long()]  # evenly spaced in r's rank, both ends kept
        rs = r[keep]
        xs = rs.tolist()
        series = [
            {"label": "label u(r)", "x": xs, "y": self.stairs.u(rs).tolist()},
            {"label": f"prediction ({self.config.learner})", "x": xs, "y": prediction[keep].tolist()},
        ]
        series += self.learner.reference_curves(rs)
        return [
            SnapshotData(
                "staircase",
                "lines",
                {"title": "prediction vs r near the mean of r", "x_label": "r", "y_label": "output", "series": series},
            )
        ]

    def parameter_count(self) -> int:
        return parameter_count(self.learner.model)
