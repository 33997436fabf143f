"""PWL curves, the matrix W that builds them and its inverse (Sec. 4.1, Lemma 1).

A curve with kinks at integer positions theta_i and slope changes a_i is
f(x) = sum_i a_i [x - theta_i + 1]_+ at x = 0 .. n-1, that is f = p W with p the n-vector holding
a_i at position theta_i and W[i, j] = max(0, j - i + 1). W^-1 is the second-difference operator:
p_j = f_j - 2 f_{j-1} + f_{j-2} (Lemma 1).

Everything here is float64 on the CPU: W W^T has a condition number near 1e8 at n = 100, beyond
float32's 1 / eps = 1.7e7, so any projector, inverse or spectrum taken from it in float32 is noise.
The trainer casts to its training dtype and device afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# The original script's slope sequences (PWL_fail1.py, FtoKTrainer.create_data): the curve's
# slope on each of its three pieces; a_i is the change of slope at kink i.
SLOPE_SEQUENCES = ((1.0, -1.0, 1.0), (1.0, -2.0, 1.0), (-2.0, 1.0, -1.0), (1.0, -1.0, 2.0))
EDGE = 3  # the original's kinks avoid the first and last three positions


def kink_matrix(n: int) -> torch.Tensor:
    """W with W[i, j] = max(0, j - i + 1): row i is the ramp that starts at position i."""
    i = torch.arange(n, dtype=torch.float64)
    return (i[None, :] - i[:, None] + 1).clamp(min=0)


def second_difference(n: int) -> torch.Tensor:
    """W^-1 (Lemma 1): U[j, j] = 1, U[j-1, j] = -2, U[j-2, j] = 1, so (f U)_j = f_j - 2 f_{j-1} + f_{j-2}."""
    u = torch.eye(n, dtype=torch.float64)
    u -= 2 * torch.diag(torch.ones(n - 1, dtype=torch.float64), 1)
    u += torch.diag(torch.ones(n - 2, dtype=torch.float64), 2)
    return u


def decode(p: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The curve an encoding p stands for: f = p W."""
    return p @ w


def sample_curves(kind: str, m: int, n: int, pieces: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """m curves (f, p), float64, from one of the distributions named by the config's `curves`."""
    return SAMPLERS[kind](m, n, pieces, gen)


def _slopes(m: int, n: int, pieces: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    # Three distinct kinks in [3, n - 3), sorted; one of the four slope sequences per curve.
    thetas = EDGE + torch.rand(m, n - 2 * EDGE, generator=gen).argsort(dim=1)[:, :pieces].sort(dim=1).values
    slopes = torch.tensor(SLOPE_SEQUENCES, dtype=torch.float64)
    chosen = slopes[torch.randint(len(SLOPE_SEQUENCES), (m,), generator=gen)]
    changes = torch.diff(chosen, dim=1, prepend=torch.zeros(m, 1, dtype=torch.float64))
    return _from_kinks(thetas, changes, n)


def _prose(m: int, n: int, pieces: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    # Sec. 4.1's text: kinks uniform without replacement in [0, n), slope changes U[-1, 1].
    thetas = torch.rand(m, n, generator=gen).argsort(dim=1)[:, :pieces]
    changes = torch.rand(m, pieces, generator=gen, dtype=torch.float64) * 2 - 1
    return _from_kinks(thetas, changes, n)


def _continuous(m: int, n: int, pieces: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    # The original autoencoder's curves: f(x) = sum_i c_i [x - theta_i]_+ with real theta_i ~ U[0, n)
    # and c_i ~ U[-1, 1]. A kink between grid points has no exact one-position code; p = f W^-1
    # spreads it over two positions, which is still the exact encoding of the sampled f.
    thetas = torch.rand(m, pieces, generator=gen, dtype=torch.float64) * n
    coeffs = torch.rand(m, pieces, generator=gen, dtype=torch.float64) * 2 - 1
    x = torch.arange(n, dtype=torch.float64)
    f = ((x[None, None, :] - thetas[:, :, None]).clamp(min=0) * coeffs[:, :, None]).sum(dim=1)
    return f, f @ second_difference(n)


def _from_kinks(thetas: torch.Tensor, changes: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    p = torch.zeros(thetas.shape[0], n, dtype=torch.float64)
    p.scatter_(1, thetas, changes)
    return decode(p, kink_matrix(n)), p


SAMPLERS = {"slopes": _slopes, "prose": _prose, "continuous": _continuous}


@dataclass
class CurveSets:
    """Training and validation curves (float64, CPU), with W and W^-1 for this n."""

    train_f: torch.Tensor
    train_p: torch.Tensor
    val_f: torch.Tensor
    val_p: torch.Tensor
    w: torch.Tensor
    w_inv: torch.Tensor

    @property
    def n(self) -> int:
        return self.w.shape[0]


def make_curve_sets(
    kind: str,
    n: int,
    pieces: int,
    train_size: int,
    val_size: int,
    *,
    train_gen: torch.Generator,
    val_gen: torch.Generator,
) -> CurveSets:
    """The run's two fixed sets, each from its own generator (so val_size does not change training)."""
    train_f, train_p = sample_curves(kind, train_size, n, pieces, train_gen)
    val_f, val_p = sample_curves(kind, val_size, n, pieces, val_gen)
    return CurveSets(train_f, train_p, val_f, val_p, kink_matrix(n), second_difference(n))


def taught_projector(sets: CurveSets) -> torch.Tensor:
    """The projector onto the span of the training curves, as an n x n matrix P (float64).

    Training only ever sees f in this span (f = p W with p supported where some training p is
    nonzero), so the gradient of the linear trainer's loss moves U only as seen through it: the
    part of U - W^-1 the data can teach is P (U - W^-1). With the original curves the first and
    last three positions never hold a kink, the span has dimension n - 6, and max |U - W^-1| stays
    at 2 (an untouched -2 of W^-1) however long the run is.
    """
    # Positions where some training curve has a kink (up to round-off in p = f W^-1).
    support = (sets.train_p.abs() > 1e-9 * sets.train_p.abs().max()).any(dim=0)
    # QR of the rows of W that the data uses: a stable orthonormal basis even though W is
    # ill-conditioned (a projector through (W_K W_K^T)^-1 would square the condition number).
    basis, _ = torch.linalg.qr(sets.w[support].T)
    return basis @ basis.T
