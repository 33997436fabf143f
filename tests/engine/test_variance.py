"""The target-variance diagnostic (Theorems 1 and 2) against brute force, and the parity-variance sweep."""

import pytest
import torch

from engine.config import ConfigError, build_config
from engine.diagnostics.variance import (
    all_inputs,
    mlp_gradients,
    parity_orders,
    parity_target_variance,
    sampled_parity_variance,
    walsh_hadamard,
)
from engine.events import Metrics, Snapshot
from engine.families.parity import ParityConfig
from engine.families.parity.trainer import ParityTrainer
from engine.families.parity_variance import ParityVarianceConfig
from engine.families.parity_variance.trainer import ParityVarianceTrainer, log2_slope, square_loss
from engine.nn import hinge_loss, mlp
from tests.conftest import train_in_process
from tests.engine.reference import all_target_gradients, sampled_parity_variance_by_loop


def network(d, depth=1, width_mult=3, seed=0, jitter=0.3):
    """A parity network with its biases and weights moved off the init, so ReLUs and hinge kinks vary."""
    model = mlp([d] + [width_mult * d] * depth + [1], torch.Generator().manual_seed(seed)).double()
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(jitter * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def parity_labels(x, v):
    mask = torch.tensor([(v >> i) & 1 for i in range(x.shape[1])], dtype=torch.bool)
    return x[:, mask].prod(1)  # the empty product is the constant parity


def brute_force_gradients(model, d, loss):
    """grad F_h for every parity h, one autograd pass per target over all 2^d inputs."""
    x = all_inputs(d, dtype=torch.float64)
    rows = []
    for v in range(1 << d):
        model.zero_grad()
        loss(model(x)[:, 0], parity_labels(x, v)).backward()
        rows.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    return torch.stack(rows)


def test_walsh_hadamard_is_the_parity_transform():
    d = 7
    t = torch.randn(1 << d, 3, dtype=torch.float64)
    x = all_inputs(d, dtype=torch.float64)
    explicit = torch.stack([parity_labels(x, v) for v in range(1 << d)])  # row v = h_v over the inputs
    for block_bits in (1, 3, 6):
        assert torch.allclose(walsh_hadamard(t, block_bits), explicit @ t)
    assert parity_orders(3).tolist() == [0, 1, 1, 2, 1, 2, 2, 3]


@pytest.mark.parametrize("depth", [1, 2])
def test_per_input_gradients_match_autograd(depth):
    model = network(4, depth)
    x = torch.randn(9, 4, dtype=torch.float64)
    dense = mlp_gradients(model, x).dense()
    for i in range(x.shape[0]):
        grads = torch.autograd.grad(model(x[i : i + 1])[0, 0], list(model.parameters()))
        assert torch.allclose(dense[i], torch.cat([g.flatten() for g in grads]), atol=1e-12)
    assert torch.allclose(mlp_gradients(model, x).sq_norms(), dense.square().sum(1))


@pytest.mark.parametrize("loss", [hinge_loss, square_loss], ids=["hinge", "square"])
@pytest.mark.parametrize("d,depth", [(3, 1), (5, 1), (4, 2)])
def test_exact_parity_variance_matches_brute_force(d, depth, loss):
    model = network(d, depth, seed=d)
    brute = brute_force_gradients(model, d, loss)
    expected = (brute - brute.mean(0)).square().sum(1).mean().item()
    measured = parity_target_variance(model, d, loss, by_order=True)
    assert measured.variance == pytest.approx(expected, rel=1e-9)
    assert torch.allclose(all_target_gradients(model, d, loss), brute, atol=1e-12)
    assert measured.variance <= measured.bound * (1 + 1e-9)
    # The split by order: E_h ||A_h||^2 with A_h = grad F_h - the part every target shares.
    spread = brute - brute_shared_part(model, d, loss)
    orders = parity_orders(d)
    by_order = [spread[orders == k].square().sum().item() / (1 << d) for k in range(d + 1)]
    assert measured.order_energy == pytest.approx(by_order, rel=1e-9, abs=1e-15)


def brute_shared_part(model, d, loss):
    """E_x[alpha g]: the part of grad F_h that does not depend on h (the mean of the +1 and -1 labels)."""
    x = all_inputs(d, dtype=torch.float64)
    grads = []
    for label in (1.0, -1.0):
        model.zero_grad()
        loss(model(x)[:, 0], torch.full((x.shape[0],), label, dtype=torch.float64)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    return (grads[0] + grads[1]) / 2


def sweep(d_values, seed=0):
    rows = []
    for d in d_values:
        model = mlp([d, 10 * d, 1], torch.Generator().manual_seed(seed * 1000 + d))
        rows.append(parity_target_variance(model, d, hinge_loss))
    return rows


def test_variance_is_below_the_bound_and_falls_like_the_bound():
    rows = sweep(range(2, 13))
    for r in rows:
        assert 0 < r.variance <= r.bound, (r.d, r.variance, r.bound)
    fit = [r for r in rows if r.d >= 6]
    ds = [r.d for r in fit]
    var_slope = log2_slope(ds, [r.variance for r in fit])
    bound_slope = log2_slope(ds, [r.bound for r in fit])
    assert abs(var_slope - bound_slope) <= 0.15, (var_slope, bound_slope)
    assert -1.2 < var_slope < -0.6  # exponentially small in d: about half per added coordinate


def test_variance_after_training_is_still_below_the_bound():
    model = network(8, width_mult=10, jitter=1.0)  # large weights: many margins past the hinge
    measured = parity_target_variance(model, 8, hinge_loss)
    assert 0 < measured.variance < measured.bound


def test_parity_run_streams_the_variance_on_its_schedule():
    torch.set_num_threads(1)
    config = build_config(ParityConfig, {"d": 8, "steps": 200, "eval_every": 50, "variance_every": 100})
    finished, events = train_in_process(ParityTrainer(config, torch.device("cpu"), 0), config)
    measured = {e.step: e.values for e in events if isinstance(e, Metrics) and "target_var" in e.values}
    assert finished.status == "completed" and sorted(measured) == [0, 100, 200]
    assert all(0 < v["target_var"] <= v["target_var_bound"] for v in measured.values())


def test_parity_refuses_the_variance_beyond_d16():
    with pytest.raises(ConfigError) as info:
        build_config(ParityConfig, {"d": 30, "variance_every": 100})
    assert "variance_every" in str(info.value) and "d <= 16" in str(info.value)
    build_config(ParityConfig, {"d": 30})  # off by default: parity30 is untouched


def test_the_sweep_family_emits_variance_bound_slopes_and_pictures():
    config = build_config(ParityVarianceConfig, {"d_min": 3, "d_max": 9, "steps": 7, "inits": 1, "fit_from": 5})
    finished, events = train_in_process(ParityVarianceTrainer(config, torch.device("cpu"), 0), config)
    assert finished.status == "completed"
    metrics = [e.values for e in events if isinstance(e, Metrics) and "target_var" in e.values]
    assert [m["d"] for m in metrics] == [3, 4, 5, 6, 7, 8, 9]
    assert all(m["target_var"] <= m["target_var_bound"] for m in metrics)
    assert abs(metrics[-1]["var_slope"] - metrics[-1]["bound_slope"]) < 0.3
    snaps = {e.name: e for e in events if isinstance(e, Snapshot)}
    table = snaps["variance_table"].data
    assert len(table["rows"]) == 7 and "share" in table["columns"][-2]
    # Most of the variance sits at parities of order <= 2, a small minority of the targets.
    assert float(table["rows"][-1][-2]) > 0.8
    # The exact variance and the bound at every d, the sampled estimate up to sampled_d_max = 8.
    assert [len(s["x"]) for s in snaps["variance_vs_d"].data["series"]] == [7, 7, 6]


def test_the_sweep_config_says_how_many_steps_it_needs():
    with pytest.raises(ConfigError) as info:
        build_config(ParityVarianceConfig, {"d_max": 12})
    assert "steps" in str(info.value) and "11" in str(info.value)


@pytest.mark.parametrize("loss", [hinge_loss, square_loss], ids=["hinge", "square"])
def test_the_sampled_estimate_is_a_plain_sample_variance_of_autograd_gradients(loss):
    d, k = 5, 40
    model = network(d, depth=2, seed=7)
    measured = sampled_parity_variance(model, d, loss, k, torch.Generator().manual_seed(3))
    drawn = torch.randint(0, 1 << d, (k,), generator=torch.Generator().manual_seed(3))  # the same draws
    assert measured.variance == pytest.approx(sampled_parity_variance_by_loop(model, d, loss, drawn), rel=1e-9)
    exact = parity_target_variance(model, d, loss)
    assert measured.bound == pytest.approx(exact.bound, rel=1e-9)  # G^2 by autograd, not by the manual pass


def test_the_sampled_estimate_agrees_with_the_exact_variance_within_its_error():
    """Independent of Parseval: over many draws the autograd estimate lands within a few of its
    standard errors of the exact value, and its errors are the right size (about 1 on average)."""
    d = 6
    model = mlp([d, 10 * d, 1], torch.Generator().manual_seed(1))
    exact = parity_target_variance(model, d, hinge_loss).variance
    z = []
    for seed in range(20):
        est = sampled_parity_variance(model, d, hinge_loss, 256, torch.Generator().manual_seed(seed))
        z.append((est.variance - exact) / est.stderr)
    assert max(abs(v) for v in z) < 4, z
    assert 0.4 < (sum(v * v for v in z) / len(z)) ** 0.5 < 1.6, z


def test_the_sweep_streams_the_sampled_estimate_only_where_it_can_be_trusted():
    config = build_config(
        ParityVarianceConfig,
        {"d_min": 3, "d_max": 7, "steps": 5, "inits": 2, "by_order": False, "sampled_targets": 256, "sampled_d_max": 5},
    )
    finished, events = train_in_process(ParityVarianceTrainer(config, torch.device("cpu"), 0), config)
    assert finished.status == "completed"
    metrics = {int(e.values["d"]): e.values for e in events if isinstance(e, Metrics) and "d" in e.values}
    assert [d for d, v in metrics.items() if "target_var_sampled" in v] == [3, 4, 5]
    for d in (3, 4, 5):
        assert metrics[d]["sampled_z"] < 4 and metrics[d]["sampled_over_bound_z"] < 4
    assert "sampled_z" not in metrics[6] and "sampled_z" not in metrics[7]
