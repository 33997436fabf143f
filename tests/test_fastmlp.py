"""The hand-written MLP step must be exactly the autograd step it replaces."""

import pytest
import torch

from engine.fastmlp import ManualMLPStep
from engine.nn import hinge_loss, make_optimizer, mlp


@pytest.mark.parametrize("loss_name, depth, optimizer", [
    ("hinge", 1, "sgd"), ("hinge", 3, "sgd"), ("squared", 2, "sgd"), ("hinge", 2, "adam"), ("squared", 1, "adam"),
])
def test_manual_step_matches_autograd(loss_name, depth, optimizer):
    torch.manual_seed(0)
    sizes = [7] + [13] * depth + [1]
    manual = mlp(sizes, torch.Generator().manual_seed(1)).double()
    reference = mlp(sizes, torch.Generator().manual_seed(1)).double()
    step = ManualMLPStep(manual, loss_name, optimizer, lr=0.05)
    opt = make_optimizer(optimizer, reference.parameters(), lr=0.05)
    for _ in range(5):
        x = torch.randn(11, 7, dtype=torch.float64)
        y = torch.sign(torch.randn(11, dtype=torch.float64))
        loss = step(x, y)
        scores = reference(x).squeeze(1)
        ref_loss = hinge_loss(scores, y) if loss_name == "hinge" else ((scores - y) ** 2).mean()
        opt.zero_grad()
        ref_loss.backward()
        opt.step()
        assert torch.allclose(loss, ref_loss.detach())
    for p, q in zip(manual.parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=1e-12)
