"""The linear-periodic family (Theorem 2): learnable at small r, not at large r, and the variance behind it."""

import pytest
import torch

from engine.catalog import load_preset
from engine.config import ConfigError, build_config
from engine.diagnostics.variance import PERIODIC_FUNCTIONS, periodic_target_variance, sphere_directions
from engine.events import Metrics, Snapshot
from engine.families.periodic import PeriodicConfig
from engine.families.periodic.trainer import PeriodicTrainer
from engine.nn import mlp
from tests.conftest import train_in_process


def trainer(seed=0, **values):
    torch.set_num_threads(1)
    config = build_config(PeriodicConfig, values)
    return PeriodicTrainer(config, torch.device("cpu"), seed), config


def train(seed=0, **values):
    t, config = trainer(seed, **values)
    finished, events = train_in_process(t, config)
    return t, finished, events


def last(events, name):
    return [e.values[name] for e in events if isinstance(e, Metrics) and name in e.values][-1]


def test_the_variance_falls_as_r_grows():
    # Same network, same x sample and the same unit directions (the variance stream does not
    # depend on r): only the norm r changes. Below r ~ 1.5 all targets are close to the constant
    # cos(0) = 1 and the variance grows with r; past it, Theorem 2's decay.
    measured = {}
    for r in (2.0, 4.0, 8.0):
        t, _ = trainer(d=5, r=r, variance_samples=10_000, variance_directions=200)
        measured[r] = t.measure_variance()
    v2, v4, v8 = measured[2.0], measured[4.0], measured[8.0]
    assert v2.variance > 10 * v4.variance > 0
    assert v4.variance - v8.variance > 3 * (v4.stderr**2 + v8.stderr**2) ** 0.5
    assert abs(v8.variance) < 3 * v8.stderr + 1e-6 * v8.g2  # at r = 8: not resolved from 0


def test_the_estimate_removes_exactly_the_sampling_floor():
    # Brute force: the full gradient of the squared loss on the fixed sample, per direction, by
    # autograd; its plain variance over the directions is the estimate plus the floor it removes.
    gen = torch.Generator().manual_seed(0)
    model = mlp([3, 6, 1], gen).double()
    x = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    directions = sphere_directions(7, 3, 1.5, gen).double()
    psi = PERIODIC_FUNCTIONS["triangle"]
    rows = []
    for v in directions:
        model.zero_grad()
        (0.5 * (model(x)[:, 0] - psi(x @ v)).square().mean()).backward()
        rows.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    g = torch.stack(rows)
    plain = (g - g.mean(0)).square().sum(1).sum().item() / (len(rows) - 1)
    measured = periodic_target_variance(model, x, directions, psi)
    assert plain == pytest.approx(measured.variance * (50 - 1) / 50 + measured.floor, rel=1e-9)


def test_small_r_is_learned_and_large_r_is_not_over_the_same_budget():
    _, finished, easy = train(d=5, r=1.0, steps=1000, eval_every=500, variance_every=0)
    assert finished.status == "completed" and last(easy, "r2") > 0.9
    _, finished, hard = train(d=5, r=8.0, steps=1000, eval_every=500, variance_every=0)
    assert finished.status == "completed" and abs(last(hard, "r2")) < 0.1  # stuck at the mean


def test_the_run_streams_the_variance_resolution_and_the_pictures():
    _, finished, events = train(
        d=4,
        r=1.0,
        steps=40,
        eval_every=20,
        variance_every=20,
        variance_samples=2000,
        variance_directions=50,
        plot_points=30,
    )
    assert finished.status == "completed"
    measured = [e.values for e in events if isinstance(e, Metrics) and "target_var_resolution" in e.values]
    assert len(measured) == 3  # steps 0, 20, 40
    assert all(m.get("target_var", float("inf")) > m["target_var_resolution"] for m in measured)
    snaps = {e.name: e.data for e in events if isinstance(e, Snapshot)}
    series = snaps["projection"]["series"]
    assert [s["label"] for s in series] == ["target cos(t)", "prediction"]
    assert len(series[0]["x"]) == 30 and series[0]["x"] == sorted(series[0]["x"])
    assert len(snaps["target_variance"]["rows"]) == 3


def test_an_unresolved_variance_is_not_plotted_as_a_number():
    _, _, events = train(
        d=5, r=8.0, steps=1, eval_every=1, variance_every=1, variance_samples=2000, variance_directions=50
    )
    measured = [e.values for e in events if isinstance(e, Metrics) and "target_var_resolution" in e.values]
    assert measured and all("target_var" not in m for m in measured)


@pytest.mark.parametrize("psi", sorted(PERIODIC_FUNCTIONS))
def test_periodic_functions_have_period_2pi_and_range_within_1(psi):
    t = torch.linspace(-20, 20, 1001, dtype=torch.float64)
    f = PERIODIC_FUNCTIONS[psi]
    assert f(t).abs().max() <= 1 + 1e-12
    inside = (torch.remainder(t, torch.pi) - torch.pi / 2).abs() < 1.5  # away from square/sawtooth jumps
    assert torch.allclose(f(t)[inside], f(t + 2 * torch.pi)[inside], atol=1e-9)


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError) as info:
        build_config(PeriodicConfig, {"r": 0, "psi": "tan"})
    assert any(p.startswith("r:") for p in info.value.problems)
    assert any(p.startswith("psi:") and "cos" in p for p in info.value.problems)


def test_presets_differ_only_in_r():
    easy, hard = load_preset("periodic-easy").config(), load_preset("periodic-hard").config()
    assert easy.r < hard.r and (easy.d, easy.steps, easy.width_mult) == (hard.d, hard.steps, hard.width_mult)
