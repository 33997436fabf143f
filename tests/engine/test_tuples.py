"""Family 2a (line-image tuples): the generator's distribution, the model, the losses, training."""

from __future__ import annotations

import math

import pytest
import torch

from engine.catalog import load_preset
from engine.config import ConfigError, build_config
from engine.families.tuples import TupleConfig
from engine.families.tuples.lines import (
    MAX_LENGTH,
    MIN_LENGTH,
    SIZE,
    Lines,
    reference_image,
    render,
    sample_lines,
    sample_tuples,
    tuple_labels,
)
from engine.families.tuples.model import TupleNet
from engine.families.tuples.trainer import TupleTrainer
from engine.nn import TF1Adam, make_optimizer, parameter_count
from engine.seeding import generator
from tests.conftest import family_threads

CPU = torch.device("cpu")


use_family_threads = family_threads("tuples")


def config(**values) -> TupleConfig:
    return build_config(TupleConfig, values)


@pytest.fixture(scope="module")
def lines() -> Lines:
    return sample_lines((20_000,), torch.Generator().manual_seed(1), "cpu")


def test_line_parameters_follow_the_paper(lines):
    assert lines.theta.min() >= 0 and lines.theta.max() < math.pi
    assert lines.length.min() >= MIN_LENGTH and lines.length.max() < MAX_LENGTH
    assert lines.center.min() >= 0 and lines.center.max() < SIZE
    # Uniform: the quartiles of each parameter sit where a uniform's do (20,000 draws: +-0.01 of the range).
    for values, low, high in (
        (lines.theta, 0, math.pi),
        (lines.length, MIN_LENGTH, MAX_LENGTH),
        (lines.center.flatten(), 0, SIZE),
    ):
        q = torch.quantile(values.double(), torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
        expected = low + (high - low) * torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
        assert torch.allclose(q, expected, atol=0.015 * (high - low))


def test_image_labels_are_balanced_and_follow_the_angle(lines):
    labels = lines.labels
    assert set(labels.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(labels > 0, lines.theta < math.pi / 2)
    assert abs(float((labels > 0).float().mean()) - 0.5) < 0.02


def test_images_match_the_original_per_pixel_loop():
    """The vectorised drawing is the original's loop exactly (in float64, as numpy drew it)."""
    gen = torch.Generator().manual_seed(2)
    some = sample_lines((300,), gen, "cpu")
    some = Lines(some.theta.double(), some.length.double(), some.center.double())
    images = render(some)
    for i in range(300):
        expected = reference_image(
            float(some.theta[i]), float(some.length[i]), (float(some.center[i, 0]), float(some.center[i, 1]))
        )
        assert images[i].tolist() == [[float(v) for v in row] for row in expected], f"line {i}"


def test_lit_pixel_counts_and_line_lengths(lines):
    images = render(lines)
    assert set(images.unique().tolist()) == {0.0, 1.0}
    counts = images.flatten(1).sum(1)
    half = torch.floor(lines.length / 2)
    # At least the centre pixel; at most the 2 * floor(l/2) - 1 points the loop visits.
    assert counts.min() >= 1 and bool((counts <= 2 * half - 1).all()) and counts.max() <= 21
    # Every lit pixel lies on the line: within sqrt(2) of the line through the centre (truncation
    # moves a point by less than 1 in each coordinate).
    rows, cols = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    for i in range(0, 2000, 7):
        lit = images[i].bool()
        dr, dc = rows[lit] - lines.center[i, 0], cols[lit] - lines.center[i, 1]
        normal = -dr * math.sin(lines.theta[i]) + dc * math.cos(lines.theta[i])
        assert normal.abs().max() < math.sqrt(2) + 1e-4
    # Lines wholly inside the image span their length: the lit pixels' extent is within 2 * sqrt(2)
    # of the distance between the end points, 2 * (floor(l/2) - 1).
    reach = (half - 1).unsqueeze(1) * torch.stack([lines.theta.cos().abs(), lines.theta.sin().abs()], 1)
    inside = ((lines.center - reach >= 0) & (lines.center + reach < SIZE - 1)).all(1)
    checked = 0
    for i in torch.nonzero(inside).flatten()[:300].tolist():
        lit = torch.nonzero(images[i]).double()
        extent = torch.cdist(lit, lit).max()
        assert abs(float(extent) - 2 * float(half[i] - 1)) <= 2 * math.sqrt(2)
        checked += 1
    assert checked == 300


def test_tuple_label_is_the_parity_of_the_image_labels():
    batch = sample_tuples(5000, 3, torch.Generator().manual_seed(3), "cpu")
    assert batch.images.shape == (5000, 3, SIZE, SIZE)
    rising = (batch.image_labels > 0).sum(1)
    assert torch.equal(batch.labels, torch.where(rising % 2 == 1, 1.0, -1.0))
    assert abs(float((batch.labels > 0).float().mean()) - 0.5) < 0.03
    # Small cases by hand: +1 when an odd number of images rise.
    assert tuple_labels(torch.tensor([[1.0], [-1.0]])).tolist() == [1.0, -1.0]
    assert tuple_labels(torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])).tolist() == [-1.0, 1.0, -1.0]


def test_the_generator_is_seeded():
    a = sample_tuples(64, 2, torch.Generator().manual_seed(5), "cpu")
    b = sample_tuples(64, 2, torch.Generator().manual_seed(5), "cpu")
    c = sample_tuples(64, 2, torch.Generator().manual_seed(6), "cpu")
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)


def test_parameter_count_pinned():
    # conv 1->16 (416) + conv 16->16 (6,416) + 784->50 (39,250) + 50->100 (5,100) + 100->1 (101)
    # + N2: k->100 (100 k + 100) + 100->1 (101).
    assert parameter_count(TupleNet(4, generator(0, "init"))) == 416 + 6416 + 39250 + 5100 + 101 + 500 + 101


def test_micro_batches_give_the_same_update():
    whole = TupleTrainer(config(k=2, batch=12, micro_batch=12, snr_every=0), CPU, seed=0)
    parts = TupleTrainer(config(k=2, batch=12, micro_batch=5, snr_every=0), CPU, seed=0)
    a, b = whole.train_step(1), parts.train_step(1)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    for p, q in zip(whole.model.parameters(), parts.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_e2e_does_not_train_on_image_labels():
    trainer = TupleTrainer(config(k=2, batch=16, approach="e2e", snr_every=0), CPU, seed=0)
    out = trainer.train_step(1)
    assert torch.equal(out["train_loss"], out["tuple_loss"])
    dec = TupleTrainer(config(k=2, batch=16, approach="dec", snr_every=0), CPU, seed=0)
    out = dec.train_step(1)
    assert torch.allclose(out["train_loss"], out["tuple_loss"] + out["image_loss"])


def test_fixed_pool_is_walked_in_order_and_reused():
    trainer = TupleTrainer(config(k=2, batch=4, pool=9), CPU, seed=0)
    first, second, third = trainer.next_lines(), trainer.next_lines(), trainer.next_lines()
    assert not torch.equal(first.theta, second.theta)
    assert torch.equal(first.theta, third.theta)  # 9 tuples hold two batches of 4: back to the start


def test_tf1_adam_matches_tensorflow_1s_update():
    lr, b1, b2, eps = 0.01, 0.9, 0.99, 1e-5
    w0 = torch.tensor([0.5, -1.0, 2.0])
    w = torch.nn.Parameter(w0.clone())
    opt = make_optimizer("adam_tf1", [w], lr, betas=(b1, b2), eps=eps)
    assert isinstance(opt, TF1Adam)
    ref, m, v = w0.double().clone(), torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for t in range(1, 6):
        grad = torch.tensor([1e-3, -0.2, 3.0]) * t
        w.grad = grad.clone()
        opt.step()
        # tf.train.AdamOptimizer: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t m / (sqrt(v) + eps)
        m = b1 * m + (1 - b1) * grad.double()
        v = b2 * v + (1 - b2) * grad.double() ** 2
        ref -= lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (v.sqrt() + eps)
        assert torch.allclose(w.detach().double(), ref, rtol=1e-5, atol=1e-7), t
    # torch's form differs on the first step when eps matters (a tiny gradient).
    u = torch.nn.Parameter(w0.clone())
    plain = make_optimizer("adam", [u], lr, betas=(b1, b2), eps=eps)
    u.grad = torch.tensor([1e-6, 0.0, 0.0])
    w2 = torch.nn.Parameter(w0.clone())
    tf1 = make_optimizer("adam_tf1", [w2], lr, betas=(b1, b2), eps=eps)
    w2.grad = u.grad.clone()
    plain.step()
    tf1.step()
    assert not torch.allclose(u[0], w2[0], rtol=0, atol=1e-4)


def test_decomposition_learns_the_images_at_k1():
    """Must show: decomposition with k = 1 reaches image accuracy >= 0.9 on a small budget."""
    trainer = TupleTrainer(
        config(k=1, approach="dec", batch=50, eval_samples=1000, snr_every=0, steps=300), CPU, seed=0
    )
    before = trainer.evaluate(0)
    for step in range(1, 301):
        trainer.train_step(step)
    after = trainer.evaluate(300)
    assert after["image_acc"] >= 0.9, (before, after)
    assert after["test_acc"] >= 0.85  # at k = 1 the tuple label is the image label


def test_evaluate_streams_the_snr_with_its_resolution():
    trainer = TupleTrainer(config(k=2, snr_every=10, snr_samples=256, eval_samples=64, steps=100), CPU, seed=0)
    values = trainer.evaluate(0)
    assert values["snr_resolution"] >= 1 / 256
    assert ("snr" in values) != ("snr_upper" in values)  # a number or a bound, never both
    assert "snr_resolution" not in trainer.evaluate(5)  # not due yet
    assert "snr_resolution" in trainer.evaluate(10)


def test_sample_tuples_snapshot():
    trainer = TupleTrainer(config(k=3, show_tuples=2, eval_samples=10), CPU, seed=0)
    (snap,) = trainer.snapshots(0)
    assert snap.kind == "images" and len(snap.data["images"]) == 6
    first = snap.data["images"][0]
    assert len(first["pixels"]) == SIZE and all(len(row) == SIZE for row in first["pixels"])
    assert {v for row in first["pixels"] for v in row} <= {0, 1}
    assert "y=" in first["label"] and first["group"] == 0
    assert trainer.snapshots(1) == []  # rate-limited by snapshot_every


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError, match="pool"):
        config(pool=10, batch=20)
    with pytest.raises(ConfigError, match="k: got 0"):
        config(k=0)
    with pytest.raises(ConfigError, match="approach"):
        config(approach="both")


@pytest.mark.parametrize(
    "name", [f"tuple{k}-{a}{p}" for k in range(1, 5) for a in ("e2e", "dec") for p in ("", "-paper")]
)
def test_presets_load(name):
    preset = load_preset(name)
    cfg = preset.config()
    assert preset.family == "tuples" and cfg.k == int(name[5]) and cfg.approach == name.split("-")[1]
    if name.endswith("-paper"):
        assert cfg.batch == 200 and cfg.steps == (20_000 if cfg.approach == "e2e" else 2_500)
