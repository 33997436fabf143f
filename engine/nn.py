"""Layer helpers shared by the families (one copy, not one per experiment)."""

from __future__ import annotations

import math

import torch
from torch import nn


def init_linear_(layer: nn.Linear, generator: torch.Generator) -> nn.Linear:
    """The original scripts' init: weights truncated normal (at 2 std) with std 1/sqrt(fan_in), biases 0."""
    std = 1.0 / math.sqrt(layer.in_features)
    with torch.no_grad():
        nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def mlp(sizes: list[int], generator: torch.Generator) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(init_linear_(nn.Linear(fan_in, fan_out), generator))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def make_optimizer(name: str, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> torch.optim.Optimizer:
    """SGD or Adam over `params`; foreach kernels update all tensors in a few calls."""
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, foreach=True)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, foreach=True)
    raise ValueError(f"unknown optimizer {name!r}")


def hinge_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """mean(relu(1 - y f)) with labels in {-1, +1}, the loss of the paper's classifiers."""
    return torch.relu(1 - labels * scores).mean()


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
