"""Family 3: architecture and conditioning, encoding piecewise-linear curves (Sec. 4, Fig. 6, Theorem 3).

A curve sampled at x = 0 .. n-1 with a few kinks, f = p W with W[i, j] = max(0, j - i + 1), is to be
encoded as p (the slope change at each kink). The map f -> p is linear, p = f W^-1, and W^-1 is
the second-difference operator, so four learners that can all express it train very differently:

- `linear`: a full n x n matrix U (p = f U). Convex, but its condition number is that of W W^T,
  Omega(n^3.5) (Theorem 3; about n^4 measured, 1.35e8 at n = 100): 50,000 Adam steps still leave
  the kinks blurred (Fig. 6a).
- `conv`: a 3-tap filter, p_j = w0 f_j + w1 f_{j-1} + w2 f_{j-2}. Three parameters, but the 3x3
  correlation of the input rows still has a condition number of Theta(n^3) (Sec. 4.1.2, Fig. 6b).
- `conv_cond`: the same filter on rows whitened by C^-1/2 (C = that 3x3 correlation, measured on
  the training set). The condition number drops to about 1 and 500 steps give an almost exact
  decoder (Sec. 4.1.3, Fig. 6c).
- `autoencoder`: a deep encoder 100-500-100-6 and decoder 6-100-100-100: more expressive power does
  not fix the optimisation; the kinks come out rounded (Sec. 4.1.4, Fig. 6d).

Per-trainer defaults. The original script gave each trainer its own learning rate, batch, number
of steps and curve distribution. Rather than four families or presets that must restate them,
`lr`, `batch`, `steps`, `eval_every` and `code_size` default to 0 and `curves` to "original",
meaning "this trainer's original value"; `PWLConfig.__post_init__` replaces them with the value
(table `ORIGINAL`), so the resolved numbers are what a run actually uses, what RunStarted's config
and run.json record, and what `gradfail presets show` prints. Choosing a trainer in the TUI form
therefore brings its own schedule with it, and any value the user types wins.

This module is the torch-free half (config and description); the torch side is `trainer.py`,
the curves and W are in `data.py`, and the condition numbers in engine/diagnostics/conditioning.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

TRAINERS = ("linear", "conv", "conv_cond", "autoencoder")
CURVES = ("original", "slopes", "prose", "continuous")

# The original script's settings (PWL_fail1.py, main() and the paper's Appendix C command lines).
ORIGINAL = {
    "linear": {"lr": 1e-4, "batch": 100, "steps": 50_000, "curves": "slopes"},
    "conv": {"lr": 0.05, "batch": 100, "steps": 50_000, "curves": "slopes"},
    "conv_cond": {"lr": 0.99, "batch": 10, "steps": 500, "curves": "slopes"},
    "autoencoder": {"lr": 1e-3, "batch": 100, "steps": 10_000, "curves": "continuous"},
}
EVALS_PER_RUN = 100  # eval_every = 0 means steps / 100: a smooth loss curve at any run length


@dataclass(frozen=True)
class PWLConfig(BaseConfig):
    trainer: str = knob(
        "linear",
        "what learns f -> p: linear (n x n matrix), conv (3-tap filter), "
        "conv_cond (the filter on whitened rows) or autoencoder (deep encoder/decoder)",
        choices=TRAINERS,
    )
    n: int = knob(100, "sample points per curve (x = 0 .. n-1)", low=9, high=1000)
    pieces: int = knob(3, "kinks per curve (the 'slopes' distribution has exactly 3)", low=1, high=100)
    curves: str = knob(
        "original",
        "curve distribution: slopes (original for linear/conv: kinks in "
        "[3, n-3), slope sequences like (1, -1, 1)); prose (the paper's text: kinks uniform "
        "in [0, n), slope changes U[-1, 1]); continuous (original for the autoencoder: real "
        "kinks in [0, n)); original = the trainer's own",
        choices=CURVES,
    )
    train_size: int = knob(
        10_000, "training curves (minibatches are drawn from them with replacement)", low=1, high=1_000_000
    )
    val_size: int = knob(1_000, "validation curves", low=1, high=100_000)
    optimizer: str = knob("adam", "optimizer (the original: Adam with TensorFlow's defaults)", choices=("adam", "sgd"))
    lr: float = knob(
        0.0,
        "learning rate; 0 = the trainer's original (linear 1e-4, conv 0.05, conv_cond 0.99, autoencoder 1e-3)",
        low=0,
    )
    batch: int = knob(
        0, "curves per step; 0 = the trainer's original (conv_cond 10, others 100)", low=0, high=1_000_000
    )
    steps: int = knob(
        0,
        "training steps; 0 = the trainer's original (linear and conv 50,000, conv_cond 500, autoencoder 10,000)",
        low=0,
        high=10**9,
    )
    eval_every: int = knob(0, "validate every this many steps; 0 = steps / 100", low=0)
    curves_every: int = knob(
        0,
        "send the decoded-curves picture every this many steps (rounded up to an evaluation); 0 = at every evaluation",
        low=0,
    )
    shown_curves: int = knob(3, "validation curves in the decoded-curves picture", low=1, high=10)
    code_size: int = knob(0, "autoencoder code width; 0 = 2 * pieces (the original: 6)", low=0, high=1000)
    code_relu: bool = knob(True, "autoencoder: ReLU on the code layer too (the original has it)")
    dtype: str = knob(
        "float32",
        "training precision (condition numbers, W^-1 and the whitening are always computed in float64)",
        choices=("float32", "float64"),
    )

    def __post_init__(self):
        # Resolve "0 = the trainer's original" once, here, so every reader sees real numbers.
        # (A frozen dataclass: object.__setattr__ is the documented way to set fields in __post_init__.)
        original = ORIGINAL.get(self.trainer, ORIGINAL["linear"])
        for name in ("lr", "batch", "steps"):
            if not getattr(self, name):
                object.__setattr__(self, name, original[name])
        if self.curves == "original":
            object.__setattr__(self, "curves", original["curves"])
        if not self.eval_every:
            object.__setattr__(self, "eval_every", max(1, self.steps // EVALS_PER_RUN))
        if not self.code_size:
            object.__setattr__(self, "code_size", 2 * self.pieces)

    def problems(self) -> list[str]:
        found = []
        if self.curves == "slopes":
            if self.pieces != 3:
                found.append(
                    f"pieces: got {self.pieces}, but curves = slopes has exactly 3 kinks "
                    "(use curves = prose or continuous for other counts)"
                )
            elif self.n - 6 < self.pieces:
                found.append(f"n: got {self.n}, curves = slopes needs n >= {self.pieces + 6}")
        elif self.pieces > self.n:
            found.append(f"pieces: got {self.pieces}, expected at most n (= {self.n})")
        if self.shown_curves > self.val_size:
            found.append(f"shown_curves: got {self.shown_curves}, expected at most val_size (= {self.val_size})")
        return found


SPEC = FamilySpec(
    name="pwl",
    title="Architecture and conditioning (PWL curves)",
    claim="all four learners can express f -> p, but the fully connected one is badly conditioned "
    "(Omega(n^3.5)); a convolution with whitened inputs learns it in a few hundred steps",
    paper_ref="Sec. 4, Fig. 6, Theorem 3",
    config_cls=PWLConfig,
    trainer="engine.families.pwl.trainer:PWLTrainer",
    metrics=(
        MetricSpec("train_loss", "train loss", "loss", log_scale=True),
        MetricSpec("val_loss", "validation loss", "loss", log_scale=True),
        MetricSpec("curve_rmse", "decoded-curve RMS error (validation)", "curve error", log_scale=True),
        MetricSpec("u_err", "max |U - W^-1|", "error vs W^-1", log_scale=True),
        MetricSpec("u_err_taught", "max |U - W^-1| on the data's span", "error vs W^-1", log_scale=True),
        MetricSpec("filter_0", "filter w0 (ideal 1)", "filter"),
        MetricSpec("filter_1", "filter w1 (ideal -2)", "filter"),
        MetricSpec("filter_2", "filter w2 (ideal 1)", "filter"),
        MetricSpec("filter_err", "max |filter - (1, -2, 1)|", "error vs W^-1", log_scale=True),
        MetricSpec("cond", "condition number of the problem", "conditioning", log_scale=True),
    ),
    cpu_threads=1,
    headline=("train_loss", "val_loss", "curve_rmse"),
    order=30,
    live=("lr", "batch"),
)
