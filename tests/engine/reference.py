"""Reference computations the tests check the engine's diagnostics against (slow or plain, never used by the engine)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from engine.diagnostics.snr import SNRAccumulator, SNREstimate, per_sample_grads
from engine.diagnostics.variance import Loss, all_inputs, label_derivatives, mlp_gradients, walsh_hadamard


def all_target_gradients(model: nn.Sequential, d: int, loss: Loss) -> torch.Tensor:
    """grad F_h for every parity h at once, (2^d, P), by a transform of the dense per-input gradients.

    Memory 2^d * P: meant for small d (tests, pictures); the variance itself needs none of it.
    """
    device = next(model.parameters()).device
    grads = mlp_gradients(model, all_inputs(d, device))
    alpha, beta = label_derivatives(loss, grads.scores)
    g = grads.dense()
    size = 1 << d
    shared = (alpha[:, None] * g).mean(0)
    return shared + walsh_hadamard(beta[:, None] * g) / size


def estimate_snr(grads: torch.Tensor) -> SNREstimate:
    """The SNR of a (T, P) block of per-sample gradients."""
    acc = SNRAccumulator()
    acc.add(grads)
    return acc.estimate()


def gradient_snr(
    loss: Callable[..., torch.Tensor],
    params: dict[str, torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    chunk: int = 1024,
) -> SNREstimate:
    """The SNR of loss's per-sample gradient with respect to `params`, over all samples in `inputs`,
    computed `chunk` samples at a time."""
    acc = SNRAccumulator()
    total = inputs[0].shape[0]
    for start in range(0, total, chunk):
        acc.add(per_sample_grads(loss, params, *(x[start : start + chunk] for x in inputs)))
    return acc.estimate()


def sampled_parity_variance_by_loop(model: nn.Sequential, d: int, loss: Loss, parities: torch.Tensor) -> float:
    """The sample variance (K - 1 denominator) of grad F_h over the parities h_v listed in `parities`,
    one autograd backward pass per target over all 2^d inputs, in float64."""
    model = copy.deepcopy(model).double()
    x = all_inputs(d, dtype=torch.float64)
    rows = []
    for v in parities.tolist():
        mask = torch.tensor([(v >> i) & 1 for i in range(d)], dtype=torch.bool)
        model.zero_grad()
        loss(model(x)[:, 0], x[:, mask].prod(1)).backward()
        rows.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    g = torch.stack(rows)
    return (g - g.mean(0)).square().sum(1).sum().item() / (len(rows) - 1)
