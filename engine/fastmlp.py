"""ReLU MLPs trained with a hand-written backward pass, one or many independent copies at once.

For the small MLPs of the parity experiment (d = 30: 9,601 parameters, batch 128) a step is a
handful of tiny matrix products, and autograd's bookkeeping costs more than the arithmetic: on
one CPU thread this step runs about 1.8x faster than loss.backward() + optimizer.step() on the
same nn.Sequential. Every tensor carries a leading "lane" dimension: lane i is an independent
network with its own weights and data (one seed of `gradfail run --seeds N`), and all lanes
advance in the same few batched products. tests/test_fastmlp.py checks the gradients against
autograd's, and the lanes against separate runs.
"""

from __future__ import annotations

import torch
from torch import nn


def hinge_and_grad(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-lane mean(relu(1 - y f)) and its gradient with respect to f (scores, labels: (L, n, 1))."""
    margin = 1 - labels * scores
    loss = margin.clamp_min(0).mean(dim=(1, 2))
    grad = torch.where(margin > 0, labels, 0.0).mul_(-1.0 / scores.shape[1])
    return loss, grad


def squared_and_grad(scores: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-lane mean((f - y)^2) and its gradient with respect to f."""
    diff = scores - targets
    return diff.square().mean(dim=(1, 2)), diff.mul(2.0 / (scores.shape[1] * scores.shape[2]))


LOSSES = {"hinge": hinge_and_grad, "squared": squared_and_grad}


class ManualMLP:
    """L independent copies of one MLP architecture, built by engine.nn.mlp, trained in place.

    With one model (L = 1) the lane tensors are views of the model's own parameters, so the
    nn.Sequential stays the trained network (for parameter counts and anything else that reads it).
    """

    def __init__(self, models: list[nn.Sequential], loss: str, optimizer: str, lr: float):
        layers = [[m for m in model if isinstance(m, nn.Linear)] for model in models]
        if len(models) == 1:
            self.weights = [layer.weight.detach().unsqueeze(0) for layer in layers[0]]
            self.biases = [layer.bias.detach().unsqueeze(0) for layer in layers[0]]
        else:
            self.weights = [torch.stack([lane[i].weight.detach() for lane in layers]) for i in range(len(layers[0]))]
            self.biases = [torch.stack([lane[i].bias.detach() for lane in layers]) for i in range(len(layers[0]))]
        self.params = [t for pair in zip(self.weights, self.biases) for t in pair]
        self.loss_and_grad = LOSSES[loss]
        self.lr = lr
        self.adam = None
        if optimizer == "adam":
            # Adam is elementwise, so one Adam over the stacked lanes is each lane's own Adam; and its
            # update is not the slow part: torch's implementation, fed our gradients.
            self.adam = torch.optim.Adam(self.params, lr=lr, foreach=True)
        elif optimizer != "sgd":
            raise ValueError(f"unknown optimizer {optimizer!r}")

    @property
    def lanes(self) -> int:
        return self.weights[0].shape[0]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (L, n, 1) for inputs (L, n, d)."""
        h = x
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)).relu_()
        return torch.baddbmm(self.biases[-1].unsqueeze(1), h, self.weights[-1].transpose(1, 2))

    @torch.no_grad()
    def step(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One update of every lane on its batch (x: (L, n, d), targets: (L, n)); returns the (L,) losses."""
        inputs, pre_activations = [x], []
        h = x
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            pre = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            pre_activations.append(pre)
            h = pre.relu()
            inputs.append(h)
        scores = torch.baddbmm(self.biases[-1].unsqueeze(1), h, self.weights[-1].transpose(1, 2))
        loss, g = self.loss_and_grad(scores, targets.view_as(scores))

        grads: list[torch.Tensor] = [None] * len(self.params)  # type: ignore[list-item]
        for i in range(len(self.weights) - 1, -1, -1):
            grads[2 * i] = torch.bmm(g.transpose(1, 2), inputs[i])
            grads[2 * i + 1] = g.sum(1)
            if i:
                g = torch.bmm(g, self.weights[i]).mul_(pre_activations[i - 1] > 0)

        if self.adam is None:
            torch._foreach_add_(self.params, grads, alpha=-self.lr)
        else:
            for p, grad in zip(self.params, grads):
                p.grad = grad
            self.adam.step()
        return loss
