"""Family 2b (the stocks problem): the data, the two estimators, and the paper's Fig. 4 gap."""

from __future__ import annotations

import pytest
import torch

from engine.catalog import load_preset
from engine.config import ConfigError, build_config
from engine.families.stocks import StocksConfig
from engine.families.stocks.trainer import StocksTrainer
from tests.conftest import family_threads

CPU = torch.device("cpu")


use_family_threads = family_threads("stocks")


def trainer(**values) -> StocksTrainer:
    return StocksTrainer(build_config(StocksConfig, values), CPU, seed=0)


def test_z_is_plus_one_at_the_inputs_stock_and_a_coin_elsewhere():
    t = trainer(d=50, k=40)
    inputs, z = t.sample(4000, torch.Generator().manual_seed(0))
    own = z.gather(1, t.labels[inputs].unsqueeze(1))
    assert bool((own == 1).all())
    others = z.clone()
    others.scatter_(1, t.labels[inputs].unsqueeze(1), 0.0)
    assert set(z.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(others.sum() / (4000 * 39))) < 0.01  # the other stocks' futures average 0


def test_both_estimators_are_unbiased_for_the_same_gradient():
    """Sec. 3.3: E_z grad(-z . N(x)) = grad(-e_y . N(x)); end-to-end's variance is the larger."""
    t = trainer(d=5, k=8)
    inputs = torch.arange(5).repeat(4000)
    z = torch.randint(2, (inputs.numel(), 8), generator=torch.Generator().manual_seed(1)).float() * 2 - 1
    z.scatter_(1, t.labels[inputs].unsqueeze(1), 1.0)
    p = t.probs(inputs)
    e2e = torch.autograd.grad(-(z * p).sum(1).mean(), t.table, retain_graph=True)[0]
    dec = torch.autograd.grad(-p.gather(1, t.labels[inputs].unsqueeze(1)).mean(), t.table)[0]
    assert torch.allclose(e2e, dec, atol=2e-3)  # the noise of 4,000 samples a row: ~4e-4
    assert not torch.allclose(e2e, dec, atol=1e-5)  # but they are different estimates


def test_decomposition_pulls_ahead_at_k1000():
    """Must show (Fig. 4): with k = 1000, after 1,500 steps decomposition's objective is clearly
    lower than end-to-end's; after 200 they are still alike (so the budget matters)."""
    results = {}
    for approach in ("e2e", "dec"):
        t = trainer(k=1000, approach=approach, steps=1500)
        for step in range(1, 1501):
            t.train_step(step)
            if step == 200:
                early = t.evaluate(step)
        results[approach] = (early, t.evaluate(1500))
    (e2e_early, e2e), (dec_early, dec) = results["e2e"], results["dec"]
    assert abs(e2e_early["expected_objective"] - dec_early["expected_objective"]) < 0.1
    assert dec["objective"] < e2e["objective"] - 0.2, (e2e, dec)
    assert dec["expected_objective"] < e2e["expected_objective"] - 0.2
    assert dec["objective"] < -0.6


def test_k10_both_approaches_learn():
    for approach in ("e2e", "dec"):
        t = trainer(k=10, approach=approach)
        for step in range(1, 401):
            t.train_step(step)
        assert t.evaluate(400)["expected_objective"] < -0.9, approach


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError, match="d, k"):
        build_config(StocksConfig, {"d": 1_000_000, "k": 1000})
    with pytest.raises(ConfigError, match="lr"):
        build_config(StocksConfig, {"lr": 0})


@pytest.mark.parametrize("k", [10, 1000, 2000])
@pytest.mark.parametrize("approach", ["e2e", "dec"])
def test_presets_load(k, approach):
    preset = load_preset(f"stocks{k}-{approach}")
    cfg = preset.config()
    assert preset.family == "stocks" and cfg.k == k and cfg.approach == approach and cfg.steps == 2500
