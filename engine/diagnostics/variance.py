"""Target variance: how much the gradient says about which target is being learned (Sec. 2.2).

    Var(H, F, w) = E_h || grad F_h(w) - E_h' grad F_h'(w) ||^2,   F_h(w) = E_x loss(p_w(x), h(x))

Theorem 1: for pairwise orthogonal targets (the 2^d parities) it is at most G(w)^2 / |H| with
G(w)^2 = E_x ||d p_w(x) / dw||^2. Theorem 2 (Shamir 2016): for x -> psi(<v, x>) with ||v|| = r and
Gaussian x it is O(exp(-Omega(d)) + exp(-Omega(r))). Either way the gradient at any w is almost the
same vector whatever the target, so gradient descent cannot tell the targets apart.

Parities are measured exactly, over all 2^d targets and all 2^d inputs (d <= ~16), not by sampling
targets: the variance sits almost entirely in the few parities of one or two coordinates, which a
sample of a few hundred targets catches by luck or not at all (for the parity network at its init,
300 random targets gave between 0.12 and 9 times the exact value at d = 12, a median of 0.17 times
at d = 14). How, for a network with per-input gradient g(x) = d p_w(x) / dw:

- For a label h(x) in {-1, +1}, any loss's derivative is l'(p, h) = alpha(x) + beta(x) h(x) with
  alpha, beta the half sum and half difference of l'(p, +1) and l'(p, -1). So every target's
  gradient is a shared part plus A_h = E_x[h(x) beta(x) g(x)]: the Walsh-Hadamard transform over
  the inputs of beta g, one row per parity (tests/engine/reference.py forms them all, to check this).
- Parseval then gives the variance without forming any A_h:
  Var = 2^-d E_x[beta^2 ||g||^2] - ||E_h A_h||^2, with E_h A_h = 2^-d beta(1) g(1) (the input of all
  +1s, where every parity is +1). Since |beta| <= 1 for the hinge and the square loss, Var <= G^2/2^d.
- Where the variance sits (`by_order`): the energy ||A_h||^2 summed over the parities of each order
  |v|. For a first layer, d p / d W1[j, i] = s_j(x) x_i and x_i h_v(x) = h_{v xor e_i}(x), so the
  transform of the (2^d, width) matrix s (not of the d times larger weight gradient) is enough.

The per-input gradients of an MLP (Linear/ReLU `nn.Sequential`, as `engine.nn.mlp` builds) come in
factored form from one manual backward pass: d p / d W_l = delta_l(x) (outer) a_l(x), d p / d b_l =
delta_l(x), with a_l the layer's input and delta_l the backpropagated signal.

A second, independent measurement of the same quantity (`sampled_parity_variance`): K parities drawn
at random, each one's gradient grad F_h(w) over all 2^d inputs by autograd (no Parseval, no alpha
and beta), and their sample variance with its standard error; G(w)^2 likewise from autograd's
per-input gradients. It agrees with the exact value within its error only where the K draws catch
the few low-order parities that carry the variance (K well above the d^2 / 2 of them: small d).

Linear-periodic targets are measured by sampling directions v on the sphere of radius r, on a fixed
sample of x (`periodic_target_variance`), with the estimate's standard error and the sampling floor
it corrects for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # mean loss of (scores, labels)


# ---------------------------------------------------------------- per-input gradients of an MLP


@dataclass
class MlpGradients:
    """Per-input gradients of a one-output MLP, factored by layer (see the module docstring)."""

    scores: torch.Tensor  # (n,) p_w(x)
    deltas: list[torch.Tensor]  # per Linear layer, (n, out_features)
    inputs: list[torch.Tensor]  # per Linear layer, (n, in_features)

    def sq_norms(self) -> torch.Tensor:
        """||g(x)||^2 per input: sum over layers of ||delta||^2 (||a||^2 + 1) (weights, then bias)."""
        return sum(d.square().sum(1) * (a.square().sum(1) + 1) for d, a in zip(self.deltas, self.inputs))

    def dense(self, rows: slice | None = None) -> torch.Tensor:
        """g(x) as an (n, P) matrix in the order of model.parameters() (weight row-major, then bias)."""
        rows = rows or slice(None)
        parts = []
        for d, a in zip(self.deltas, self.inputs):
            d, a = d[rows], a[rows]
            parts += [(d[:, :, None] * a[:, None, :]).flatten(1), d]
        return torch.cat(parts, 1)


def mlp_gradients(model: nn.Sequential, x: torch.Tensor, dtype: torch.dtype = torch.float64) -> MlpGradients:
    """Per-input gradients of the scalar output of a Linear/ReLU stack, in `dtype`, without autograd."""
    layers = list(model)
    linears, relu_after = [], []
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Linear):
            linears.append(layer)
            relu_after.append(i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU))
        elif not isinstance(layer, nn.ReLU):
            raise TypeError(f"mlp_gradients needs a stack of Linear and ReLU layers, found {type(layer).__name__}")
    if not linears or linears[-1].out_features != 1:
        raise TypeError("mlp_gradients needs a network with one output")
    if any(layer.bias is None for layer in linears):
        raise TypeError("mlp_gradients expects every Linear layer to have a bias")
    with torch.no_grad():
        h = x.to(dtype)
        inputs, masks = [], []
        for layer, relu in zip(linears, relu_after):
            inputs.append(h)
            h = nn.functional.linear(h, layer.weight.to(dtype), layer.bias.to(dtype))
            masks.append(h > 0 if relu else None)  # relu'(0) = 0, as autograd has it
            h = h.clamp_min(0) if relu else h
        delta = torch.ones(x.shape[0], 1, dtype=dtype, device=x.device)
        deltas = [delta]
        for k in range(len(linears) - 1, 0, -1):
            delta = delta @ linears[k].weight.to(dtype)
            if masks[k - 1] is not None:
                delta = delta * masks[k - 1]
            deltas.append(delta)
    return MlpGradients(scores=h[:, 0], deltas=deltas[::-1], inputs=inputs)


def label_derivatives(loss: Loss, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha, beta) with d loss(p, h) / dp = alpha + beta * h for h in {-1, +1}, per input."""
    with torch.enable_grad():
        derivs = []
        for label in (1.0, -1.0):
            p = scores.detach().clone().requires_grad_(True)
            # The loss is a mean over the batch; times n, its gradient is each input's derivative.
            (loss(p, torch.full_like(p, label)) * p.numel()).backward()
            derivs.append(p.grad)
    plus, minus = derivs
    return (plus + minus) / 2, (plus - minus) / 2


# --------------------------------------------------------------------------- Walsh-Hadamard


def all_inputs(d: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Every x in {-1, +1}^d, row n having x_i = -1 where bit i of n is set (row 0 is all +1s)."""
    n = torch.arange(1 << d, device=device)
    bits = (n[:, None] >> torch.arange(d, device=device)) & 1
    return (1 - 2 * bits).to(dtype)


def parity_orders(d: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """|v| for the parity of row v of a transform (the number of coordinates it multiplies)."""
    n = torch.arange(1 << d, device=device)
    return ((n[:, None] >> torch.arange(d, device=device)) & 1).sum(1)


def _hadamard(bits: int, dtype: torch.dtype, device) -> torch.Tensor:
    h = torch.ones(1, 1, dtype=dtype, device=device)
    for _ in range(bits):
        h = torch.cat((torch.cat((h, h), 1), torch.cat((h, -h), 1)), 0)
    return h


def walsh_hadamard(t: torch.Tensor, block_bits: int = 6) -> torch.Tensor:
    """Unnormalised transform along dim 0 (length 2^d): row v = sum_n (-1)^popcount(n & v) t[n].

    Row v is therefore sum_x h_v(x) t[x] for the parity h_v with the rows ordered as `all_inputs`.
    H_(2^d) is a Kronecker product of small Hadamard matrices, so it is applied as a few matrix
    products over 2^block_bits rows each: on a CPU about 5x faster than the radix-2 butterfly.
    """
    n = t.shape[0]
    d = n.bit_length() - 1
    if n != 1 << d:
        raise ValueError(f"walsh_hadamard needs 2^d rows, got {n}")
    rest = t.reshape(n, -1)
    cols = rest.shape[1]
    done = 0
    while done < d:
        k = min(block_bits, d - done)
        # index = high * 2^(done + k) + middle * 2^done + low: the product mixes the `middle` bits.
        blocks = rest.reshape(n >> (done + k), 1 << k, (1 << done) * cols)
        rest = torch.matmul(_hadamard(k, t.dtype, t.device), blocks)
        done += k
    return rest.reshape(t.shape)


# ------------------------------------------------------------------------------- parities


@dataclass
class ParityVariance:
    d: int
    variance: float  # Var(H, F, w) over all 2^d parities, exact
    bound: float  # Theorem 1: G(w)^2 / 2^d
    g2: float  # G(w)^2 = E_x ||d p / dw||^2 over the uniform x
    order_energy: list[float] | None = None  # E_h ||A_h||^2 split by the parity's order 0..d


def parity_target_variance(
    model: nn.Sequential, d: int, loss: Loss, *, by_order: bool = False, chunk_floats: int = 1 << 24
) -> ParityVariance:
    """Exact target variance of `model` over all 2^d parities and all 2^d inputs (see the docstring).

    `loss(scores, labels)` is the training loss (a batch mean). `by_order` also splits the energy by
    the order of the parity, with column blocks of at most `chunk_floats` numbers in the transform.
    """
    device = next(model.parameters()).device
    x = all_inputs(d, device)
    grads = mlp_gradients(model, x)
    _, beta = label_derivatives(loss, grads.scores)
    sq = grads.sq_norms()
    size = 1 << d
    # E_h A_h = 2^-d beta(x0) g(x0): every parity is +1 at row 0, and sum_h h(x) = 0 elsewhere.
    mean_sq = (beta[0] ** 2 * sq[0]).item() / size**2
    variance = (beta.square() * sq).mean().item() / size - mean_sq
    g2 = sq.mean().item()
    result = ParityVariance(d=d, variance=variance, bound=g2 / size, g2=g2)
    if by_order:
        result.order_energy = _order_energy(grads, beta, d, chunk_floats)
    return result


def _order_energy(grads: MlpGradients, beta: torch.Tensor, d: int, chunk_floats: int) -> list[float]:
    """sum over the parities h of each order of ||A_h||^2 / 2^d, A_h = E_x[h beta g]."""
    if grads.inputs[0].shape[1] != d:
        raise ValueError(f"the first layer's input has {grads.inputs[0].shape[1]} features, not d = {d}")
    size = 1 << d
    orders = parity_orders(d, beta.device)
    energy = torch.zeros(d + 1, dtype=beta.dtype, device=beta.device)

    def add(columns: torch.Tensor) -> None:
        spectrum = walsh_hadamard(beta[:, None] * columns) / size  # row h = A_h restricted to these columns
        energy.index_add_(0, orders, spectrum.square().sum(1))

    # First layer: d p / d W1[j, i] = s_j(x) x_i and x_i h_v = h_(v xor e_i), so its A_v are the
    # transform of s shifted by e_i: flipping bit i of a row u of order m gives order m - 1 for the
    # m set bits and m + 1 for the d - m others.
    first = walsh_hadamard(beta[:, None] * grads.deltas[0]) / size
    row_energy = first.square().sum(1)
    energy.index_add_(0, orders, row_energy)  # the first layer's bias
    m = orders
    energy.index_add_(0, (m - 1).clamp_min(0), row_energy * m)
    energy.index_add_(0, (m + 1).clamp_max(d), row_energy * (d - m))
    # The other layers, densely, in blocks of rows of their weight matrix.
    for delta, a in zip(grads.deltas[1:], grads.inputs[1:]):
        rows = max(1, chunk_floats // (size * a.shape[1]))
        for start in range(0, delta.shape[1], rows):
            block = delta[:, start : start + rows]
            add((block[:, :, None] * a[:, None, :]).flatten(1))
            add(block)
    return (energy / size).tolist()


@dataclass
class SampledParityVariance:
    variance: float  # unbiased estimate of Var(H, F, w) from `targets` parities drawn uniformly
    stderr: float  # its standard error over the draws
    bound: float  # G(w)^2 / 2^d with G(w)^2 from autograd's per-input gradients
    targets: int


def sampled_parity_variance(
    model: nn.Sequential, d: int, loss: Loss, targets: int, generator: torch.Generator
) -> SampledParityVariance:
    """Var(H, F, w) over the 2^d parities estimated by autograd from `targets` parities drawn uniformly
    (with replacement): grad F_h(w) = the gradient of loss(p_w(x), h(x)) averaged over all 2^d inputs,
    for each drawn h; their sample variance (K - 1 denominator: unbiased over the draws), and its
    standard error, the spread of the K squared deviations over sqrt(K). Independent of
    `parity_target_variance`: neither the Walsh-Hadamard transform nor the alpha/beta split is used."""
    if targets < 2:
        raise ValueError("need at least 2 sampled targets")
    device = next(model.parameters()).device
    dtype = torch.float64
    params = {name: p.detach().to(dtype) for name, p in model.named_parameters()}
    x = all_inputs(d, device, dtype)
    v = torch.randint(0, 1 << d, (targets,), generator=generator).to(device)
    chosen = ((v[:, None] >> torch.arange(d, device=device)) & 1).bool()  # (K, d): the parity's coordinates
    labels = torch.where(chosen[:, None, :], x[None], torch.ones((), dtype=dtype, device=device)).prod(2)

    def objective(p: dict[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        return loss(functional_call(model, p, (x,))[:, 0], y)  # F_h(w) for the labels y = h(x)

    per_target = vmap(grad(objective), in_dims=(None, 0))(params, labels)
    g = torch.cat([per_target[name].reshape(targets, -1) for name in params], 1)  # (K, P)
    terms = (g - g.mean(0)).square().sum(1)
    variance = terms.sum().item() / (targets - 1)
    stderr = terms.std().item() / math.sqrt(targets)

    def score(p: dict[str, torch.Tensor], xi: torch.Tensor) -> torch.Tensor:
        return functional_call(model, p, (xi[None],))[0, 0]

    per_input = vmap(grad(score), in_dims=(None, 0))(params, x)
    g2 = sum(t.reshape(x.shape[0], -1).square().sum(1) for t in per_input.values()).mean().item()
    return SampledParityVariance(variance=variance, stderr=stderr, bound=g2 / (1 << d), targets=targets)


# ------------------------------------------------------------------------ linear-periodic


@dataclass
class SampledVariance:
    variance: float  # unbiased estimate of Var over the directions
    stderr: float  # its standard error over the sampled directions
    floor: float  # what a plain estimate would add from the finite x sample (subtracted here)
    g2: float  # G(w)^2 on the sample, for scale
    directions: int
    samples: int


def periodic_target_variance(
    model: nn.Sequential,
    x: torch.Tensor,
    directions: torch.Tensor,
    psi: Callable[[torch.Tensor], torch.Tensor],
    *,
    chunk_floats: int = 1 << 22,
) -> SampledVariance:
    """Target variance of the squared loss over targets psi(<v, x>), v = the rows of `directions`.

    With the squared loss l = (p - y)^2 / 2 the gradient is E_x[(p - psi_v) g]; only -E_x[psi_v g]
    depends on v. On a sample of n inputs, ||mean_i psi(x_i) g_i||^2 is biased upward by its
    diagonal (i = j) terms, (1/n^2) sum_i psi(x_i)^2 ||g_i||^2, which for large r is all there is
    (a finite sample cannot tell high-frequency targets apart); the estimate drops them, so it is
    unbiased over x, and centres psi over the K sampled directions with a K - 1 denominator, so it
    is unbiased over v too. The standard error is the spread over the directions.
    """
    n, k = x.shape[0], directions.shape[0]
    if n < 2 or k < 2:
        raise ValueError("need at least 2 inputs and 2 directions")
    dtype = torch.float64
    grads = mlp_gradients(model, x)
    sq = grads.sq_norms()
    targets = psi((x.to(dtype) @ directions.to(dtype).T).T)  # (K, n)
    targets = targets - targets.mean(0, keepdim=True)  # centred over the directions
    params = sum(p.numel() for p in model.parameters())
    means = torch.zeros(k, params, dtype=dtype, device=x.device)
    chunk = max(1, chunk_floats // params)  # rows of the dense per-input gradients held at once
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        means += targets[:, rows] @ grads.dense(rows)
    means /= n
    diagonal = targets.square() @ sq / n**2
    terms = (means.square().sum(1) - diagonal) * n / (n - 1)  # unbiased for ||E_x[psi~_v g]||^2
    variance = terms.sum().item() / (k - 1)
    stderr = terms.std().item() * math.sqrt(k) / (k - 1)
    return SampledVariance(
        variance=variance,
        stderr=stderr,
        floor=diagonal.mean().item() * k / (k - 1),
        g2=sq.mean().item(),
        directions=k,
        samples=n,
    )


def sphere_directions(
    count: int, d: int, radius: float, generator: torch.Generator, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """`count` directions uniform on the sphere of the given radius in R^d."""
    v = torch.randn(count, d, generator=generator, device=device)
    return radius * v / v.norm(dim=1, keepdim=True)


PERIODIC_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "cos": torch.cos,
    "sin": torch.sin,
    # Period 2 pi, values in [-1, 1], like cos.
    "triangle": lambda t: 1 - 2 * torch.abs(torch.remainder(t / math.pi, 2) - 1),
    "sawtooth": lambda t: torch.remainder(t / math.pi + 1, 2) - 1,
    "square": lambda t: torch.where(torch.remainder(t, 2 * math.pi) < math.pi, 1.0, -1.0).to(t.dtype),
}
