"""Family 2a's SNR sweep: the gradient SNR at initialisation vs k (Sec. 3.3, Fig. 5 of the paper).

A measurement, not training. Each step draws a fresh N1 and T fresh tuples of k_max line images,
and for each k = 1 .. k_max a fresh N2 on the first k images of each tuple; it measures the
signal-to-noise ratio of the per-sample gradient of N1's last layer under the end-to-end loss
and under the decomposition loss (the original's: the hinge of each tuple's first image alone).
The metrics are the running means over the initialisations measured so far, so the figure sharpens
as the steps go. With the first-image loss, decomposition's value (`dec_k`) is the same number for
every k by construction: that loss never sees N2 or the other images, and all k share N1 and the
tuples. So decomposition is also measured under the loss its training follows, the tuple hinge plus
the mean of every image's hinge (`dec_full_k`), which sees N2 and all k images and could fall with k
as end-to-end's does (measured, it rises about k-fold: the mean of k independent image hinges has
1/k of one's noise). Paper: end-to-end's
SNR falls fast with k (below float32 precision for k >= 3); decomposition's stays constant. An
estimate from T samples cannot resolve an SNR below about 1 / T; such values are reported as upper
bounds (`..._upper`), never as numbers.

Torch-free (config and description); the measurement is in `trainer.py`.
"""

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec

MAX_K = 6  # the metrics are declared per k, up to this


@dataclass(frozen=True)
class TupleSNRConfig(BaseConfig):
    k_max: int = knob(4, "measure k = 1 .. k_max images per tuple", low=1, high=MAX_K)
    samples: int = knob(
        20_000, "tuples per estimate (T): the resolution is about 1 / T per initialisation", low=16, high=10_000_000
    )
    dec_loss: str = knob(
        "first",
        "decomposition's loss: first = the hinge of each tuple's first image "
        "(the original's Fig. 5); full = the tuple hinge plus every image's hinge (what "
        "decomposition training minimises)",
        choices=("first", "full"),
    )
    params: str = knob(
        "n1_last",
        "the parameters whose SNR is measured: N1's last layer (the paper's), all of N1, or N2",
        choices=("n1_last", "n1", "n2"),
    )
    steps: int = knob(5, "initialisations to average over (one per step)", low=1, high=100_000)
    eval_every: int = knob(1, "emit the running means every this many initialisations", low=1)


def _metrics() -> tuple[MetricSpec, ...]:
    specs = []
    for approach, words in (
        ("e2e", "end-to-end"),
        ("dec", "decomposition"),
        ("dec_full", "decomposition (training loss)"),
    ):
        for k in range(1, MAX_K + 1):
            specs.append(MetricSpec(f"{approach}_k{k}", f"{words} SNR, k = {k}", f"snr {approach}", log_scale=True))
            specs.append(
                MetricSpec(
                    f"{approach}_k{k}_upper",
                    f"{words} SNR, k = {k}: below resolution, upper bound",
                    f"snr {approach}",
                    log_scale=True,
                )
            )
    specs.append(MetricSpec("resolution", "resolution of the mean SNR (about 1/T)", "snr e2e", log_scale=True))
    return tuple(specs)


SPEC = FamilySpec(
    name="tuple_snr",
    title="Decomposition vs end-to-end: gradient SNR vs k (sweep)",
    claim="at initialisation the end-to-end gradient's SNR vanishes as k grows; decomposition's stays put",
    paper_ref="Sec. 3.3, Fig. 5",
    config_cls=TupleSNRConfig,
    trainer="engine.families.tuple_snr.trainer:TupleSNRSweep",
    metrics=_metrics(),
    cpu_threads=1,
    headline=("e2e_k1", "e2e_k4_upper", "dec_k4", "resolution"),
    order=28,
)
