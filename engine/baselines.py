"""What gradfail's engine is measured against, runnable on its own: `python -m engine.baselines ...`.

- `parity`: the straightforward PyTorch loop of the parity experiment: nn.Sequential,
  torch.optim.SGD, loss.backward() every step, fresh data every step, and the same evaluation
  schedule (500 fresh samples every 100 steps): what a person would write from the paper.
- `tuples`: the same for the line-image tuples of Sec. 3.1 (end-to-end, k images a tuple): the
  family's own TupleNet as an nn.Module, torch.optim.Adam with the family's settings, the whole batch
  through forward and loss.backward() every step, fresh tuples every step from the family's
  generator, and the family's evaluation schedule (the fixed 2,000-tuple test set every 100 steps,
  in batches of the training size).
- `matmul`: the machine's matrix-multiply rate (GFLOP/s) on the threads given, the physical limit
  that `gradfail bench` reports the engine's arithmetic against.
Each prints one JSON line, so `gradfail bench` can time them as whole processes and read them.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from engine.device import resolve_device
from engine.device_names import DeviceError


def parity_loop(d: int, steps: int, batch: int = 128, device: str = "cpu") -> dict:
    torch.manual_seed(0)
    subset = (torch.randn(d) > 0).to(device)
    model = torch.nn.Sequential(torch.nn.Linear(d, 10 * d), torch.nn.ReLU(), torch.nn.Linear(10 * d, 1)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    acc = 0.0
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x = torch.randint(0, 2, (batch, d), device=device).float() * 2 - 1
        y = x[:, subset].prod(1)
        loss = torch.relu(1 - y * model(x).squeeze(1)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            with torch.no_grad():
                xt = torch.randint(0, 2, (500, d), device=device).float() * 2 - 1
                acc = (torch.sign(model(xt).squeeze(1)) == xt[:, subset].prod(1)).float().mean().item()
    elapsed = time.perf_counter() - start
    return {"steps": steps, "train_s": elapsed, "steps_per_s": steps / elapsed, "test_acc": acc}


def tuples_loop(
    k: int, steps: int, batch: int = 200, device: str = "cpu", eval_every: int = 100, eval_samples: int = 2000
) -> dict:
    from engine.families.tuples.lines import sample_tuples
    from engine.families.tuples.model import TupleNet

    gen = torch.Generator(device).manual_seed(0)
    model = TupleNet(k, torch.Generator().manual_seed(0)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-5)
    test = sample_tuples(eval_samples, k, gen, device)
    acc = 0.0
    start = time.perf_counter()
    for step in range(1, steps + 1):
        tuples = sample_tuples(batch, k, gen, device)
        scores, _ = model(tuples.images)
        loss = torch.relu(1 - tuples.labels * scores).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                right = sum(
                    float((model(test.images[i : i + batch])[0] * test.labels[i : i + batch] > 0).sum())
                    for i in range(0, eval_samples, batch)
                )
            acc = right / eval_samples
    elapsed = time.perf_counter() - start
    return {"steps": steps, "train_s": elapsed, "steps_per_s": steps / elapsed, "test_acc": acc}


def matmul_rate(size: int = 384, seconds: float = 1.5, device: str = "cpu") -> dict:
    if device.startswith("cuda"):
        size = 8192  # a GPU needs a large product to reach its rate
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    out = torch.empty(size, size, device=device)
    for _ in range(3):
        torch.mm(a, b, out=out)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b, out=out)
        count += 1
        if count % 10 == 0:
            sync()
    sync()
    elapsed = time.perf_counter() - start
    return {"gflops": 2 * size**3 * count / elapsed / 1e9, "size": size}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m engine.baselines")
    parser.add_argument("what", choices=("parity", "tuples", "matmul"))
    parser.add_argument("--d", type=int, default=30, help="parity: input dimension")
    parser.add_argument("--k", type=int, default=4, help="tuples: images per tuple")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    try:
        args.device = str(resolve_device(args.device))
    except DeviceError as exc:  # "cuda" on a machine without it: say so, as `gradfail run` does
        parser.exit(2, f"{exc}\n")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.what == "parity":
        result = parity_loop(args.d, args.steps, device=args.device)
    elif args.what == "tuples":
        result = tuples_loop(args.k, args.steps, device=args.device)
    else:
        result = matmul_rate(device=args.device)
    device = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(json.dumps({**result, "threads": torch.get_num_threads(), "torch": torch.__version__, "device": device}))


if __name__ == "__main__":
    main()
