"""The families gradfail knows, found by looking in engine/families/.

Each family is a subpackage of `engine.families` whose `__init__` defines `SPEC`, a `FamilySpec`.
That module holds only the config and the description, so the UI process can list families and
build forms without importing torch; the trainer (the torch side) is named by `trainer` as
"module:Class" and imported only in the engine process. Adding a family touches engine/ and
presets/ only.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from functools import cache

from engine.config import BaseConfig


@dataclass(frozen=True)
class MetricSpec:
    """A scalar the family streams, and how to show it."""

    name: str  # stable name, used in events, run.json's summary and plots: "test_acc"
    label: str  # for people: "test accuracy"
    panel: str  # metrics that share a panel are drawn in one plot: "accuracy", "loss", "snr"
    log_scale: bool = False  # whether the plot starts on a log axis (the user can toggle it)
    chance: float | None = None  # the value a guess scores (0.5 for a +-1 label): drawn as a line


@dataclass(frozen=True)
class FamilySpec:
    name: str  # "parity"
    title: str  # "Random parities"
    claim: str  # the paper's claim in one line, shown in the family list
    paper_ref: str  # "Sec. 2, Fig. 1, Theorem 1"
    config_cls: type[BaseConfig]
    trainer: str  # "engine.families.parity.trainer:ParityTrainer"
    metrics: tuple[MetricSpec, ...]
    # Threads for torch on the CPU. Small models run fastest on one thread: a second thread costs
    # more in synchronisation than it saves, and collapses when the other core is busy (the UI).
    cpu_threads: int | None = None
    headline: tuple[str, ...] = field(default=())  # metric names the CLI's progress line shows
    # Whether the trainer can train several seeds as lanes of one batched model (`--seeds N`):
    # its constructor then takes a list of seeds and its step scalars have one value per lane.
    batched_seeds: bool = False
    # Where the family stands in lists: the paper's order (parity 10, periodic 15, tuples 20, ...).
    order: int = 100
    # The settings that may change while a run trains (engine/changes.py): the trainer applies a
    # change at the next step (`Trainer.change`). `eval_every` is the loop's own, for every family.
    live: tuple[str, ...] = ()

    def metric(self, name: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.name == name), None)

    def headline_metrics(self, most: int | None = None) -> tuple[str, ...]:
        """The metrics a one-line summary shows: the headline, else the first `most` (all if None)."""
        return self.headline or tuple(m.name for m in self.metrics[:most])


class UnknownFamily(LookupError):
    def __init__(self, name: str, known: list[str]):
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        super().__init__(f"unknown family {name!r}.{hint} Known families: {', '.join(known)}.")


def families() -> dict[str, FamilySpec]:
    """Every family under engine/families that loads, by name, in the paper's order."""
    found = _discover()[0]
    return {name: found[name] for name in sorted(found, key=lambda n: (found[n].order, n))}


def family_errors() -> dict[str, str]:
    """Family packages that failed to load, with why (shown by `gradfail families`; a test keeps it empty)."""
    return _discover()[1]


@cache
def _discover() -> tuple[dict[str, FamilySpec], dict[str, str]]:
    import engine.families as package

    names = [
        f"{package.__name__}.{info.name}"
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name)
        if info.ispkg
    ]
    # Extra family modules, e.g. the fault-injecting family the reliability tests run through the
    # real engine process (tests/faulty_family.py).
    names += [n.strip() for n in os.environ.get("GRADFAIL_FAMILY_MODULES", "").split(",") if n.strip()]
    found, errors = {}, {}
    for module_name in names:
        short = module_name.rpartition(".")[2]
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # one broken family must not take the others down
            errors[short] = f"{type(exc).__name__}: {exc}"
            continue
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, FamilySpec):
            found[spec.name] = spec
        else:
            errors[short] = "defines no SPEC (a FamilySpec)"
    return found, errors


def get_family(name: str) -> FamilySpec:
    known = families()
    if name not in known:
        raise UnknownFamily(name, list(known))
    return known[name]


def load_trainer_class(spec: FamilySpec) -> type:
    """Import the family's torch side. Only the engine process calls this."""
    module_name, _, class_name = spec.trainer.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
