"""The hand-written MLP step must be exactly the autograd step it replaces, lane by lane."""

import pytest
import torch

from engine.fastmlp import PENDING, ManualMLP, with_ones
from engine.nn import hinge_loss, make_optimizer, mlp


@pytest.mark.parametrize(
    "loss_name, depth, optimizer",
    [
        ("hinge", 1, "sgd"),
        ("hinge", 3, "sgd"),
        ("squared", 2, "sgd"),
        ("hinge", 2, "adam"),
        ("squared", 1, "adam"),
    ],
)
@pytest.mark.parametrize("lanes", [1, 3])
def test_manual_step_matches_autograd(loss_name, depth, optimizer, lanes):
    torch.manual_seed(0)
    sizes = [7] + [13] * depth + [1]
    manual_models = [mlp(sizes, torch.Generator().manual_seed(lane)).double() for lane in range(lanes)]
    references = [mlp(sizes, torch.Generator().manual_seed(lane)).double() for lane in range(lanes)]
    manual = ManualMLP(manual_models, loss_name, optimizer, lr=0.05)
    stepper = manual.stepper(rows=11)  # the step as the parity trainer calls it, settled before its losses are read
    optimizers = [make_optimizer(optimizer, r.parameters(), lr=0.05) for r in references]
    for step in range(5):
        x = torch.randn(lanes, 11, 7, dtype=torch.float64)
        y = torch.sign(torch.randn(lanes, 11, dtype=torch.float64))
        inputs = with_ones(x)
        # Every other step through the stepper, with targets and transposed inputs as the parity trainer gives them.
        if step % 2:
            losses = stepper.step(inputs, y.unsqueeze(1), inputs.transpose(1, 2))
            stepper.settle()
        else:
            losses = manual.step(inputs, y)
        for lane, (reference, opt) in enumerate(zip(references, optimizers)):
            scores = reference(x[lane]).squeeze(1)
            ref_loss = hinge_loss(scores, y[lane]) if loss_name == "hinge" else ((scores - y[lane]) ** 2).mean()
            opt.zero_grad()
            ref_loss.backward()
            opt.step()
            assert torch.allclose(losses[lane], ref_loss.detach())
    for lane, reference in enumerate(references):
        for i, layer in enumerate(m for m in reference if isinstance(m, torch.nn.Linear)):
            assert torch.allclose(manual.weights[i][lane], layer.weight, atol=1e-12)
            assert torch.allclose(manual.biases[i][lane], layer.bias, atol=1e-12)
        assert torch.allclose(manual.forward(with_ones(x))[lane].squeeze(1), reference(x[lane]).squeeze(1).detach())


def test_step_follows_a_change_of_batch_size():
    # `step` uses the stepper made for its batch size, and makes another when the size changes.
    model = mlp([5, 8, 8, 1], torch.Generator().manual_seed(0)).double()
    reference = mlp([5, 8, 8, 1], torch.Generator().manual_seed(0)).double()
    manual, opt = ManualMLP([model], "hinge", "sgd", lr=0.1), make_optimizer("sgd", reference.parameters(), lr=0.1)
    for rows in (4, 9, 4):
        x, y = torch.randn(1, rows, 5, dtype=torch.float64), torch.sign(torch.randn(1, rows, dtype=torch.float64))
        loss = manual.step(with_ones(x), y)
        ref_loss = hinge_loss(reference(x[0]).squeeze(1), y[0])
        opt.zero_grad()
        ref_loss.backward()
        opt.step()
        assert torch.allclose(loss[0], ref_loss.detach())
    assert torch.allclose(model[0].weight, reference[0].weight, atol=1e-12)


@pytest.mark.parametrize("loss_name", ["hinge", "squared"])
def test_losses_are_reduced_when_settled_many_steps_at_once(loss_name):
    # The stepper leaves each step's loss to be reduced by `settle`, called here at uneven intervals,
    # and by itself when PENDING steps are waiting: every step's loss must still be its own.
    model = mlp([5, 8, 1], torch.Generator().manual_seed(0)).double()
    reference = mlp([5, 8, 1], torch.Generator().manual_seed(0)).double()
    manual, opt = ManualMLP([model], loss_name, "sgd", lr=0.1), make_optimizer("sgd", reference.parameters(), lr=0.1)
    stepper = manual.stepper(rows=6)
    unread: list[tuple[torch.Tensor, torch.Tensor]] = []  # (the stepper's loss view, the reference's loss)
    for step in range(1, 2 * PENDING + 10):
        x, y = torch.randn(1, 6, 5, dtype=torch.float64), torch.sign(torch.randn(1, 6, dtype=torch.float64))
        scores = reference(x[0]).squeeze(1)
        ref_loss = hinge_loss(scores, y[0]) if loss_name == "hinge" else ((scores - y[0]) ** 2).mean()
        opt.zero_grad()
        ref_loss.backward()
        opt.step()
        unread.append((stepper.step(with_ones(x), y.unsqueeze(1), with_ones(x).transpose(1, 2)), ref_loss.detach()))
        if step % 13 == 0 or step == PENDING + 1:
            stepper.settle()
            for loss, ref in unread:
                assert torch.allclose(loss[0], ref), step
            unread.clear()
    assert len(unread) == (2 * PENDING + 9) % 13  # the last ones, never settled, were not checked


def test_one_lane_trains_the_model_itself():
    model = mlp([4, 8, 1], torch.Generator().manual_seed(0))
    before = model[0].weight.clone()
    ManualMLP([model], "hinge", "sgd", lr=0.1).step(with_ones(torch.randn(1, 5, 4)), torch.ones(1, 5))
    assert not torch.equal(before, model[0].weight)
