"""Device choice: resolved once in the engine process and passed to the family's trainer."""

from __future__ import annotations

import torch

from engine.device_names import DeviceError, check_device_name


def resolve_device(name: str) -> torch.device:
    """ "auto" -> CUDA when present, else the CPU; "cuda" without a GPU is an error, not a fallback."""
    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():  # name is cuda or cuda:N
        why = "this torch is a CPU-only build" if torch.version.cuda is None else "torch finds no CUDA device"
        raise DeviceError(f"--device {name}: {why} (torch {torch.__version__}); use --device cpu or --device auto")
    device = torch.device(name)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return device


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})"
