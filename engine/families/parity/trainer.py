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

BLOCK_BYTES = 1 << 20  # inputs drawn per refill of the training stream: parity30 64 steps, 16 lanes of it 4 (measured)
_SIGN_BIT = -(1 << 31)  # int32 with only the sign bit set
_FLOAT_ONE_BITS = 0x3F800000  # the bits of float32 1.0; with the sign bit also set, -1.0


def hidden_subset(config: ParityConfig, gen: torch.Generator) -> torch.Tensor:
    """Indices of the coordinates whose product is the target."""
    if config.subset == "fixed":
        return torch.randperm(config.d, generator=gen)[: config.subset_size].sort().values
    # The original: the positive entries of a standard normal vector (about d/2 of them).
    # An empty subset would make the target constant, so keep at least one coordinate.
    chosen = torch.nonzero(torch.randn(config.d, generator=gen) > 0).flatten()
    return chosen if chosen.numel() else torch.zeros(1, dtype=torch.long)


class ParityStream:
    """Fresh samples (x uniform on {-1, +1}^d, y the product of x over each lane's subset) for every
    lane, `block` steps of `rows` samples at a time, in buffers allocated once.

    Each x entry is one random bit, made into +-1 by writing it into the sign of a float 1.0, and
    every step draws its own whole 64-bit words from its lane's generator: so a step's samples do not
    depend on how many steps a refill draws, nor on how many lanes are drawn beside it. A batched
    lane therefore sees exactly the data of the single run with its seed, whatever the block size.
    """

    def __init__(self, subset_mask: torch.Tensor, gens: list[torch.Generator], rows: int, block: int):
        lanes, _, d = subset_mask.shape
        device = subset_mask.device
        self.gens, self.block = gens, block
        self.mask_float = subset_mask.transpose(1, 2).float()  # (lanes, d, 1)
        self.subset_sizes = self.mask_float.sum(1, keepdim=True)  # (lanes, 1, 1)
        self.words_per_step = -(-rows * d // 64)
        self.words = torch.empty(lanes, block, self.words_per_step, dtype=torch.int64, device=device)
        self.bits = torch.empty(lanes, block, 2 * self.words_per_step, 32, dtype=torch.int32, device=device)
        self.shifts = torch.arange(31, -1, -1, dtype=torch.int32, device=device)  # bit b -> the sign bit
        # Inputs with a trailing column of ones (the bias input engine.fastmlp takes), and targets laid
        # out as engine.fastmlp's scores are: (lanes, 1, rows) a step.
        self.inputs = torch.ones(lanes, block, rows, d + 1, device=device)
        self.signs = self.inputs[..., :d]
        self.targets = torch.empty(lanes, block, 1, rows, device=device)
        # Each step's inputs, the same transposed (what engine.fastmlp's backward multiplies by), targets.
        self.steps = [(self.inputs[:, t], self.inputs[:, t].transpose(1, 2), self.targets[:, t]) for t in range(block)]
        self.next_step = block

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The next step's inputs (lanes, rows, d + 1), the same transposed, and targets (lanes, 1, rows):
        views, valid until the block is refilled."""
        if self.next_step == self.block:
            self.refill()
            self.next_step = 0
        self.next_step += 1
        return self.steps[self.next_step - 1]

    def refill(self) -> None:
        lanes, block, rows, d = self.signs.shape
        for lane, gen in enumerate(self.gens):
            self.words[lane].random_(-(1 << 63), None, generator=gen)  # all 64 bits random
        words32 = self.words.view(torch.int32).unsqueeze(-1)
        torch.bitwise_left_shift(words32, self.shifts, out=self.bits)
        bits = self.bits.view(lanes, block, -1)[..., : rows * d].view(lanes, block, rows, d)
        sign = bits.bitwise_and_(_SIGN_BIT)
        torch.bitwise_or(sign, _FLOAT_ONE_BITS, out=self.signs.view(torch.int32))
        # y = (-1)^(the number of -1s in the subset), that number being (|S| - sum over S of x) / 2.
        targets = self.targets.view(lanes, block * rows, 1)
        torch.bmm(self.signs.reshape(lanes, block * rows, d), self.mask_float, out=targets)
        torch.remainder(targets.sub_(self.subset_sizes).mul_(0.5), 2, out=targets).mul_(-2).add_(1)


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
        self.net_step, self.net_settle = self.net.stepper(config.batch)
        step_bytes = self.lanes * config.batch * (config.d + 1) * 4
        self.train_data = ParityStream(
            self.subset_mask,
            [generator(s, "data", device) for s in seeds],
            config.batch,
            block=max(1, min(64, BLOCK_BYTES // step_bytes)),
        )
        self.eval_data = ParityStream(
            self.subset_mask, [generator(s, "eval", device) for s in seeds], config.eval_samples, block=1
        )

    @property
    def subset(self) -> torch.Tensor:
        return self.subset_mask[0, 0].nonzero().flatten()

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        x, x_t, y = self.train_data.next()
        return {"train_loss": self.net_step(x, y, x_t)}  # (lanes,), once settled: the loop reads it per lane

    def settle(self) -> None:
        self.net_settle()

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float | list[float]]:
        x, _, y = self.eval_data.next()
        scores = self.net.forward(x)
        # sign(0) counts as wrong, as in the original (tf.sign(0) = 0 != +-1).
        acc = (torch.sign(scores) == y).float().mean((1, 2)).tolist()
        loss = torch.relu(1 - y * scores).mean((1, 2)).tolist()
        if self.lanes > 1:
            return {"test_acc": acc, "test_loss": loss}
        values = {"test_acc": acc[0], "test_loss": loss[0]}
        if self.config.variance_every and step % self.config.variance_every == 0:
            measured = parity_target_variance(self.model, self.config.d, hinge_loss)
            values.update(target_var=measured.variance, target_var_bound=measured.bound)
        return values

    def parameter_count(self) -> int:
        return parameter_count(self.model)

    def change(self, key: str, value) -> None:
        super().change(key, value)
        if key == "lr":  # the step binds its learning rate when it is made: make it again
            self.net.lr = value
            if self.net.adam is not None:
                for group in self.net.adam.param_groups:
                    group["lr"] = value
            self.net_step, self.net_settle = self.net.stepper(self.config.batch)
