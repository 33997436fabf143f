"""Conditioning: the condition number of the problem a run solves (Sec. 4.1, Theorem 3, App. A.4-A.6).

For a least-squares problem min E ||x M - y||^2 the iterations gradient descent needs grow with
the condition number of the input correlation E[x^T x] (App. A.5). This module measures it for
the PWL family's learners:
- fully connected (p = f U): cond(W W^T), which Theorem 3 bounds below by Omega(n^3.5) (about n^4
  measured), and the condition number of the training curves' own correlation on their span;
- convolutional (a 3-tap filter): cond(C), C the 3x3 correlation of the rows [f_j, f_{j-1}, f_{j-2}]
  (Theta(n^3), App. A.6), and the same after whitening the rows by C^-1/2 (about 1, Sec. 4.1.3).
It also fits the exponent of a power law, for the cond-vs-n sweep (family `pwl_condition`).

Always float64, whatever the run trains in: cond(W W^T) is 1.35e8 at n = 100, above float32's
1 / eps = 1.7e7, so a float32 eigensolver returns negative eigenvalues for W W^T; and C^-1/2 of a
float32 C with cond(C) near 1e5 would leave the whitened correlation visibly far from the identity.
cond(W W^T) is taken as cond(W)^2 from W's singular values, never by forming W W^T.
"""

from __future__ import annotations

import math

import torch

SPAN_TOL = 1e-12  # eigenvalues below this fraction of the largest count as zero (float64 round-off)


def condition_number(matrix: torch.Tensor) -> float:
    """Largest over smallest singular value (inf for a singular matrix)."""
    s = torch.linalg.svdvals(matrix.double())
    return math.inf if s[-1] == 0 else float(s[0] / s[-1])


def gram_condition(matrix: torch.Tensor) -> float:
    """cond(M M^T) = cond(M)^2, without forming M M^T (which would square the round-off too)."""
    return condition_number(matrix) ** 2


def correlation(rows: torch.Tensor) -> torch.Tensor:
    """E[x^T x] over the rows of a (samples, features) matrix, in float64."""
    rows = rows.double()
    return rows.T @ rows / rows.shape[0]


def span_condition(gram: torch.Tensor, rel_tol: float = SPAN_TOL) -> tuple[float, int]:
    """Condition number of a symmetric PSD matrix on its range, and that range's dimension.

    Data that never varies in some direction (the PWL curves' first three values are always 0)
    make the correlation singular; gradient descent never moves in those directions, so the
    condition number that governs it is the one on the span the data covers.
    """
    eig = torch.linalg.eigvalsh(gram.double())
    kept = eig[eig > rel_tol * eig[-1]]
    return float(kept[-1] / kept[0]), int(kept.numel())


def inverse_sqrt(c: torch.Tensor) -> torch.Tensor:
    """C^-1/2 of a symmetric positive definite C (float64): rows x C^-1/2 have correlation I."""
    eig, vec = torch.linalg.eigh(c.double())
    return vec @ torch.diag(eig.rsqrt()) @ vec.T


def fit_power_law(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(b, a) of the least-squares fit log y = log a + b log x."""
    lx = torch.tensor(xs, dtype=torch.float64).log()
    ly = torch.tensor(ys, dtype=torch.float64).log()
    design = torch.stack([lx, torch.ones_like(lx)], dim=1)
    slope, intercept = torch.linalg.lstsq(design, ly[:, None]).solution.flatten().tolist()
    return slope, math.exp(intercept)


def linear_problem(w: torch.Tensor, inputs: torch.Tensor) -> dict[str, float]:
    """The fully connected learner p = f U: cond(W W^T) (Theorem 3) and the data's own."""
    data_cond, rank = span_condition(correlation(inputs))
    return {"cond_wwt": gram_condition(w), "cond_data": data_cond, "data_rank": float(rank)}


def conv_problem(train_rows: torch.Tensor, val_rows: torch.Tensor) -> tuple[dict[str, float], torch.Tensor]:
    """The 3-tap filter: cond(C) of the training rows, and after whitening by the training set's
    C^-1/2 (measured on the validation rows, so "about 1" is a measurement, not an identity).
    Returns the numbers and the whitener C^-1/2."""
    c = correlation(train_rows)
    whitener = inverse_sqrt(c)
    whitened_val = correlation(val_rows.double() @ whitener)
    return {"cond_rows": condition_number(c), "cond_whitened": condition_number(whitened_val)}, whitener


def format_cond(value: float) -> str:
    return f"{value:.3g}" if value < 1e4 else f"{value:.3e}"
