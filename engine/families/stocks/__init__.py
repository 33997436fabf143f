"""Family 2b: decomposition vs end-to-end, the "stocks" problem (Sec. 3.2, 3.3, Fig. 4 of the paper).

Inputs are the d one-hot vectors; input i has a hidden label y(i), uniform in [k] (the one stock
its news is good for). The network is a linear layer and a softmax: a distribution N_w(x) over k
stocks. The objective is E[-z . N_w(x)], where z in {+-1}^k is uniform except z_y(x) = +1: the
other stocks' futures are coin flips. End-to-end follows the gradient of -z . N_w(x); decomposition
ignores z and follows the gradient of -e_y(x) . N_w(x). Both estimates are unbiased for the same
objective, but end-to-end's has about k times the variance (Sec. 3.3): with k = 10 both reach
about -1, with k = 1000 or 2000 end-to-end lags far behind. Both runs report the same `objective`
on fresh samples, so they compare directly.

Torch-free (config and description); the trainer is in `trainer.py`.
"""

from dataclasses import dataclass

from engine.config import BaseConfig, knob
from engine.registry import FamilySpec, MetricSpec


@dataclass(frozen=True)
class StocksConfig(BaseConfig):
    d: int = knob(1000, "inputs: the one-hot vectors e_1 .. e_d", low=1, high=10_000_000)
    k: int = knob(1000, "stocks: the network outputs a distribution over k", low=1, high=1_000_000)
    approach: str = knob(
        "e2e",
        "e2e: the gradient of -z . N_w(x); dec: the gradient of -e_y(x) . N_w(x) (needs each input's label)",
        choices=("e2e", "dec"),
    )
    lr: float = knob(0.1, "Adam learning rate", low=0, low_open=True)
    beta1: float = knob(0.9, "Adam beta1", low=0, high=0.999999)
    beta2: float = knob(0.99, "Adam beta2", low=0, high=0.999999)
    eps: float = knob(1e-5, "Adam epsilon", low=0, low_open=True)
    adam: str = knob(
        "tf1",
        "Adam's form: tf1 adds eps to sqrt(v) before the bias correction, as the "
        "original's TensorFlow 1 did; torch adds it after",
        choices=("tf1", "torch"),
    )
    batch: int = knob(100, "samples per Adam step", low=1, high=10_000_000)
    eval_samples: int = knob(500, "fresh samples per evaluation of the objective", low=1, high=10_000_000)
    steps: int = knob(2500, "training steps", low=1, high=10**9)
    eval_every: int = knob(100, "evaluate every this many steps", low=1)

    def problems(self) -> list[str]:
        if self.d * self.k > 500_000_000:
            return [f"d, k: d * k = {self.d * self.k:,} weights is more than 500,000,000"]
        return []


SPEC = FamilySpec(
    name="stocks",
    title="Decomposition vs end-to-end: the stocks problem",
    claim="two unbiased gradient estimates of one objective; end-to-end's has ~k times the variance "
    "and lags far behind for large k",
    paper_ref="Sec. 3.2, 3.3, Fig. 4",
    config_cls=StocksConfig,
    trainer="engine.families.stocks.trainer:StocksTrainer",
    metrics=(
        MetricSpec("objective", "objective mean(-z . N_w(x)) on fresh samples", "objective"),
        MetricSpec("expected_objective", "exact expected objective, -mean_i N_w(e_i)[y(i)]", "objective"),
        MetricSpec("train_loss", "train loss (the estimate followed)", "loss"),
    ),
    cpu_threads=1,
    headline=("objective", "expected_objective"),
    order=25,
    live=("lr", "beta1", "beta2", "batch"),
)
