"""ReLU MLPs trained with a hand-written backward pass, one or many independent copies at once.

For the small MLPs of the parity experiment (d = 30: 9,601 parameters, batch 128) a step is a
handful of tiny matrix products, and autograd's bookkeeping costs more than the arithmetic. So the
step here is written out: about a dozen tensor operations, each writing into a buffer allocated
once. Every tensor carries a leading "lane" dimension: lane i is an independent network with its own
weights and data (one seed of `gradfail run --seeds N`), and all lanes advance in the same few
batched products.

Each layer's weight and bias live in one matrix, and each layer's input carries a trailing column of
ones, so that one product computes x W^T + b and one product its gradient [dW | db]: no separate
bias additions or bias sums. Callers pass inputs with that column (see `with_ones`). All the
matrices are views of one flat tensor, and all their gradients of another, so that the update is a
single operation. The loss's gradient is computed up to a constant factor (the hinge's is the label
where the margin is violated, its -1/n left out), which SGD folds into its step size: every
operation saved is a few microseconds at these sizes, a few percent of a step (measured).
tests/engine/test_fastmlp.py checks the updated weights against autograd's, and the lanes against separate runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

# ReLU's backward: the incoming gradient where the ReLU's input (or output) is > 0, else 0; one pass.
_threshold_backward_out = torch.ops.aten.threshold_backward.grad_input


def with_ones(x: torch.Tensor) -> torch.Tensor:
    """x (..., d) with a trailing column of ones (..., d + 1): the input form ManualMLP takes."""
    return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], -1)


# How many steps' losses a stepper keeps unreduced at most; engine.loop reads them every 32 steps.
PENDING = 64


def hinge_terms(
    scores: torch.Tensor, labels: torch.Tensor, score_grad: torch.Tensor, terms: torch.Tensor, inv_rows: torch.Tensor
) -> float:
    """The hinge loss mean(relu(1 - y f)) of (L, 1, n) scores and labels, up to its reduction: writes
    (1 - y f) / n into `terms` (the loss is the sum of their positive parts, `hinge_reduce`) and y
    where 1 - y f > 0 (else 0) into `score_grad`; returns the factor -1/n that makes it d loss / d f."""
    rows = scores.shape[2]
    margin = torch.addcmul(inv_rows, labels, scores, value=-1.0 / rows, out=terms)
    _threshold_backward_out(labels, margin, 0, grad_input=score_grad)
    return -1.0 / rows


def hinge_reduce(terms: torch.Tensor, out: torch.Tensor) -> None:
    """(k, L, 1, n) terms of `hinge_terms` -> (k, L) losses."""
    torch.sum(terms.clamp_min_(0).flatten(2), 2, out=out)


def squared_terms(
    scores: torch.Tensor, targets: torch.Tensor, score_grad: torch.Tensor, terms: torch.Tensor, inv_rows: torch.Tensor
) -> float:
    """The squared loss mean((f - y)^2) up to its reduction: writes (f - y)^2 into `terms` and f - y
    into `score_grad`; returns the factor 2 / (the number of values) that makes it d loss / d f."""
    diff = torch.sub(scores, targets, out=score_grad)
    torch.mul(diff, diff, out=terms)
    return 2.0 / diff[0].numel()


def squared_reduce(terms: torch.Tensor, out: torch.Tensor) -> None:
    """(k, L, out, n) terms of `squared_terms` -> (k, L) losses."""
    torch.sum(terms.flatten(2), 2, out=out).div_(terms[0, 0].numel())


# Each loss in two parts: its terms and gradient, every step; its reduction to a number, once for
# many steps (two operations a step fewer: about 6% of a parity30 step, measured).
LOSSES = {"hinge": (hinge_terms, hinge_reduce), "squared": (squared_terms, squared_reduce)}


class _StepBuffers:
    """Everything one training step writes but the gradients, allocated once per batch shape."""

    def __init__(self, hidden: list[torch.Tensor], output: torch.Tensor, rows: int):
        lanes, outputs, dtype, device = output.shape[0], output.shape[1], output.dtype, output.device
        self.rows = rows
        # hidden[i]: the input of the layer above hidden layer i: its ReLU's output, then a column of ones.
        self.hidden = [torch.ones(lanes, rows, p.shape[2] + 1, dtype=dtype, device=device) for p in hidden]
        self.hidden_t = [h.transpose(1, 2) for h in self.hidden]  # made once: a transpose is ~2 us a call
        self.relu = [h[..., :-1] for h in self.hidden]  # the part the ReLU writes
        # pre[i]: hidden layer i's output before its ReLU, contiguous: a product into a strided view
        # falls off MKL's batched path, and the ReLU's backward reads a contiguous mask ~4x faster.
        self.pre = [torch.empty(r.shape, dtype=dtype, device=device) for r in self.relu]
        self.pre_grad = [torch.empty_like(p) for p in self.pre]  # the gradient flowing into pre[i]
        self.scores = torch.empty(lanes, outputs, rows, dtype=dtype, device=device)
        self.score_grad = torch.empty_like(self.scores)
        self.score_grad_t = self.score_grad.transpose(1, 2)  # sample by sample: (L, n, out)
        # The loss terms of the last PENDING steps, not yet reduced, and the losses they reduce to.
        self.terms = torch.empty(PENDING, lanes, outputs, rows, dtype=dtype, device=device)
        self.losses = torch.empty(PENDING, lanes, dtype=dtype, device=device)
        # A constant as a 0-d tensor: an operation with a Python float costs ~4x one with a tensor (measured).
        self.inv_rows = torch.tensor(1.0 / rows, dtype=dtype, device=device)


class ManualMLP:
    """L independent copies of one MLP architecture, built by engine.nn.mlp, trained in place.

    The layouts are the ones in which MKL's batched products are fast (measured on one CPU thread,
    1 and 16 lanes of parity30). A hidden layer is stored as [W | b]^T, (L, in + 1, out), and its
    activations sample by sample, (L, n, out): x P forward and x^T g for its gradient read and write
    contiguous rows. The output layer is stored as [W | b], (L, out, in + 1), and its scores output
    by output, (L, out, n): with one output, the products then have one row (fast) instead of one
    column (off MKL's batched path, ~10x slower with 16 lanes).
    With one model (L = 1) each nn.Linear's weight and bias become views of these matrices, so the
    nn.Sequential stays the trained network (for parameter counts, the exact target variance, and
    anything else that reads it).
    """

    def __init__(self, models: list[nn.Sequential], loss: str, optimizer: str, lr: float):
        per_model = [[m for m in model if isinstance(m, nn.Linear)] for model in models]

        def rows(i: int) -> torch.Tensor:  # layer i of every lane as [W | b], (L, out, in + 1)
            return torch.stack(
                [torch.cat([lane[i].weight.detach(), lane[i].bias.detach()[:, None]], 1) for lane in per_model]
            )

        last = len(per_model[0]) - 1
        stored = [rows(i).transpose(1, 2) for i in range(last)] + [rows(last)]  # the layouts above
        first = stored[0]
        self.flat = torch.empty(sum(s.numel() for s in stored), dtype=first.dtype, device=first.device)
        self.flat_grad = torch.empty_like(self.flat)
        self.layers, self.grads = self._views(self.flat, stored), self._views(self.flat_grad, stored)
        for layer, values in zip(self.layers, stored):
            layer.copy_(values)
        self.hidden, self.output = self.layers[:-1], self.layers[-1]
        self.weights = [p[:, :-1, :].transpose(1, 2) for p in self.hidden] + [self.output[..., :-1]]  # (L, out, in)
        self.biases = [p[:, -1, :] for p in self.hidden] + [self.output[..., -1]]  # (L, out)
        if len(models) == 1:
            for layer, weight, bias in zip(per_model[0], self.weights, self.biases):
                layer.weight.data, layer.bias.data = weight[0], bias[0]
        self.loss = LOSSES[loss]
        self.lr = lr
        self._stepper, self._stepper_rows = None, 0  # what `step` uses: `stepper` for the last batch size
        self.adam = None
        if optimizer == "adam":
            # Adam is elementwise, so one Adam over the flat parameters is each lane's own Adam on each
            # weight and bias; and its update is not the slow part: torch's implementation, fed our gradients.
            self.adam = torch.optim.Adam([self.flat], lr=lr, foreach=True)
            self.flat.grad = self.flat_grad
        elif optimizer != "sgd":
            raise ValueError(f"unknown optimizer {optimizer!r}")

    @staticmethod
    def _views(flat: torch.Tensor, shaped_like: list[torch.Tensor]) -> list[torch.Tensor]:
        """Consecutive pieces of `flat`, shaped like the tensors given."""
        views, offset = [], 0
        for t in shaped_like:
            views.append(flat[offset : offset + t.numel()].view(t.shape))
            offset += t.numel()
        return views

    @property
    def lanes(self) -> int:
        return self.output.shape[0]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (L, out, n) for inputs (L, n, d + 1) whose last column is ones."""
        h = x
        for p in self.hidden:
            h = with_ones(torch.bmm(h, p).relu_())
        return torch.bmm(self.output, h.transpose(1, 2))

    def stepper(self, rows: int) -> Stepper:
        """The training step for batches of `rows` samples, and the `settle` that completes its losses.

        `step(x, targets, x_t)` takes x (L, n, d + 1) its last column ones (`with_ones`), targets
        (L, out, n) and x_t = x.transpose(1, 2), which a caller makes once per buffer (a transpose is
        ~2 us a call), and returns the step's (L,) losses as a view whose values are written by the
        next `settle()`, and stay until PENDING steps later: the losses of many steps are reduced in
        one operation. The step settles by itself when PENDING steps are waiting.

        Everything a step touches (buffers, views, which backward each layer takes) is looked up here
        once and bound to local names, so the step itself is only its tensor operations: for parity30
        about 20 us less of a 170-190 us step than looking them up every step (measured). No tensor
        here requires a gradient, so autograd records nothing without a no_grad context (which would
        cost a few microseconds a step).
        """
        buf = _StepBuffers(self.hidden, self.output, rows)
        bmm, clamp_min, mul, threshold_backward = torch.bmm, torch.clamp_min, torch.mul, _threshold_backward_out
        loss_terms, loss_reduce = self.loss
        output, grad_output = self.output, self.grads[-1]
        score_grad, score_grad_t, scores, inv_rows = buf.score_grad, buf.score_grad_t, buf.scores, buf.inv_rows
        terms, losses = buf.terms, buf.losses
        term_rows, loss_rows = list(terms), list(losses)
        # Forward through the hidden layers: (weight, its input (None: the step's x), pre-ReLU, ReLU out).
        forward = [(p, buf.hidden[i - 1] if i else None, buf.pre[i], buf.relu[i]) for i, p in enumerate(self.hidden)]
        top, top_t = (buf.hidden[-1], buf.hidden_t[-1]) if self.hidden else (None, None)  # the output layer's input
        # Backward through the hidden layers, top first: (the layer above's weight, whether it has one
        # output, the layer's pre-ReLU values, where the gradient into them goes, its input^T (None: the
        # step's x_t), its gradient).
        # An outer product (one output above) is a multiply, not a product with one column.
        backward = [
            (
                self.weights[i + 1],
                self.weights[i + 1].shape[1] == 1,
                buf.pre[i],
                buf.pre_grad[i],
                buf.hidden_t[i - 1] if i else None,
                self.grads[i],
            )
            for i in range(len(self.hidden) - 1, -1, -1)
        ]
        # The bottom layer under one output (parity's network): the gradient into its outputs is an
        # outer product g w, so g's rows are masked by the ReLU (pre is not needed after this) and the
        # product multiplied by w after it: one pass over (n, width) instead of two.
        outer_bottom = bool(backward) and self.weights[1].shape[1] == 1
        bottom_above, _, bottom_pre, _, _, bottom_grad = backward.pop() if outer_bottom else (None,) * 6
        flat, flat_grad, lr, adam = self.flat, self.flat_grad, self.lr, self.adam
        pending = [0, 0]  # rows of `terms`: [the first not yet reduced, the next to write]

        def settle() -> None:
            first, end = pending
            if end > first:
                loss_reduce(terms[first:end], losses[first:end])
                pending[0] = end

        def training_step(x: torch.Tensor, targets: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
            row = pending[1]
            if row == PENDING:
                settle()
                pending[0] = row = 0
            pending[1] = row + 1
            for weight, layer_input, pre, relu in forward:
                clamp_min(bmm(x if layer_input is None else layer_input, weight, out=pre), 0, out=relu)
            grad_scale = loss_terms(
                bmm(output, x_t if top_t is None else top_t, out=scores), targets, score_grad, term_rows[row], inv_rows
            )
            # From here on every gradient is the true one times grad_scale (folded into the update).
            bmm(score_grad, x if top is None else top, out=grad_output)  # the output layer's [dW | db] at once
            g = score_grad_t  # sample by sample: (L, n, out)
            for above, outer, pre, below, input_t, grad in backward:
                if outer:
                    mul(g, above, out=below)
                else:
                    bmm(g, above, out=below)
                g = threshold_backward(below, pre, 0, grad_input=below)  # through the ReLU
                bmm(x_t if input_t is None else input_t, g, out=grad)
            if outer_bottom:
                bmm(x_t, threshold_backward(g, bottom_pre, 0, grad_input=bottom_pre), out=bottom_grad).mul_(
                    bottom_above
                )
            if adam is None:
                flat.add_(flat_grad, alpha=-lr * grad_scale)
            else:
                flat_grad.mul_(grad_scale)
                adam.step()
            return loss_rows[row]

        return Stepper(training_step, settle)

    def step(self, x: torch.Tensor, targets: torch.Tensor, x_t: torch.Tensor | None = None) -> torch.Tensor:
        """One update of every lane on its batch (see `stepper`); returns the (L,) losses, settled.
        targets may also be (L, n) with one output; x_t is made here if not given."""
        rows = x.shape[1]
        if self._stepper is None or self._stepper_rows != rows:
            self._stepper, self._stepper_rows = self.stepper(rows), rows
        if targets.dim() == 2:  # (L, n): one output
            targets = targets.unsqueeze(1)
        losses = self._stepper.step(x, targets, x.transpose(1, 2) if x_t is None else x_t)
        self._stepper.settle()
        return losses.clone()


class Stepper(NamedTuple):
    """A training step and the `settle` that writes the losses it returned (see ManualMLP.stepper)."""

    step: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    settle: Callable[[], None]
