"""ReLU MLPs trained with a hand-written backward pass, one or many independent copies at once.

For the small MLPs of the parity experiment (d = 30: 9,601 parameters, batch 128) a step is a
handful of tiny matrix products, and autograd's bookkeeping costs more than the arithmetic. So the
step here is written out: a dozen tensor operations, each writing into a buffer allocated once.
Every tensor carries a leading "lane" dimension: lane i is an independent network with its own
weights and data (one seed of `gradfail run --seeds N`), and all lanes advance in the same few
batched products.

Each layer's weight and bias live in one matrix, and each layer's input carries a trailing column of
ones, so that one product computes x W^T + b and one product its gradient [dW | db]: no separate
bias additions or bias sums. Callers pass inputs with that column (see `with_ones`).
tests/test_fastmlp.py checks the gradients against autograd's, and the lanes against separate runs.
"""

from __future__ import annotations

import torch
from torch import nn

# ReLU's backward: the incoming gradient where the ReLU's input (or output) is > 0, else 0; one pass.
_threshold_backward_out = torch.ops.aten.threshold_backward.grad_input


def with_ones(x: torch.Tensor) -> torch.Tensor:
    """x (..., d) with a trailing column of ones (..., d + 1): the input form ManualMLP takes."""
    return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], -1)


def hinge_and_grad(scores: torch.Tensor, labels: torch.Tensor, buf: "_StepBuffers") -> torch.Tensor:
    """Per-lane mean(relu(1 - y f)) over (L, 1, n) scores and labels; writes d loss / d f into buf.score_grad."""
    margin = torch.addcmul(buf.one, labels, scores, value=-1, out=buf.scratch)  # 1 - y f
    # d loss / d f = -y / n where 1 - y f > 0, else 0
    _threshold_backward_out(labels, margin, 0, grad_input=buf.score_grad).mul_(buf.minus_inv_rows)
    # A sum and a scale: a mean over two dimensions costs several times as much at these sizes (measured).
    return margin.clamp_min_(0).sum(dim=(1, 2)).mul_(buf.inv_rows)


def squared_and_grad(scores: torch.Tensor, targets: torch.Tensor, buf: "_StepBuffers") -> torch.Tensor:
    """Per-lane mean((f - y)^2); writes its gradient with respect to f into buf.score_grad."""
    diff = torch.sub(scores, targets, out=buf.scratch)
    torch.mul(diff, buf.two_inv_size, out=buf.score_grad)
    return diff.square_().sum(dim=(1, 2)).mul_(buf.inv_size)


LOSSES = {"hinge": hinge_and_grad, "squared": squared_and_grad}


class _StepBuffers:
    """Everything one training step writes, allocated once per batch shape."""

    def __init__(self, hidden: list[torch.Tensor], output: torch.Tensor, rows: int):
        lanes, outputs, dtype, device = output.shape[0], output.shape[1], output.dtype, output.device
        # hidden[i]: the input of the layer above hidden layer i: its ReLU's output, then a column of ones.
        self.hidden = [torch.ones(lanes, rows, p.shape[2] + 1, dtype=dtype, device=device) for p in hidden]
        self.relu = [h[..., :-1] for h in self.hidden]  # the part the ReLU writes
        # pre[i]: hidden layer i's output before its ReLU, contiguous: a product into a strided view
        # falls off MKL's batched path, and the ReLU's backward reads a contiguous mask ~4x faster.
        self.pre = [torch.empty(r.shape, dtype=dtype, device=device) for r in self.relu]
        self.pre_grad = [torch.empty_like(p) for p in self.pre]  # the gradient flowing into pre[i]
        self.scores = torch.empty(lanes, outputs, rows, dtype=dtype, device=device)
        self.score_grad = torch.empty_like(self.scores)
        self.scratch = torch.empty_like(self.scores)
        self.grads = [torch.empty_like(p) for p in [*hidden, output]]  # the gradient of each stored matrix
        # Constants as 0-d tensors: an operation with a Python float costs ~4x one with a tensor (measured).
        constant = lambda value: torch.tensor(value, dtype=dtype, device=device)  # noqa: E731
        size = rows * outputs  # what a mean over the outputs divides by
        self.one, self.inv_size, self.two_inv_size = constant(1.0), constant(1.0 / size), constant(2.0 / size)
        self.inv_rows, self.minus_inv_rows = constant(1.0 / rows), constant(-1.0 / rows)


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
            return torch.stack([torch.cat([lane[i].weight.detach(), lane[i].bias.detach()[:, None]], 1)
                                for lane in per_model])

        last = len(per_model[0]) - 1
        self.hidden = [rows(i).transpose(1, 2).contiguous() for i in range(last)]
        self.output = rows(last).contiguous()
        self.layers = [*self.hidden, self.output]  # what the optimizer updates, in place
        self.weights = [p[:, :-1, :].transpose(1, 2) for p in self.hidden] + [self.output[..., :-1]]  # (L, out, in)
        self.biases = [p[:, -1, :] for p in self.hidden] + [self.output[..., -1]]  # (L, out)
        if len(models) == 1:
            for layer, weight, bias in zip(per_model[0], self.weights, self.biases):
                layer.weight.data, layer.bias.data = weight[0], bias[0]
        self.loss_and_grad = LOSSES[loss]
        self.lr = lr
        self.buffers: _StepBuffers | None = None
        self.adam = None
        if optimizer == "adam":
            # Adam is elementwise, so one Adam over the stacked [W | b] is each lane's own Adam on each
            # weight and bias; and its update is not the slow part: torch's implementation, fed our gradients.
            self.adam = torch.optim.Adam(self.layers, lr=lr, foreach=True)
        elif optimizer != "sgd":
            raise ValueError(f"unknown optimizer {optimizer!r}")

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

    def _buffers_for(self, rows: int) -> _StepBuffers:
        if self.buffers is None or self.buffers.scores.shape[2] != rows:
            self.buffers = _StepBuffers(self.hidden, self.output, rows)
            if self.adam is not None:
                for p, grad in zip(self.layers, self.buffers.grads):
                    p.grad = grad  # Adam reads the gradients where each step writes them
        return self.buffers

    @torch.no_grad()
    def step(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One update of every lane on its batch; returns the (L,) losses.

        x: (L, n, d + 1), its last column ones (`with_ones`); targets: (L, out, n), or (L, n) with one output.
        """
        buf = self._buffers_for(x.shape[1])
        h = x
        for i, p in enumerate(self.hidden):
            torch.clamp_min(torch.bmm(h, p, out=buf.pre[i]), 0, out=buf.relu[i])
            h = buf.hidden[i]
        scores = torch.bmm(self.output, h.transpose(1, 2), out=buf.scores)
        loss = self.loss_and_grad(scores, targets.view(scores.shape), buf)

        g = buf.score_grad  # (L, out, n)
        torch.bmm(g, h, out=buf.grads[-1])  # the output layer's [dW | db] in one product
        g = g.transpose(1, 2)  # from here on sample by sample: (L, n, out)
        for i in range(len(self.hidden) - 1, -1, -1):
            below, weight = buf.pre_grad[i], self.weights[i + 1]
            if weight.shape[1] == 1:  # an outer product: a multiply, not a product with one column
                torch.mul(g, weight, out=below)
            else:
                torch.bmm(g, weight, out=below)
            g = _threshold_backward_out(below, buf.pre[i], 0, grad_input=below)  # through the ReLU
            torch.bmm((x if i == 0 else buf.hidden[i - 1]).transpose(1, 2), g, out=buf.grads[i])

        if self.adam is None:
            torch._foreach_add_(self.layers, buf.grads, alpha=-self.lr)
        else:
            self.adam.step()
        return loss
