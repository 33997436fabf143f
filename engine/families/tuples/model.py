"""N1 (the per-image CNN) and N2 (the tuple MLP) of Sec. 3.1 as the original script built them, and
the per-sample gradient SNR of a part of them (Sec. 3.3)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call

from engine.diagnostics.snr import SNRAccumulator, SNREstimate, per_sample_grads
from engine.families.tuples.lines import Lines, render, tuple_labels
from engine.nn import hinge_loss, init_linear_, mlp

# Images per pass through N1 on a CPU: a batch of 200 4-tuples at once. With the worker keeping
# freed memory (engine.worker.keep_freed_memory), larger passes no longer pay for fresh pages:
# 800 measured 10% faster a training step than 256, and 25% faster an evaluation.
CPU_PASS_IMAGES = 800
HEAD_VMAP = 1024  # samples per vmapped call through the head (measured: 6,000 at once is ~40x slower)
FEATURES = 100  # width of N1's last hidden layer: the input of the layer whose SNR the paper measures


def images_per_pass(device: torch.device) -> int:
    """How many images to push through N1 at once: a bounded number on a CPU (its activations are
    about 60 KB an image), all of them on a GPU."""
    return CPU_PASS_IMAGES if device.type == "cpu" else 1 << 16


def place(module: nn.Module, device: torch.device) -> nn.Module:
    """Move N1 (or a whole TupleNet) to `device`; on a CPU also into channels-last layout, where
    oneDNN's convolutions and max-pooling are faster (a training step 1.5-1.7x, pooling alone 7x,
    measured on one thread). Only the memory layout changes: the same numbers up to rounding."""
    module = module.to(device)
    return module.to(memory_format=torch.channels_last) if device.type == "cpu" else module


def init_conv_(conv: nn.Conv2d, generator: torch.Generator, fan: int) -> nn.Conv2d:
    """The original's conv init: truncated normal (at 2 std) with std 1 / sqrt(fan), bias 0.

    The original took `fan` as the last dimension of the layer's input tensor: for the second conv
    that is its 16 channels, but the first conv's input was the (n, 28, 28) batch of images, so its
    std was 1 / sqrt(28), not 1 / sqrt(1) (nor the 1 / sqrt(25) of fan-in). With std 1 the image
    scores at initialisation spread about 5x wider (std 0.70 against 0.13, measured).
    """
    std = 1.0 / math.sqrt(fan)
    with torch.no_grad():
        nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std, generator=generator)
        conv.bias.zero_()
    return conv


def n1_body(generator: torch.Generator) -> nn.Sequential:
    """N1 up to its last hidden layer: (n, 28, 28) images -> (n, 100) features.

    Two 5x5 convolutions with 16 channels, 'same' padding and 2x2 max-pooling, with no ReLU after
    them (as in the original), then 784 -> 50 -> 100 with ReLU.
    """
    return nn.Sequential(
        nn.Unflatten(1, (1, 28)),
        init_conv_(nn.Conv2d(1, 16, 5, padding=2), generator, fan=28),
        nn.MaxPool2d(2),
        init_conv_(nn.Conv2d(16, 16, 5, padding=2), generator, fan=16),
        nn.MaxPool2d(2),
        nn.Flatten(),
        init_linear_(nn.Linear(7 * 7 * 16, 50), generator),
        nn.ReLU(),
        init_linear_(nn.Linear(50, FEATURES), generator),
        nn.ReLU(),
    )


def n1_features(body: nn.Module, images: torch.Tensor, per_pass: int | None = None) -> torch.Tensor:
    """(batch, k, 28, 28) -> (batch, k, 100), `per_pass` images at a time if given (no-grad use)."""
    flat = images.reshape(-1, 28, 28)
    if per_pass is None or flat.shape[0] <= per_pass:
        out = body(flat)
    else:
        out = torch.cat([body(flat[i : i + per_pass]) for i in range(0, flat.shape[0], per_pass)])
    return out.view(*images.shape[:-2], FEATURES)


class Head(nn.Module):
    """N1's last layer (features -> image score) and N2 (k sigmoids -> tuple score)."""

    def __init__(self, k: int, generator: torch.Generator):
        super().__init__()
        self.last = init_linear_(nn.Linear(FEATURES, 1), generator)
        self.n2 = mlp([k, 100, 1], generator)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, k, 100) features -> tuple scores (batch,) and image scores (batch, k)."""
        image_scores = self.last(features).squeeze(-1)
        return self.n2(torch.sigmoid(image_scores)).squeeze(-1), image_scores


class TupleNet(nn.Module):
    """N1 scores each image of a tuple (shared weights); N2 maps the k sigmoids to the tuple's score."""

    def __init__(self, k: int, generator: torch.Generator):
        super().__init__()
        self.k = k
        self.body = n1_body(generator)
        self.head = Head(k, generator)

    def features(self, images: torch.Tensor, per_pass: int | None = None) -> torch.Tensor:
        return n1_features(self.body, images, per_pass)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.features(images))

    @classmethod
    def from_parts(cls, body: nn.Sequential, head: Head) -> TupleNet:
        """A net around existing modules (the SNR sweep keeps one N1 and gives it an N2 per k)."""
        net = cls.__new__(cls)
        nn.Module.__init__(net)
        net.k, net.body, net.head = head.n2[0].in_features, body, head
        return net


def losses(tuple_scores, image_scores, labels, image_labels) -> tuple[torch.Tensor, torch.Tensor]:
    """The hinge loss on the tuple labels (end-to-end) and on the image labels (the extra term of dec)."""
    return hinge_loss(tuple_scores, labels), hinge_loss(image_scores.flatten(), image_labels.flatten())


# The losses whose per-sample gradient SNR is measured: what end-to-end training follows, what
# decomposition training follows, and the paper's Fig. 5 decomposition loss (the hinge of each
# tuple's first image alone, as the original's SNR script had it).
LOSS_KINDS = ("e2e", "dec", "dec_first")

# For each parameter group: which module's forward the per-sample loss goes through, and the
# parameter names (in that module) that are differentiated. N1's last layer is its weight only,
# as in the original ('score/weights').
GROUPS = {
    "n1_last": ("head", ("last.weight",)),
    "n2": ("head", None),  # None: every parameter under the prefix below
    "n1": ("model", None),
}


def group_parameters(model: TupleNet, group: str) -> tuple[nn.Module, dict, dict]:
    """(module, chosen params, the other params) for measuring the SNR of `group`."""
    where, names = GROUPS[group]
    module = model.head if where == "head" else model
    params = {name: p.detach() for name, p in module.named_parameters()}
    if names is None:
        prefix = "n2." if group == "n2" else ("body.", "head.last.")
        names = tuple(n for n in params if n.startswith(prefix))
    chosen = {n: params[n] for n in names}
    return module, chosen, {n: p for n, p in params.items() if n not in chosen}


def sample_loss(module: nn.Module, frozen: dict, kind: str):
    """loss(params, x, y, y_img) of ONE tuple (x: its features or images), for torch.func."""

    def loss(params, x, label, image_labels):
        tuple_score, image_scores = functional_call(module, {**frozen, **params}, (x.unsqueeze(0),))
        tuple_loss = torch.relu(1 - label * tuple_score[0])
        if kind == "e2e":
            return tuple_loss
        image_loss = torch.relu(1 - image_labels * image_scores[0])
        if kind == "dec_first":
            return image_loss[0]
        return tuple_loss + image_loss.mean()

    return loss


@torch.no_grad()
def measure_snr(
    model: TupleNet,
    lines: Lines,
    group: str = "n1_last",
    kind: str = "e2e",
    chunk: int = 1024,
    features: torch.Tensor | None = None,
) -> SNREstimate:
    """The gradient SNR of `group` under loss `kind` over the tuples drawn by `lines` (batch, k).

    The tuples are drawn and differentiated `chunk` at a time, so T can be large. For groups inside
    the head, N1's body runs without gradients and only the head is vmapped; `features` (batch, k,
    100) may be given when they are already known (the SNR sweep shares them across k).
    """
    module, chosen, frozen = group_parameters(model, group)
    loss = sample_loss(module, frozen, kind)
    acc = SNRAccumulator()
    per_pass = images_per_pass(lines.theta.device)
    for start in range(0, lines.theta.shape[0], chunk):
        part = lines[start : start + chunk]
        image_labels = part.labels
        labels = tuple_labels(image_labels)
        if module is not model.head:
            acc.add(per_sample_grads(loss, chosen, render(part), labels, image_labels))
            continue
        x = model.features(render(part), per_pass) if features is None else features[start : start + chunk]
        # vmap over the tiny head is fastest in blocks of about a thousand (big blocks thrash).
        for i in range(0, x.shape[0], HEAD_VMAP):
            acc.add(
                per_sample_grads(
                    loss, chosen, x[i : i + HEAD_VMAP], labels[i : i + HEAD_VMAP], image_labels[i : i + HEAD_VMAP]
                )
            )
    return acc.estimate()
