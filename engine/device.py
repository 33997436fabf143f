"""Device choice: resolved once in the engine process and passed to the family's trainer."""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    """The device asked for is not there; the message says what is."""


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when present, else the CPU; "cuda" without a GPU is an error, not a fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            why = ("this torch is a CPU-only build" if torch.version.cuda is None
                   else "torch finds no CUDA device")
            raise DeviceError(f"--device {name}: {why} (torch {torch.__version__}); "
                              "use --device cpu or --device auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
        return device
    raise DeviceError(f"--device {name}: expected auto, cpu, cuda or cuda:N")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})"
