"""Family 3 (PWL curves, Sec. 4) and its conditioning measurement, at the paper's own sizes.

The runs here are the originals' schedules where they are short (the conditioned convolution's
500 steps) and the same 500 steps for the linear learner it is compared with; each takes about a
second on one CPU thread.
"""

import pytest
import torch

from engine.catalog import load_preset
from engine.config import ConfigError, build_config
from engine.diagnostics import conditioning
from engine.events import Snapshot
from engine.families.pwl import PWLConfig
from engine.families.pwl.data import (
    CurveSets,
    kink_matrix,
    make_curve_sets,
    sample_curves,
    second_difference,
    taught_projector,
)
from engine.families.pwl.trainer import IDEAL_FILTER, PWLTrainer, filter_rows
from engine.families.pwl_condition import PWLConditionConfig
from engine.families.pwl_condition.trainer import PWLConditionTrainer
from engine.seeding import generator
from tests.conftest import train_in_process


def run(trainer_cls, config, seed=0):
    """Train through the real run loop; returns the final metrics per step and the snapshots."""
    torch.set_num_threads(1)
    finished, events = train_in_process(trainer_cls(config, torch.device("cpu"), seed), config)
    assert finished.status == "completed", finished.message
    metrics: dict[int, dict[str, float]] = {}
    for e in events:
        if hasattr(e, "values"):
            metrics.setdefault(e.step, {}).update(e.values)
    snaps = [e for e in events if isinstance(e, Snapshot)]
    return metrics, snaps


def curve_sets(kind="slopes", n=100, m=2000, seed=0) -> CurveSets:
    return make_curve_sets(kind, n, 3, m, 200, train_gen=generator(seed, "data"), val_gen=generator(seed, "eval"))


# --- W and its inverse (Lemma 1) ---------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 10, 100])
def test_w_inverse_is_the_second_difference_operator(n):
    w = kink_matrix(n)
    assert torch.allclose(torch.linalg.inv(w), second_difference(n), atol=1e-9)
    f = torch.randn(5, n, dtype=torch.float64)
    # (f U)_j = f_j - 2 f_{j-1} + f_{j-2}, with f_{-1} = f_{-2} = 0.
    padded = torch.nn.functional.pad(f, (2, 0))
    assert torch.allclose(f @ second_difference(n), padded[:, 2:] - 2 * padded[:, 1:-1] + padded[:, :-2])


def test_curves_are_p_times_w_and_p_is_their_second_difference():
    for kind in ("slopes", "prose", "continuous"):
        f, p = sample_curves(kind, 300, 50, 3, torch.Generator().manual_seed(1))
        assert torch.allclose(p @ kink_matrix(50), f, atol=1e-9), kind
        assert torch.allclose(f @ second_difference(50), p, atol=1e-9), kind


def test_the_original_curves_keep_their_kinks_off_the_edges():
    f, p = sample_curves("slopes", 2000, 100, 3, torch.Generator().manual_seed(2))
    kinks = p != 0
    assert (kinks.sum(dim=1) == 3).all()
    assert not kinks[:, :3].any() and not kinks[:, -3:].any()
    slopes = p.cumsum(dim=1)[kinks].reshape(-1, 3)  # the slope after each kink
    allowed = {(1.0, -1.0, 1.0), (1.0, -2.0, 1.0), (-2.0, 1.0, -1.0), (1.0, -1.0, 2.0)}
    assert {tuple(row) for row in slopes.tolist()} == allowed
    # The paper's prose distribution puts kinks anywhere, the first position included.
    _, p_prose = sample_curves("prose", 2000, 100, 3, torch.Generator().manual_seed(2))
    assert (p_prose[:, :3] != 0).any() and p_prose.abs().max() <= 1


def test_the_data_span_of_the_original_curves_has_dimension_n_minus_6():
    projector = taught_projector(curve_sets())
    assert torch.linalg.matrix_rank(projector).item() == 100 - 6
    # W^-1's columns for the six never-kinked positions are invisible to the data.
    invisible = projector @ second_difference(100)
    assert invisible[:, :3].abs().max() < 1e-9 and invisible[:, -3:].abs().max() < 1e-9


# --- conditioning ------------------------------------------------------------------------------


def test_cond_w_wt_needs_float64():
    w = kink_matrix(100)
    cond = conditioning.gram_condition(w)
    assert cond == pytest.approx(1.346e8, rel=1e-3)
    assert cond == pytest.approx(conditioning.span_condition(w @ w.T)[0], rel=1e-3)
    # Why float64: a float32 eigensolver's error is about eps * lambda_max, several times W W^T's
    # smallest eigenvalue, so in float32 that eigenvalue (and the condition number) is noise; the
    # value it returns depends on the LAPACK build (negative here, 8x too large on another machine).
    eig = torch.linalg.eigvalsh(w @ w.T)
    assert torch.finfo(torch.float32).eps * eig[-1] > 5 * eig[0]
    assert torch.finfo(torch.float64).eps * eig[-1] < 1e-6 * eig[0]


def test_whitening_takes_the_conv_problem_from_1e5_to_about_1():
    sets = curve_sets()
    numbers, whitener = conditioning.conv_problem(
        filter_rows(sets.train_f).reshape(-1, 3), filter_rows(sets.val_f).reshape(-1, 3)
    )
    assert numbers["cond_rows"] > 1e4
    assert numbers["cond_whitened"] < 1.3
    whitened = conditioning.correlation(filter_rows(sets.train_f).reshape(-1, 3) @ whitener)
    assert torch.allclose(whitened, torch.eye(3, dtype=torch.float64), atol=1e-8)


def test_condition_number_fit_exponent_is_at_least_theorem_3s():
    config = build_config(PWLConditionConfig, {})  # n = 25, 50, ..., 200
    metrics, snaps = run(PWLConditionTrainer, config)
    last = metrics[config.steps]
    assert last["n"] == 200
    assert last["exponent"] >= 3.5  # Theorem 3's lower bound
    assert last["exponent"] == pytest.approx(4.0, abs=0.15)  # the growth actually measured
    assert metrics[4]["cond"] == pytest.approx(1.346e8, rel=1e-3)  # n = 100
    plot = [s for s in snaps if s.name == "cond_vs_n"][-1]
    assert plot.kind == "lines" and len(plot.data["series"][0]["x"]) == 8
    assert [s["label"][:3] for s in plot.data["series"]] == ["con", "fit", "slo"]


# --- training (Sec. 4.1.1-4.1.3) ---------------------------------------------------------------


def test_conditioned_conv_learns_the_filter_and_decodes_in_500_steps():
    config = build_config(PWLConfig, {"trainer": "conv_cond"})
    assert (config.steps, config.batch, config.lr) == (500, 10, 0.99)  # the paper's command line
    metrics, snaps = run(PWLTrainer, config)
    start, end = metrics[0], metrics[500]
    learned = [end[f"filter_{k}"] for k in range(3)]
    assert max(abs(a - b) for a, b in zip(learned, IDEAL_FILTER)) < 0.05
    assert end["filter_err"] < 0.05
    assert start["cond"] < 1.3  # the whitened problem is well conditioned
    assert end["val_loss"] < 1e-3 * start["val_loss"]
    curves = [s for s in snaps if s.name == "curves" and s.step == 500][0].data["series"]
    original = torch.tensor([s["y"] for s in curves if s["group"] == "original"])
    decoded = torch.tensor([s["y"] for s in curves if s["group"] == "decoded"])
    scale = original.square().mean().sqrt()
    assert end["curve_rmse"] < 0.1 * scale
    assert (decoded - original).square().mean().sqrt() < 0.1 * scale


def test_unconditioned_linear_is_far_from_w_inverse_after_the_same_500_steps():
    config = build_config(PWLConfig, {"trainer": "linear", "steps": 500})
    metrics, snaps = run(PWLTrainer, config)
    start, end = metrics[0], metrics[500]
    assert start["cond"] == pytest.approx(1.346e8, rel=1e-3)
    assert end["u_err"] == 2.0  # W^-1's -2 in a column the data never reaches stays untouched
    assert end["u_err_taught"] > 1.5  # and what the data can teach has hardly moved
    assert end["val_loss"] > 0.5 * start["val_loss"]
    table = [s for s in snaps if s.name == "conditioning"][-1]
    assert table.kind == "table" and "W W^T" in table.data["rows"][0][0]


def test_plain_conv_is_slower_than_conditioned_conv():
    config = build_config(PWLConfig, {"trainer": "conv", "steps": 500})
    metrics, _ = run(PWLTrainer, config)
    assert metrics[0]["cond"] > 1e4
    assert metrics[500]["filter_err"] > 0.5


def test_autoencoder_trains_and_reconstructs_roughly():
    config = build_config(PWLConfig, {"trainer": "autoencoder", "steps": 200})
    assert config.curves == "continuous" and config.lr == 1e-3 and config.code_size == 6
    trainer = PWLTrainer(config, torch.device("cpu"), 0)
    assert trainer.parameter_count() == (100 * 500 + 500) + (500 * 100 + 100) + (100 * 6 + 6) + (6 * 100 + 100) + (
        100 * 100 + 100
    ) + (100 * 100 + 100)
    metrics, _ = run(PWLTrainer, config)
    assert metrics[200]["val_loss"] < 0.1 * metrics[0]["val_loss"]


def test_a_run_is_fixed_by_its_seed():
    config = build_config(PWLConfig, {"trainer": "conv", "steps": 50})
    first, _ = run(PWLTrainer, config, seed=3)
    again, _ = run(PWLTrainer, config, seed=3)
    other, _ = run(PWLTrainer, config, seed=4)
    assert first[50] == again[50] and first[50] != other[50]


# --- config and presets ------------------------------------------------------------------------


def test_zero_means_the_trainers_original_and_explicit_values_win():
    linear = build_config(PWLConfig, {})
    assert (linear.trainer, linear.steps, linear.batch, linear.lr, linear.eval_every) == (
        "linear",
        50_000,
        100,
        1e-4,
        500,
    )
    auto = build_config(PWLConfig, {"trainer": "autoencoder"})
    assert (auto.steps, auto.lr, auto.curves) == (10_000, 1e-3, "continuous")
    mine = build_config(PWLConfig, {"trainer": "conv_cond", "lr": "0.1", "steps": "40", "curves": "prose"})
    assert (mine.lr, mine.steps, mine.batch, mine.curves, mine.eval_every) == (0.1, 40, 10, "prose", 1)


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError) as err:
        build_config(PWLConfig, {"lr": "-1", "trainer": "mlp"})
    text = " ".join(err.value.problems)
    assert "lr:" in text and "trainer:" in text and "conv_cond" in text
    with pytest.raises(ConfigError, match="pieces"):
        build_config(PWLConfig, {"pieces": "4"})  # the original curves have exactly three kinks
    build_config(PWLConfig, {"pieces": "4", "curves": "prose"})
    with pytest.raises(ConfigError, match="steps"):
        build_config(PWLConditionConfig, {"n_min": "1000", "n_step": "1000", "steps": "10"})


def test_presets_carry_the_original_schedules():
    expected = {
        "pwl-linear": ("linear", 50_000, 100, 1e-4),
        "pwl-conv": ("conv", 50_000, 100, 0.05),
        "pwl-cond": ("conv_cond", 500, 10, 0.99),
        "pwl-autoencoder": ("autoencoder", 10_000, 100, 1e-3),
    }
    for name, values in expected.items():
        c = load_preset(name).config()
        assert (c.trainer, c.steps, c.batch, c.lr) == values, name
    assert load_preset("pwl-linear-short").config().steps < 50_000
    assert load_preset("pwl-condition").family == "pwl_condition"
