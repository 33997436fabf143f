"""A local pool of engine processes: how many engines by default, and each one's share of the cores.

One rule for every driver of a local pool: `gradfail sweep` and `gradfail audit` (gradfail_tui/sweep.py,
`on_engines`) and the explorer's sweeps (gradfail_tui/explorer/engines.py). It lives in a module of its
own, with the standard library only, because the explorer sits below the commands' drivers in the layers
(pyproject.toml's import contracts) and may not import them.
"""

from __future__ import annotations

import os


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_workers(spec) -> int:
    """As many engine processes as the cores allow, given a run's threads (the family's, or one)."""
    return max(1, cores() // max(1, spec.spec.cpu_threads or 1))


def share_of_cores(engines: int) -> int:
    """The threads each of `engines` engines is told to use: its share of the cores, not all of them."""
    return max(1, cores() // max(1, engines))
