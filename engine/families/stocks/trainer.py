"""The stocks problem: the torch side. See the package docstring for the experiment."""

from __future__ import annotations

import torch
from torch import nn

from engine.families.stocks import StocksConfig
from engine.nn import init_linear_, make_optimizer
from engine.seeding import generator
from engine.trainer import Trainer, descend


class StocksTrainer(Trainer):
    def __init__(self, config: StocksConfig, device: torch.device, seed: int):
        super().__init__(config, device, seed)
        init = generator(seed, "init")
        self.labels = torch.randint(config.k, (config.d,), generator=init).to(device)  # y(i), hidden
        # Linear(d, k) as the original built it. On a one-hot input e_i it is row i of the (d, k)
        # weight table plus the bias, so the forward pass looks rows up instead of multiplying.
        layer = init_linear_(nn.Linear(config.d, config.k), init)
        self.table = nn.Parameter(layer.weight.detach().T.contiguous().to(device))
        self.bias = nn.Parameter(layer.bias.detach().to(device))
        optimizer = "adam_tf1" if config.adam == "tf1" else "adam"
        self.optimizer = make_optimizer(
            optimizer, [self.table, self.bias], config.lr, betas=(config.beta1, config.beta2), eps=config.eps
        )
        self.data_gen = generator(seed, "data", device)
        self.eval_gen = generator(seed, "eval", device)

    def probs(self, inputs: torch.Tensor) -> torch.Tensor:
        """N_w(e_i) for each input index i: (n, k)."""
        return torch.softmax(nn.functional.embedding(inputs, self.table) + self.bias, dim=1)

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n input indices and their z: uniform +-1, except +1 at the input's own stock."""
        inputs = torch.randint(self.config.d, (n,), generator=gen, device=self.device)
        z = torch.rand(n, self.config.k, generator=gen, device=self.device).lt(0.5).float().mul_(2).sub_(1)
        z.scatter_(1, self.labels[inputs].unsqueeze(1), 1.0)
        return inputs, z

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        inputs, z = self.sample(self.config.batch, self.data_gen)
        p = self.probs(inputs)
        if self.config.approach == "e2e":
            loss = -(z * p).sum(1).mean()
        else:  # decomposition ignores z and pays for the label instead
            loss = -p.gather(1, self.labels[inputs].unsqueeze(1)).mean()
        return {"train_loss": descend(self.optimizer, loss)}

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        inputs, z = self.sample(self.config.eval_samples, self.eval_gen)
        objective = -(z * self.probs(inputs)).sum(1).mean()
        # E[z_j | x] = 0 for every stock but y(x), so the exact objective is -mean_i N_w(e_i)[y(i)].
        every = torch.arange(self.config.d, device=self.device)
        exact = -self.probs(every).gather(1, self.labels.unsqueeze(1)).mean()
        return {"objective": objective.item(), "expected_objective": exact.item()}

    def parameter_count(self) -> int:
        return self.table.numel() + self.bias.numel()
