"""Parity: the torch side. See the package docstring for the experiment.

One trainer serves `--seeds N` too: each seed is a lane of engine.fastmlp.ManualMLP with the
initial weights, hidden subset and data stream a single run with that seed would have.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from engine.diagnostics.variance import parity_target_variance
from engine.families.parity import ParityConfig
from engine.fastmlp import ManualMLP
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
    def __init__(self, config: ParityConfig, device: torch.device, seed: int | Sequence[int]):
        seeds = [seed] if isinstance(seed, int) else list(seed)
        super().__init__(config, device, seeds[0])
        self.lanes = len(seeds)
        sizes = [config.d] + [config.width_mult * config.d] * config.depth + [1]
        models, masks = [], torch.zeros(self.lanes, 1, config.d, dtype=torch.bool)
        for lane, s in enumerate(seeds):
            init = generator(s, "init")
            masks[lane, 0, hidden_subset(config, init)] = True
            models.append(mlp(sizes, init).to(device))
        self.model = models[0]  # with one seed, the trained network itself (ManualMLP trains it in place)
        self.subset_mask = masks.to(device)  # (lanes, 1, d): which coordinates each lane's target multiplies
        self.net = ManualMLP(models, "hinge", config.optimizer, config.lr)
        self.data_gens = [generator(s, "data", device) for s in seeds]
        self.eval_gens = [generator(s, "eval", device) for s in seeds]
        # Preallocated so a step allocates no input buffer of its own.
        self.bits = torch.empty(self.lanes, config.batch, config.d, device=device)

    @property
    def subset(self) -> torch.Tensor:
        return self.subset_mask[0, 0].nonzero().flatten()

    def sample(self, bits: torch.Tensor, gens: list[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
        """Fill `bits` (lanes, n, d) with fresh +-1 inputs, each lane from its own stream; return (x, y)."""
        for lane, gen in enumerate(gens):
            bits[lane].bernoulli_(0.5, generator=gen)
        x = bits.mul_(2).sub_(1)
        return x, torch.where(self.subset_mask, x, 1.0).prod(-1)

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        x, y = self.sample(self.bits, self.data_gens)
        losses = self.net.step(x, y)
        return {"train_loss": losses[0] if self.lanes == 1 else losses}

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float | list[float]]:
        bits = torch.empty(self.lanes, self.config.eval_samples, self.config.d, device=self.device)
        x, y = self.sample(bits, self.eval_gens)
        scores = self.net.forward(x).squeeze(-1)
        # sign(0) counts as wrong, as in the original (tf.sign(0) = 0 != +-1).
        acc = (torch.sign(scores) == y).float().mean(1).tolist()
        loss = torch.relu(1 - y * scores).mean(1).tolist()
        if self.lanes > 1:
            return {"test_acc": acc, "test_loss": loss}
        values = {"test_acc": acc[0], "test_loss": loss[0]}
        if self.config.variance_every and step % self.config.variance_every == 0:
            measured = parity_target_variance(self.model, self.config.d, hinge_loss)
            values.update(target_var=measured.variance, target_var_bound=measured.bound)
        return values

    def parameter_count(self) -> int:
        return parameter_count(self.model)
