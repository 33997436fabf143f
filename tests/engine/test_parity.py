"""The parity family on tiny budgets that still check the paper's behaviour."""

import pytest
import torch

from engine.config import build_config
from engine.events import Metrics
from engine.families.parity import ParityConfig
from engine.families.parity.trainer import ParityTrainer
from tests.conftest import train_in_process


def train(seed=0, **values):
    torch.set_num_threads(1)
    config = build_config(ParityConfig, values)
    trainer = ParityTrainer(config, torch.device("cpu"), seed)
    finished, events = train_in_process(trainer, config)
    return trainer, finished, [e for e in events if isinstance(e, Metrics)]


def accuracies(metrics):
    return [e.values["test_acc"] for e in metrics if "test_acc" in e.values]


def test_parameter_count_matches_the_original_network():
    trainer, _, _ = train(d=30, steps=1)
    assert trainer.parameter_count() == 9_601  # 30*300 + 300 + 300 + 1


@pytest.mark.parametrize("seed", [0, 1])
def test_small_d_is_learned(seed):
    _, finished, metrics = train(seed=seed, d=5, steps=4000)
    assert finished.status == "completed"
    assert accuracies(metrics)[-1] >= 0.95


def test_large_d_stays_at_chance_over_the_same_budget():
    _, finished, metrics = train(d=30, steps=4000)
    accs = accuracies(metrics)
    assert finished.status == "completed" and len(accs) == 41  # step 0 and every 100 steps
    assert all(0.4 <= a <= 0.6 for a in accs), accs


class StepClock:
    """The run loop's clock: it moves a millisecond each time it is read, so the training averages' windows
    (sent at most EMIT_HZ times a second) fall at the same steps on every run, however busy the machine."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.001
        return self.now


def test_same_config_seed_and_device_give_the_same_numbers(monkeypatch):
    import engine.loop

    monkeypatch.setattr(engine.loop, "time", StepClock())  # the loop's clock only
    values = lambda metrics: [(e.step, e.values) for e in metrics]  # noqa: E731
    first = values(train(seed=3, d=8, steps=300, eval_every=50)[2])
    second = values(train(seed=3, d=8, steps=300, eval_every=50)[2])
    other = values(train(seed=4, d=8, steps=300, eval_every=50)[2])
    assert first == second
    assert first != other


def test_training_data_does_not_depend_on_the_evaluation_schedule():
    a, _, _ = train(seed=1, d=8, steps=200, eval_every=10)
    b, _, _ = train(seed=1, d=8, steps=200, eval_every=100)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_fixed_subset_size_and_depth_knobs():
    trainer, finished, _ = train(d=12, subset="fixed", subset_size=4, depth=3, width_mult=2, steps=10)
    assert trainer.subset.numel() == 4 and finished.status == "completed"
    assert trainer.parameter_count() == 12 * 24 + 24 + 2 * (24 * 24 + 24) + 24 + 1


def test_adam_option_trains():
    _, finished, metrics = train(d=5, optimizer="adam", lr=0.001, steps=1500)
    assert finished.status == "completed" and accuracies(metrics)[-1] >= 0.9


def test_a_huge_learning_rate_diverges_at_the_first_bad_step():
    _, finished, metrics = train(d=10, lr=1e6, steps=1000)
    assert finished.status == "diverged" and 1 <= finished.step < 100
    # Every metric reported before the divergence was finite and before that step.
    assert all(e.step < finished.step for e in metrics if "train_loss" in e.values)


def test_the_data_stream_does_not_depend_on_how_many_steps_a_refill_draws():
    from engine.families.parity.trainer import ParityStream
    from engine.seeding import generator

    trainer, _, _ = train(seed=2, d=9, steps=1)
    mask = trainer.subset_mask
    streams = [ParityStream(mask, [generator(2, "data")], rows=16, block=block) for block in (1, 3, 7)]
    for _ in range(10):
        (x1, x1_t, y1), (x3, _, y3), (x7, _, y7) = (s.next() for s in streams)
        assert torch.equal(x1, x3) and torch.equal(x1, x7) and torch.equal(y1, y3) and torch.equal(y1, y7)
        assert torch.equal(x1_t, x1.transpose(1, 2))
        signs = x1[0, :, :-1]
        assert torch.equal(x1[0, :, -1], torch.ones(16))  # the bias input engine.fastmlp takes
        assert set(signs.unique().tolist()) <= {-1.0, 1.0}
        assert torch.equal(y1[0, 0], signs[:, trainer.subset].prod(1))  # the target is the parity of the subset


def test_the_input_bits_are_fair_coins():
    from engine.families.parity.trainer import ParityStream
    from engine.seeding import generator

    stream = ParityStream(torch.ones(1, 1, 30, dtype=torch.bool), [generator(0, "data")], rows=1000, block=1)
    signs = stream.next()[0][0, :, :-1]
    # 30,000 fair coins: the mean of each column within 5 sd (0.03 * 5) and of all within 5 sd (0.0058 * 5)
    assert signs.mean(0).abs().max() < 0.16 and abs(float(signs.mean())) < 0.03
    # neighbouring bits independent: their product averages to ~0 as well
    assert abs(float((signs[:, 1:] * signs[:, :-1]).mean())) < 0.03
