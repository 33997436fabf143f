"""Parity: the torch side. See the package docstring for the experiment."""

from __future__ import annotations

import torch

from engine.diagnostics.variance import parity_target_variance
from engine.families.parity import ParityConfig
from engine.fastmlp import ManualMLPStep
from engine.nn import hinge_loss, mlp, parameter_count
from engine.seeding import generator
from engine.trainer import Trainer


def hidden_subset(config: ParityConfig, gen: torch.Generator) -> torch.Tensor:
    """Indices of the coordinates whose product is the target."""
    if config.subset == "fixed":
        return torch.randperm(config.d, generator=gen)[: config.subset_size].sort().values
    # The original: the positive entries of a standard normal vector (about d/2 of them).
    # An empty subset would make the target constant, so keep at least one coordinate.
    chosen = torch.nonzero(torch.randn(config.d, generator=gen) > 0).flatten()
    return chosen if chosen.numel() else torch.zeros(1, dtype=torch.long)


class ParityTrainer(Trainer):
    def __init__(self, config: ParityConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        init = generator(seed, "init")
        self.subset = hidden_subset(config, init).to(device)
        sizes = [config.d] + [config.width_mult * config.d] * config.depth + [1]
        self.model = mlp(sizes, init).to(device)
        self.step_fn = ManualMLPStep(self.model, "hinge", config.optimizer, config.lr)
        self.data_gen = generator(seed, "data", device)
        self.eval_gen = generator(seed, "eval", device)
        # Preallocated so a step allocates no input buffer of its own.
        self.bits = torch.empty(config.batch, config.d, device=device)

    def sample(self, bits: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x = bits.bernoulli_(0.5, generator=gen).mul_(2).sub_(1)
        return x, x.index_select(1, self.subset).prod(1)

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        x, y = self.sample(self.bits, self.data_gen)
        return {"train_loss": self.step_fn(x, y)}

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        bits = torch.empty(self.config.eval_samples, self.config.d, device=self.device)
        x, y = self.sample(bits, self.eval_gen)
        scores = self.model(x).squeeze(1)
        # sign(0) counts as wrong, as in the original (tf.sign(0) = 0 != +-1).
        values = {"test_acc": (torch.sign(scores) == y).float().mean().item(),
                  "test_loss": hinge_loss(scores, y).item()}
        if self.config.variance_every and step % self.config.variance_every == 0:
            measured = parity_target_variance(self.model, self.config.d, hinge_loss)
            values.update(target_var=measured.variance, target_var_bound=measured.bound)
        return values

    def parameter_count(self) -> int:
        return parameter_count(self.model)
