"""How often the plots may be redrawn.

A plotext figure costs 10-30 ms of pure Python to build, and the engine sends new points ten
times a second, so redrawing on every batch would cost a fair part of a core, and on a 2-core
machine that core is the one training wants. The pacer allows a redraw at most `max_hz` times a
second, and no sooner than what keeps the measured drawing cost under `budget` of one core.
The status line and the runs table are cheap and not paced by this.
"""

from __future__ import annotations

import os
import time

MAX_REDRAW_HZ = 10.0
PLOT_CPU_BUDGET = 0.03  # fraction of one core the plots may use while a run streams on every core
SPARE_CORE_BUDGET = 0.25  # ... while the engine leaves a core free: redraws every ~0.3 s, not every ~2 s


def plot_budget_for(device: str, cpu_threads: int | None, cores: int | None = None) -> float:
    """The plots' share of a core while a run trains on `device` with `cpu_threads` threads (None on a
    GPU, where the engine keeps one core busy): a quarter of a core when the engine leaves one free,
    else 3%, so that watching never slows training down."""
    cores = cores or os.cpu_count() or 1
    busy = 1 if device.startswith("cuda") else (cpu_threads or cores)
    return SPARE_CORE_BUDGET if busy < cores else PLOT_CPU_BUDGET


class RedrawPacer:
    def __init__(self, max_hz: float = MAX_REDRAW_HZ, budget: float = PLOT_CPU_BUDGET, clock=time.monotonic):
        """`budget`: the fraction of one core the plots may use; callers may change it as runs start."""
        self.min_interval = 1.0 / max_hz
        self.budget = budget
        self.clock = clock
        self._next = 0.0
        self._frame_cost = 0.0  # drawing time measured since the last redraw was allowed
        self._cost = 0.0  # smoothed cost of one redraw

    def spent(self, seconds: float) -> None:
        """A plot reports what drawing itself took."""
        self._frame_cost += seconds

    def ready(self) -> bool:
        return self.clock() >= self._next

    def redrawn(self) -> None:
        """A redraw was just requested: fold in the last one's cost and set when the next may come."""
        if self._frame_cost:
            self._cost = self._frame_cost if not self._cost else 0.5 * self._cost + 0.5 * self._frame_cost
        self._frame_cost = 0.0
        self._next = self.clock() + max(self.min_interval, self._cost / self.budget)

    @property
    def interval(self) -> float:
        return max(self.min_interval, self._cost / self.budget)


class Paced:
    """A widget mixin (`class Plot(Paced, Widget)`): what showing it costs, building its figure and
    Textual's part (turning it into strips, about a third) together, is reported to the app's pacer,
    which budgets it."""

    def render_lines(self, crop):
        started = time.perf_counter()
        lines = super().render_lines(crop)  # type: ignore[misc]
        pacer = getattr(self.app, "pacer", None)  # type: ignore[attr-defined]
        if pacer is not None:
            pacer.spent(time.perf_counter() - started)
        return lines
