"""Random state, passed explicitly: one torch.Generator per purpose, derived from the run's seed.

Separate streams for initialisation, training data and evaluation data mean that changing how
often a run evaluates does not change the data it trains on, and the same config + seed + device
gives the same numbers.
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, stream: str) -> int:
    digest = hashlib.blake2b(f"{seed}:{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def generator(seed: int, stream: str, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator for one purpose ("init", "data", "eval", ...) of the run with this seed."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, stream))
