"""The line images of Sec. 3.1 (Fig. 2), generated on the device for a whole batch at once.

One image is 28x28 and binary: a straight line at angle theta ~ U[0, pi), of length l ~ U[5, 23),
centred at c ~ 28 * U[0, 1)^2. Its pixels are c +- j * (cos theta, sin theta) for
j = 0 .. floor(l / 2) - 1, truncated to integers (toward zero, as the original's astype(int32)),
kept when inside the image; the first coordinate is the row. The image's label is +1 when
theta < pi / 2 and -1 otherwise. A k-tuple holds k independent images; its label is +1 when an
odd number of them have theta < pi / 2 and -1 when an even number do (the original's parity).

The original drew one image at a time in nested Python loops (about 4,500 images a second) and
wrote 500,000 tuples to a file. Here the whole batch is one handful of tensor operations: every
image has the same 21 candidate offsets j in -10 .. 10, those beyond floor(l / 2) or outside the
image are pointed at the line's centre pixel (always inside and always lit), and one scatter_
writes them all. A line is only 4 numbers, so a fixed pool of tuples is stored as its lines and
drawn again when used, instead of as 3 KB of pixels per image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SIZE = 28  # images are SIZE x SIZE
MIN_LENGTH, MAX_LENGTH = 5.0, 23.0  # l ~ U[5, 28 - 5)
MAX_HALF = int(MAX_LENGTH // 2)  # floor(l / 2) <= 11, so |j| <= 10
OFFSETS = MAX_HALF * 2 - 1  # j = -10 .. 10


@dataclass
class Lines:
    """The parameters of n lines (any leading shape), enough to draw them again exactly."""

    theta: torch.Tensor  # angle in [0, pi)
    length: torch.Tensor  # in [5, 23)
    center: torch.Tensor  # (..., 2): row, column in [0, 28)

    @property
    def labels(self) -> torch.Tensor:
        """+1 where theta < pi / 2 (the line rises), -1 otherwise."""
        return torch.where(self.theta < math.pi / 2, 1.0, -1.0)

    def __getitem__(self, index) -> Lines:
        return Lines(self.theta[index], self.length[index], self.center[index])


def sample_lines(shape: tuple[int, ...], gen: torch.Generator, device: torch.device | str) -> Lines:
    """Draw the parameters of lines of the given shape (e.g. (batch, k)) from the paper's distribution."""
    u = torch.rand(*shape, 4, generator=gen, device=device)
    return Lines(
        theta=u[..., 0] * math.pi, length=MIN_LENGTH + (MAX_LENGTH - MIN_LENGTH) * u[..., 1], center=SIZE * u[..., 2:]
    )


def render(lines: Lines) -> torch.Tensor:
    """Draw lines of shape S as float images of shape S + (28, 28), 1 on the line and 0 elsewhere."""
    shape = lines.theta.shape
    theta = lines.theta.reshape(-1, 1, 1)
    half = torch.floor(lines.length.reshape(-1, 1) / 2)
    j = torch.arange(-(MAX_HALF - 1), MAX_HALF, device=theta.device, dtype=theta.dtype)  # (21,)
    direction = torch.cat([torch.cos(theta), torch.sin(theta)], 1)  # (n, 2, 1): row, column
    points = torch.trunc(lines.center.reshape(-1, 2, 1) + direction * j)  # (n, 2, 21)
    inside = (points.clamp(0, SIZE - 1) == points).all(1) & (j.abs() < half)
    flat = points[:, 1].add(points[:, 0], alpha=SIZE)
    # The middle offset (j = 0) is the centre pixel, always inside: send the others there.
    flat = torch.where(inside, flat, flat[:, MAX_HALF - 1 : MAX_HALF]).long()
    images = torch.zeros(flat.shape[0], SIZE * SIZE, device=theta.device)
    images.scatter_(1, flat, 1.0)
    return images.view(*shape, SIZE, SIZE)


def tuple_labels(image_labels: torch.Tensor) -> torch.Tensor:
    """+1 when an odd number of a tuple's images (last dim) are labelled +1, else -1."""
    odd = (image_labels > 0).sum(-1) % 2
    return odd.float() * 2 - 1


@dataclass
class TupleBatch:
    images: torch.Tensor  # (batch, k, 28, 28)
    image_labels: torch.Tensor  # (batch, k), +-1
    labels: torch.Tensor  # (batch,), +-1: the parity
    lines: Lines


def make_batch(lines: Lines) -> TupleBatch:
    image_labels = lines.labels
    return TupleBatch(render(lines), image_labels, tuple_labels(image_labels), lines)


def sample_tuples(batch: int, k: int, gen: torch.Generator, device: torch.device | str) -> TupleBatch:
    """`batch` fresh k-tuples of independent line images, with their labels."""
    return make_batch(sample_lines((batch, k), gen, device))


def reference_image(theta: float, length: float, center: tuple[float, float]):
    """One image drawn the way the original script drew it, pixel by pixel (for tests and the benchmark).

    Returns a 28x28 nested list of 0/1. Kept deliberately close to the original's loop.
    """
    image = [[0] * SIZE for _ in range(SIZE)]
    unit = (math.cos(theta), math.sin(theta))
    for j in range(int(length // 2)):
        for sign in (-1, 1):
            r = int(center[0] + sign * unit[0] * j)
            c = int(center[1] + sign * unit[1] * j)
            if 0 <= r < SIZE and 0 <= c < SIZE:
                image[r][c] = 1
    return image
