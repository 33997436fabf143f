"""The gradient signal-to-noise ratio (Sec. 3.3, Fig. 5 of the paper).

For the per-sample gradient g of a loss with respect to a group of parameters,

    signal = ||E g||^2,   noise = E ||g - E g||^2,   SNR = signal / noise.

SGD can only follow the signal; when the SNR is tiny the gradient is almost pure noise and
training stalls (end-to-end training on tuples of k >= 3 images is the paper's example).

Estimated from T per-sample gradients g_1 .. g_T with mean m:
- noise: the unbiased sample variance, (sum ||g_i||^2 - T ||m||^2) / (T - 1);
- signal: ||m||^2 is biased upward by noise / T (it contains the noise of the mean), so the
  estimate is ||m||^2 - noise / T, which is unbiased and may come out negative;
- resolution: whatever the true SNR, the estimate wobbles by about se = sqrt(2 tr(S^2)) / (T tr(S))
  (S the gradients' covariance: the spread of ||m||^2 around its mean), which is at most
  sqrt(2) / T. The resolution is max(1 / T, 3 se): a zero signal passes it about once in 700
  measurements (2 se let one in 40 through in long runs). An estimate below it is no number at all:
  it is reported as an upper bound, max(resolution, estimate + 2 se), never as a value.
  tr(S^2) is estimated from differences of pairs of gradients, (g_1 - g_2) / sqrt(2), which have
  covariance S and mean zero whatever the signal, so no pass over the data is needed twice.

Everything is accumulated chunk by chunk in float64, so T can be far larger than what fits in
memory at once: `SNRAccumulator.add(chunk)` takes a (n, P) block of per-sample gradients.
`per_sample_grads` computes such blocks with torch.func (vmap of grad), for any function of
named parameters and per-sample inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import grad, vmap


@dataclass(frozen=True)
class SNREstimate:
    signal: float  # bias-corrected ||E g||^2 (may be negative when unresolved)
    noise: float  # E ||g - E g||^2
    snr: float  # signal / noise, bias-corrected
    se: float  # standard error of snr where the signal is small
    resolution: float  # max(1 / T, RESOLUTION_SE * se): smaller values cannot be told from zero
    samples: int  # T

    @property
    def resolved(self) -> bool:
        return self.snr > self.resolution

    @property
    def upper(self) -> float:
        """An upper bound on the SNR (about 97.7% one-sided), for estimates below the resolution."""
        bound = self.snr + 2 * self.se
        # max() drops a NaN (max(r, nan) is r): a broken estimate must not pass for a bound.
        return bound if math.isnan(bound) else max(self.resolution, bound)

    def metrics(self, prefix: str = "snr") -> dict[str, float]:
        """{prefix: value} when resolved, else {prefix_upper: bound}; always {prefix_resolution}."""
        values = {prefix: self.snr} if self.resolved else {f"{prefix}_upper": self.upper}
        values[f"{prefix}_resolution"] = self.resolution
        return values

    def describe(self) -> str:
        return f"{self.snr:.3g}" if self.resolved else f"< {self.upper:.2g}"


RESOLUTION_SE = 3  # standard errors a value must clear to count as resolved
MAX_PAIRS = 512  # difference vectors per chunk for tr(S^2): plenty for a standard error


class SNRAccumulator:
    """Running sums of per-sample gradients, fed in chunks of shape (n, P)."""

    def __init__(self):
        self.count = 0
        self.total: torch.Tensor | None = None  # sum of g, float64
        self.square = 0.0  # sum of ||g||^2
        self.pair_sq = 0.0  # sum over pairs of difference vectors a != b of (d_a . d_b)^2
        self.pairs = 0

    def add(self, grads: torch.Tensor) -> None:
        g = grads.detach().reshape(grads.shape[0], -1).double()
        n = g.shape[0]
        self.total = g.sum(0) if self.total is None else self.total + g.sum(0)
        self.square += float(g.square().sum())
        self.count += n
        half = min(n // 2, MAX_PAIRS)
        if half >= 2:
            d = (g[:half] - g[half : 2 * half]) / math.sqrt(2)  # covariance S, mean 0
            # sum over a, b of (d_a . d_b)^2 = ||D D^T||_F^2 = ||D^T D||_F^2: take the smaller side.
            gram = d @ d.T if half <= d.shape[1] else d.T @ d
            lengths = d.square().sum(1)
            self.pair_sq += float(gram.square().sum() - lengths.square().sum())
            self.pairs += half * (half - 1)

    def estimate(self) -> SNREstimate:
        t = self.count
        if t < 2:
            raise ValueError("the SNR needs at least 2 per-sample gradients")
        mean = self.total / t
        mean_sq = float(mean.square().sum())
        noise = max((self.square - t * mean_sq) / (t - 1), 0.0)
        signal = mean_sq - noise / t
        if noise == 0.0:  # every sample gave the same gradient: nothing is noise
            return SNREstimate(signal, 0.0, math.inf if signal > 0 else 0.0, 0.0, 1.0 / t, t)
        trace_s2 = self.pair_sq / self.pairs if self.pairs else noise**2  # tr(S^2) <= tr(S)^2
        se = math.sqrt(2 * max(trace_s2, 0.0)) / (t * noise)
        snr = signal / noise
        return SNREstimate(signal, noise, snr, se, max(1.0 / t, RESOLUTION_SE * se), t)


def combine(estimates: list[SNREstimate]) -> SNREstimate:
    """The mean SNR over independent estimates (e.g. several initialisations), with its resolution."""
    if not estimates:
        raise ValueError("nothing to combine")
    r = len(estimates)
    snr = sum(e.snr for e in estimates) / r
    se = math.sqrt(sum(e.se**2 for e in estimates)) / r
    samples = sum(e.samples for e in estimates)
    return SNREstimate(
        signal=sum(e.signal for e in estimates) / r,
        noise=sum(e.noise for e in estimates) / r,
        snr=snr,
        se=se,
        resolution=max(1.0 / samples, RESOLUTION_SE * se),
        samples=samples,
    )


def per_sample_grads(
    loss: Callable[..., torch.Tensor], params: dict[str, torch.Tensor], *inputs: torch.Tensor
) -> torch.Tensor:
    """(n, P): the gradient of loss(params, *one_sample) for each of the n samples in `inputs`.

    `loss` takes the parameter dict and one sample's slice of each input (no batch dimension) and
    returns a scalar; it is vmapped over the first dimension of every input.
    """
    grads = vmap(grad(loss), in_dims=(None,) + (0,) * len(inputs))(params, *inputs)
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads.values()], dim=1)
