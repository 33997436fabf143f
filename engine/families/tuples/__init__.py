"""Family 2a: decomposition vs end-to-end on tuples of line images (Sec. 3.1 and 3.3, Fig. 2, 3, 5).

A sample is a k-tuple of 28x28 images of straight lines; its label is the parity of how many of
the lines rise (theta < pi / 2). One CNN, N1, scores each image; a small MLP, N2, maps the k
sigmoid-squashed scores to the tuple's score. End-to-end training uses only the hinge loss on the
tuple's label; decomposition adds the hinge loss of each image's score against the image's own
label. Decomposition learns for every k in a few hundred steps; end-to-end learns k = 1, 2 and
stays at chance for k >= 3, because the gradient that reaches N1 through the parity is almost all
noise: its signal-to-noise ratio (the gradient SNR, streamed here as `snr`) falls below anything
a run can measure as k grows, while decomposition's stays put (Sec. 3.3, Fig. 5).

This module is the torch-free half (config and description); the trainer is in `trainer.py`,
the image generator in `lines.py`. The SNR-vs-k figure is the `tuple_snr` family.
"""

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

SNR_GROUPS = ("n1_last", "n1", "n2")


@dataclass(frozen=True)
class TupleConfig(BaseConfig):
    k: int = knob(3, "images per tuple; the label is the parity of how many have theta < pi/2", low=1, high=16)
    approach: str = knob(
        "e2e",
        "e2e: hinge loss on the tuple's label only; dec: plus the hinge loss of "
        "each image's score on the image's own label (decomposition)",
        choices=("e2e", "dec"),
    )
    lr: float = knob(1e-3, "Adam learning rate", low=0, low_open=True)
    beta1: float = knob(0.9, "Adam beta1", low=0, high=0.999999)
    beta2: float = knob(0.99, "Adam beta2", low=0, high=0.999999)
    eps: float = knob(1e-5, "Adam epsilon", low=0, low_open=True)
    adam: str = knob(
        "tf1",
        "Adam's form: tf1 adds eps to sqrt(v) before the bias correction, as the "
        "original's TensorFlow 1 did; torch adds it after",
        choices=("tf1", "torch"),
    )
    batch: int = knob(200, "tuples per Adam step", low=1, high=100_000)
    micro_batch: int = knob(
        0,
        "tuples per forward/backward pass inside one step (the update is the same); "
        "0: the whole batch on a GPU, about 256 images on a CPU",
        low=0,
        high=100_000,
    )
    pool: int = knob(
        0,
        "0: fresh tuples every step; N: a fixed pool of N tuples walked in order and "
        "reused, as the original's file of 500,000",
        low=0,
        high=100_000_000,
    )
    eval_samples: int = knob(2000, "tuples in the fixed test set", low=1, high=1_000_000)
    snr_every: int = knob(500, "measure the gradient SNR every this many steps (0: never)", low=0)
    snr_samples: int = knob(
        4000,
        "per-sample gradients per SNR measurement: its resolution is about 1 / snr_samples",
        low=16,
        high=10_000_000,
    )
    snr_params: str = knob(
        "n1_last",
        "the parameters whose gradient SNR is measured: N1's last layer (the paper's), all of N1, or N2",
        choices=SNR_GROUPS,
    )
    show_tuples: int = knob(4, "sample tuples in the images panel (Fig. 2), with N1's verdicts", low=0, high=32)
    snapshot_every: int = knob(1000, "redraw the sample tuples every this many steps", low=1)
    steps: int = knob(
        20_000, "training steps (the original: 20,000 end-to-end, 2,500 decomposition)", low=1, high=10**9
    )
    eval_every: int = knob(100, "evaluate on the test set every this many steps", low=1)

    def problems(self) -> list[str]:
        if 0 < self.pool < self.batch:
            return [f"pool: got {self.pool}, expected 0 (fresh tuples) or at least batch (= {self.batch})"]
        return []


SPEC = FamilySpec(
    name="tuples",
    title="Decomposition vs end-to-end: line-image tuples",
    claim="trained end-to-end on the parity of k line images, a CNN stays at chance for k >= 3; "
    "with each image's label as well it learns at once",
    paper_ref="Sec. 3.1, 3.3, Fig. 2, 3, 5",
    config_cls=TupleConfig,
    trainer="engine.families.tuples.trainer:TupleTrainer",
    metrics=(
        MetricSpec("test_acc", "tuple test accuracy", "accuracy"),
        MetricSpec("image_acc", "per-image accuracy of N1's sign (up to a flip)", "accuracy"),
        MetricSpec("train_loss", "train loss (what is minimised)", "loss"),
        MetricSpec("tuple_loss", "train hinge loss on the tuple label", "loss"),
        MetricSpec("image_loss", "train hinge loss of N1's scores on the image labels", "loss"),
        MetricSpec("test_loss", "test hinge loss on the tuple label", "loss"),
        MetricSpec("snr", "gradient SNR of the chosen layer", "snr", log_scale=True),
        MetricSpec("snr_upper", "gradient SNR below resolution: upper bound", "snr", log_scale=True),
        MetricSpec("snr_resolution", "SNR resolution (about 1/T)", "snr", log_scale=True),
    ),
    cpu_threads=None,  # a 7 GFLOP step: torch's threads pay (1.6x with 2 cores, measured idle)
    headline=("train_loss", "test_acc", "image_acc"),
    order=20,
    live=("lr", "beta1", "beta2"),
)
