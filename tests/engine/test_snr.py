"""The gradient SNR diagnostic (engine/diagnostics/snr.py) and the paper's Fig. 5 claim."""

from __future__ import annotations

import math

import pytest
import torch

from engine.config import build_config
from engine.diagnostics.snr import SNRAccumulator, combine, per_sample_grads
from engine.families.tuple_snr import TupleSNRConfig
from engine.families.tuple_snr.trainer import TupleSNRSweep
from engine.families.tuples.lines import render, sample_lines
from engine.families.tuples.model import LOSS_KINDS, TupleNet, measure_snr
from engine.seeding import generator
from tests.conftest import family_threads
from tests.engine.reference import estimate_snr, gradient_snr

CPU = torch.device("cpu")


use_family_threads = family_threads("tuple_snr")


def gaussian_grads(t: int, mean: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return mean + std * torch.randn(t, mean.numel(), generator=gen, dtype=torch.float64)


def test_known_snr_is_recovered_within_its_standard_error():
    p, t = 50, 20_000
    mean = torch.full((p,), 0.02, dtype=torch.float64)  # signal 50 * 4e-4 = 0.02
    est = estimate_snr(gaussian_grads(t, mean, std=1.0))  # noise 50
    true = 0.02 / 50
    assert est.noise == pytest.approx(50, rel=0.03)
    assert est.resolved and abs(est.snr - true) < 4 * est.se + 4 / t
    assert est.resolution == max(1 / t, 3 * est.se)
    assert est.metrics() == {"snr": est.snr, "snr_resolution": est.resolution}


def test_bias_correction_and_an_unresolved_snr_is_a_bound_not_a_number():
    t = 2000
    grads = gaussian_grads(t, torch.zeros(10, dtype=torch.float64), std=1.0, seed=1)
    est = estimate_snr(grads)
    naive = float(grads.mean(0).square().sum()) / est.noise
    assert naive == pytest.approx(1 / t, rel=0.6)  # the plain estimate sits near 1/T for a zero signal
    assert abs(est.snr) < 3 * est.se  # the corrected one near 0
    assert not est.resolved
    values = est.metrics("snr")
    assert "snr" not in values and values["snr_upper"] >= est.resolution >= 1 / t
    assert est.describe().startswith("< ")


def test_standard_error_matches_the_spread_across_repeats():
    # A zero signal in 3 effective dimensions: se = sqrt(2 tr S^2) / (T tr S) = sqrt(2/3) / T.
    t, repeats = 500, 200
    std = torch.tensor([1.0, 1.0, 1.0] + [0.0] * 5, dtype=torch.float64)
    estimates = [
        estimate_snr(std * torch.randn(t, 8, generator=torch.Generator().manual_seed(s), dtype=torch.float64))
        for s in range(repeats)
    ]
    spread = torch.tensor([e.snr for e in estimates]).std().item()
    predicted = math.sqrt(2 / 3) / t
    assert spread == pytest.approx(predicted, rel=0.2)
    assert sum(e.se for e in estimates) / repeats == pytest.approx(predicted, rel=0.1)


def test_chunks_accumulate_like_one_block():
    grads = gaussian_grads(3000, torch.full((20,), 0.1, dtype=torch.float64), std=1.0, seed=2)
    acc = SNRAccumulator()
    for part in grads.split(700):
        acc.add(part)
    chunked, whole = acc.estimate(), estimate_snr(grads)
    assert chunked.snr == pytest.approx(whole.snr, rel=1e-9)
    assert chunked.noise == pytest.approx(whole.noise, rel=1e-9)
    assert chunked.se == pytest.approx(whole.se, rel=0.3)  # from different pairs of samples


def test_combine_averages_and_sharpens():
    grads = [gaussian_grads(1000, torch.zeros(5, dtype=torch.float64), 1.0, seed=s) for s in range(4)]
    parts = [estimate_snr(g) for g in grads]
    mean = combine(parts)
    assert mean.snr == pytest.approx(sum(p.snr for p in parts) / 4)
    assert mean.samples == 4000 and mean.resolution < min(p.resolution for p in parts)


def test_per_sample_grads_match_a_loop():
    gen = torch.Generator().manual_seed(3)
    params = {"w": torch.randn(4, 3, generator=gen), "b": torch.randn(3, generator=gen)}
    x, y = torch.randn(6, 4, generator=gen), torch.randn(6, 3, generator=gen)

    def loss(p, xi, yi):
        return torch.relu(xi @ p["w"] + p["b"] - yi).square().sum()

    got = per_sample_grads(loss, params, x, y)
    for i in range(6):
        leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
        loss(leaves, x[i], y[i]).backward()
        assert torch.allclose(got[i], torch.cat([leaves["w"].grad.flatten(), leaves["b"].grad]), atol=1e-6)
    assert gradient_snr(loss, params, (x, y), chunk=4).samples == 6


def test_head_shortcut_equals_differentiating_the_whole_net():
    """The SNR of N1's last layer computed through precomputed features equals the full vmap's."""
    net = TupleNet(2, generator(0, "init"))
    lines = sample_lines((64, 2), torch.Generator().manual_seed(4), "cpu")
    via_head = measure_snr(net, lines, group="n1_last", kind="e2e")
    # The full model with only the last layer's weight free: group "n1" restricted by hand.
    from engine.diagnostics.snr import SNRAccumulator as Acc
    from engine.families.tuples.lines import render, tuple_labels
    from engine.families.tuples.model import sample_loss

    params = {n: p.detach() for n, p in net.named_parameters()}
    chosen = {"head.last.weight": params.pop("head.last.weight")}
    acc = Acc()
    acc.add(
        per_sample_grads(
            sample_loss(net, params, "e2e"), chosen, render(lines), tuple_labels(lines.labels), lines.labels
        )
    )
    full = acc.estimate()
    assert via_head.snr == pytest.approx(full.snr, rel=1e-4, abs=1e-9)
    assert via_head.noise == pytest.approx(full.noise, rel=1e-4)


def test_end_to_end_snr_at_k4_is_far_below_decomposition():
    """Must show (Fig. 5): at initialisation, k = 4, end-to-end's SNR is below decomposition's by
    at least 10x, with T large enough that the resolution allows the comparison."""
    t = 16_000  # resolution ~6e-5: decomposition is ~2e-3 here, so a 10x gap is resolvable
    net = TupleNet(4, generator(0, "init"))
    lines = sample_lines((t, 4), generator(0, "snr"), "cpu")
    with torch.no_grad():
        # N1's body once, for both losses, drawing 2,000 tuples at a time.
        features = torch.cat([net.features(render(lines[i : i + 2000]), 256) for i in range(0, t, 2000)])
    e2e = measure_snr(net, lines, group="n1_last", kind="e2e", chunk=t, features=features)
    dec = measure_snr(net, lines, group="n1_last", kind="dec", chunk=t, features=features)
    assert dec.resolved, dec
    assert 1 / t <= e2e.resolution <= dec.snr / 10  # the resolution can show a 10x gap
    e2e_value = e2e.snr if e2e.resolved else e2e.upper
    assert e2e_value * 10 <= dec.snr, (e2e, dec)


@pytest.mark.slow
def test_fig5_with_the_originals_first_image_loss():
    """Fig. 5 itself: the mean over 3 initialisations, T = 20,000, decomposition = first image's hinge."""
    cfg = build_config(TupleSNRConfig, {"samples": 20_000, "steps": 3, "k_max": 4})
    sweep = TupleSNRSweep(cfg, CPU, seed=0)
    for step in range(1, 4):
        sweep.train_step(step)
    means = sweep.means()
    for k in range(1, 5):
        assert means["dec", k].resolved
    assert means["e2e", 1].resolved
    for k in (3, 4):
        e2e = means["e2e", k]
        assert (e2e.snr if e2e.resolved else e2e.upper) * 10 <= means["dec", k].snr


def test_snr_sweep_emits_metrics_and_a_log_scale_figure():
    cfg = build_config(TupleSNRConfig, {"samples": 300, "steps": 2, "k_max": 3})
    sweep = TupleSNRSweep(cfg, CPU, seed=0)
    assert sweep.evaluate(0) == {} and sweep.snapshots(0) == []
    sweep.train_step(1)
    values = sweep.evaluate(1)
    for approach in ("e2e", "dec"):
        for k in (1, 2, 3):
            assert (f"{approach}_k{k}" in values) != (f"{approach}_k{k}_upper" in values)
    assert values["resolution"] >= 1 / 300
    lines, table = sweep.snapshots(1)
    assert lines.kind == "lines" and lines.data["log_y"] is True
    assert {s["label"] for s in lines.data["series"]} >= {
        "end-to-end",
        "decomposition",
        "resolution (the larger of the two)",
    }
    assert table.kind == "table" and [row[0] for row in table.data["rows"]] == [1, 2, 3]


@pytest.mark.parametrize("group", ["n1_last", "n1", "n2"])
@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_every_group_and_loss_measures(group, kind):
    net = TupleNet(2, generator(1, "init"))
    lines = sample_lines((48, 2), torch.Generator().manual_seed(6), "cpu")
    est = measure_snr(net, lines, group=group, kind=kind, chunk=20)
    assert est.samples == 48 and math.isfinite(est.snr)
    if kind == "dec_first" and group == "n2":  # the first image's hinge never reaches N2
        assert est.noise == 0 and not est.resolved
    else:
        assert est.noise > 0


def test_decomposition_under_its_training_loss_is_measured_per_k_and_can_differ():
    """Fig. 5's decomposition loss (the first image's hinge) gives one number for every k by
    construction (one N1, one set of tuples); the training loss (tuple hinge plus every image's
    hinge) sees N2 and all k images, so each k is its own measurement: fig-snr judges that one."""
    cfg = build_config(TupleSNRConfig, {"samples": 400, "steps": 1, "k_max": 3})
    sweep = TupleSNRSweep(cfg, CPU, seed=0)
    sweep.train_step(1)
    means = sweep.means()
    first = [means["dec", k] for k in (1, 2, 3)]
    assert first[0].snr == first[1].snr == first[2].snr and first[0].noise == first[2].noise
    full = [means["dec_full", k] for k in (1, 2, 3)]
    assert len({e.noise for e in full}) == 3 and len({e.snr for e in full}) == 3
    values = sweep.evaluate(1)
    for k in (1, 2, 3):
        assert (f"dec_full_k{k}" in values) != (f"dec_full_k{k}_upper" in values)
    _, table = sweep.snapshots(1)
    assert "decomposition, training loss" in table.data["columns"]


def test_fig_snr_claims_that_can_differ_between_k_and_needs_a_large_scale_for_float32():
    from engine.catalog import load_preset

    group = load_preset("fig-snr")
    by_metric = {(c.metric, c.over): c for c in group.claims}
    assert ("dec_full_k4", "dec_full_k1") in by_metric  # not dec_k4 / dec_k1, equal by construction
    assert not any(c.metric.startswith("dec_k") and (c.over or "").startswith("dec_k") for c in group.claims)
    assert {("dec_k2", "e2e_k2"), ("dec_k3", "e2e_k3"), ("dec_k4", "e2e_k4")} <= set(by_metric)
    float32 = [c for c in group.claims if c.needs_scale == "large"]
    assert {c.metric for c in float32} == {"e2e_k3", "e2e_k4"}
    assert all(c.at_most == pytest.approx(2.0**-23) for c in float32)
    assert not any(c.claimed_below for c in float32)  # below --scale large not made, not "needs" either
    (large,) = group.members("large")
    assert large.config.samples >= 10_000_000
