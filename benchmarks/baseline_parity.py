"""The straightforward PyTorch loop that gradfail's parity engine is measured against.

nn.Sequential, torch.optim.SGD, loss.backward() every step, fresh data every step, and the same
evaluation schedule (500 fresh samples every 100 steps): what a person would write from the
paper's description. Timed as a whole process, like `gradfail run`:

    time python benchmarks/baseline_parity.py --steps 20000
"""

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--d", type=int, default=30)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    d, batch = args.d, 128
    subset = torch.randn(d) > 0
    model = torch.nn.Sequential(torch.nn.Linear(d, 10 * d), torch.nn.ReLU(), torch.nn.Linear(10 * d, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x = torch.randint(0, 2, (batch, d)).float() * 2 - 1
        y = x[:, subset].prod(1)
        loss = torch.relu(1 - y * model(x).squeeze(1)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            with torch.no_grad():
                xt = torch.randint(0, 2, (500, d)).float() * 2 - 1
                acc = (torch.sign(model(xt).squeeze(1)) == xt[:, subset].prod(1)).float().mean().item()
    elapsed = time.perf_counter() - start
    print(f"baseline: {args.steps} steps in {elapsed:.2f} s = {args.steps / elapsed:.0f} steps/s "
          f"(threads {torch.get_num_threads()}), last test_acc {acc:.3f}")


if __name__ == "__main__":
    main()
