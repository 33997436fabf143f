"""The whole paper: its results in the paper's order, each a group preset, with what a talk says of it.

`gradfail run --preset paper` runs every group below into one directory (`PaperRun`, in
engine/orchestration/paper.py), one subdirectory per result (01-fig-parity/, 02-thm-variance/, ...)
and paper.json, which lists them with each one's verdict and the overall summary. `gradfail report`
writes one report of it and `gradfail talk` presents it: the directory is the talk's deck.

Each result carries the words of its slide: the question it answers, the paper's claim in one
sentence, and one sentence of why (the intuition behind the theorem). The numbers and verdicts come
from the records, never from here. Torch-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import walltimes
from engine.catalog import load_preset
from engine.claims import Outcome, combine
from engine.config import ConfigError
from engine.groups import GroupError, GroupPreset, MemberRun, judge_record
from engine.presets import DEFAULT_SCALE
from engine.record import PAPER_MANIFEST, RecordedGroup, read_group
from engine.registry import get_family
from engine.status import RunStatus

NAME = "paper"  # `gradfail run --preset paper`
MANIFEST = PAPER_MANIFEST
TITLE = "Failures of Gradient-Based Deep Learning"
AUTHORS = "Shai Shalev-Shwartz, Ohad Shamir, Shaked Shammah"
VENUE = "ICML 2017 (PMLR 70), Sydney; extended version arXiv:1703.07950"


@dataclass(frozen=True)
class Result:
    """One result of the paper: the group preset that reproduces it and what its slide says."""

    preset: str  # a group preset (presets/fig-*.toml, thm-*.toml)
    heading: str  # "Figure 1: parities"
    question: str
    claim: str
    why: str

    @property
    def cpu_s(self) -> float:
        """Its group's wall time at the default scale, as measured (presets/measured/walltimes.toml,
        written by benchmarks/walltimes.py); 0 when it was never measured."""
        return walltimes.seconds(self.preset) or 0.0

    @property
    def live(self) -> bool:
        """Fast enough to train in front of an audience (`gradfail talk --live`)."""
        return 0 < self.cpu_s <= LIVE_LIMIT_S


LIVE_LIMIT_S = 90.0


RESULTS: tuple[Result, ...] = (
    Result(
        "fig-parity",
        "Figure 1: parities",
        "Can a network learn the parity of a hidden subset of d bits?",
        "It learns d = 5 and d = 10, and stays at chance for d = 30.",
        "Every parity is orthogonal to every other, so the gradient hardly depends on which one is the target.",
    ),
    Result(
        "parity-wider-deeper",
        "Section 2: wider and deeper networks",
        "Would a wider or a deeper network learn the parity at d = 30?",
        "No: a 4x wider and a 3-layer network learn d = 10 and stay at chance at d = 30.",
        "The gradient's variance over the targets is tiny whatever the architecture: the bound holds for any p_w.",
    ),
    Result(
        "thm-variance",
        "Theorem 1: the gradient's variance",
        "How much does the gradient tell us about which parity is the target?",
        "Its variance over the targets is at most G^2 / 2^d: exponentially small in d.",
        "Among 2^d uncorrelated targets the gradient can point towards only a few of them.",
    ),
    Result(
        "thm2-periodic",
        "Theorem 2: linear-periodic targets",
        "Is it only parities? What of a wave cos(<v, x>) along a hidden direction v?",
        "A slow wave (||v|| = 2) is learned, a fast one (||v|| = 8) is not; the gradient's variance over v falls with ||v|| and d.",
        "A fast wave averages out against every smooth function of x, so the gradient barely depends on v.",
    ),
    Result(
        "fig-tuples",
        "Figure 3: tuples of line images",
        "End-to-end, or decomposed into one label per image?",
        "Decomposition learns every k; end-to-end learns k = 1 and 2 and stays at chance from k = 3.",
        "End-to-end, the image network's gradient passes through a parity of k images, and that signal shrinks with k.",
    ),
    Result(
        "fig-stocks",
        "Figure 4: the stocks problem",
        "Two unbiased gradient estimators: does it matter which one we follow?",
        "For k = 10 both reach the optimum; for k = 1000 and 2000 end-to-end lags far behind.",
        "End-to-end's estimate has about k times the variance: with many stocks its steps are mostly noise.",
    ),
    Result(
        "fig-snr",
        "Figure 5: signal-to-noise ratio",
        "Why does end-to-end fail on tuples?",
        "The gradient's SNR falls fast with k end-to-end, below float32's precision from k = 3; decomposition's stays put.",
        "When the noise dwarfs the signal, stochastic gradient descent is a random walk.",
    ),
    Result(
        "fig-pwl",
        "Figure 6 and Theorem 3: conditioning",
        "The problem is convex: does the architecture still matter?",
        "Linear and conv learners crawl; the conditioned conv decodes almost exactly in 500 steps; an autoencoder misses the kinks.",
        "The problem's condition number grows like n^3.5, so gradient steps crawl; conditioning removes it.",
    ),
    Result(
        "fig-flat",
        "Figure 7: flat activations",
        "Can we learn through an activation that is flat almost everywhere?",
        "Through the gradient, hardly; a forward-only update learns the step function best.",
        "A flat activation's derivative is zero: the gradient carries no information, a different update rule does.",
    ),
)


def result(preset: str) -> Result | None:
    return next((r for r in RESULTS if r.preset == preset), None)


def heading(group: GroupPreset) -> str:
    found = result(group.name)
    return found.heading if found else group.title


def load_groups(
    scale: str = DEFAULT_SCALE, overrides: dict[str, Any] | None = None, seed: int | None = None
) -> list[tuple[GroupPreset, list[MemberRun]]]:
    """Every result's group and its runs at `scale` (`group_scale`), in the paper's order. `overrides`
    (--set, --steps) reach the runs that have the field, and must reach at least one. PresetError
    (GroupError) for a group that does not load or a scale no group has; ConfigError for overrides no
    run accepts or a run rejects."""
    overrides = overrides or {}
    groups = []
    for res in RESULTS:
        group = load_preset(res.preset)
        if not isinstance(group, GroupPreset):
            raise GroupError(f"{res.preset}: the paper's result is not a group preset")
        mine = {key: value for key, value in overrides.items() if _accepts(group, key)}
        groups.append((group, group.members(group_scale(group, scale), mine, seed=seed)))
    if all(scale not in group.scales for group, _ in groups):
        known = sorted({s for group, _ in groups for s in group.scales})
        raise GroupError(f"--scale {scale}: no result of the paper has this scale (the scales: {', '.join(known)})")
    unused = [key for key in overrides if not any(_accepts(group, key) for group, _ in groups)]
    if unused:
        raise ConfigError([f"{key}: no run of the paper has this setting" for key in unused], "--set")
    return groups


def group_scale(group: GroupPreset, scale: str) -> str:
    """The scale a result's group runs at in the paper's `scale`: its own of that name, else its
    default (`--scale cpu` changes only fig-tuples, the one result whose default scale falls short)."""
    return scale if scale in group.scales else DEFAULT_SCALE


def _accepts(group: GroupPreset, key: str) -> bool:
    return any(key in get_family(m.family).config_cls.__dataclass_fields__ for m in group.members())


def result_dir(number: int, preset: str) -> str:
    """A result's directory in the paper's: 01-fig-parity, 02-thm-variance, ..."""
    return f"{number:02d}-{preset}"


def is_paper_dir(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def summarise(outcomes: list[str]) -> str:
    """The overall summary line: how many results were reproduced, and how many were not, could not be
    judged, or need a larger scale ("7 results: 6 reproduced, 1 needs --scale cpu")."""
    counts = {outcome: outcomes.count(outcome) for outcome in dict.fromkeys(outcomes)}
    parts = [f"{count} {outcome}" for outcome, count in counts.items()]
    return f"{len(outcomes)} results: " + ", ".join(parts) if outcomes else "no results"


def overall(outcomes: list[str]) -> str:
    """The paper's outcome: reproduced when every result is; not reproduced when one is not; else
    incomplete when one is; else (the others reproduced) the largest scale a result needs."""
    return combine(outcomes)


@dataclass
class RecordedPaper:
    """A paper directory as read back: its manifest, and for each result its directory and what was wrong."""

    path: Path
    manifest: dict[str, Any]
    entries: list[dict[str, Any]]  # as paper.json lists them: preset, heading, dir, status, outcome
    problems: list[str] = field(default_factory=list)

    def entry(self, preset: str) -> dict[str, Any] | None:
        return next((e for e in self.entries if e.get("preset") == preset), None)

    def group(self, entry: dict[str, Any]) -> tuple[RecordedGroup | None, str]:
        """A result's recorded group, or None and why it is absent (never run, or its directory gone)."""
        name = entry.get("dir")
        where = self.path / name if isinstance(name, str) and name else None
        if where is None or not where.is_dir():
            status = entry.get("status", RunStatus.NOT_RUN)
            return None, f"no record of its runs ({paper_status(status)})"
        return read_group(where), ""

    def judged(self) -> list[tuple[dict[str, Any], RecordedGroup | None, str]]:
        """Each result with its group and its outcome judged again on the records as they are now."""
        out = []
        for entry in self.entries:
            group, _ = self.group(entry)
            outcome: str = Outcome.INCOMPLETE
            if group is not None and group.runs:
                try:
                    outcome = judge_record(group).outcome
                except GroupError:
                    pass  # claims edited into something that cannot be judged: the report says so
            out.append((entry, group, outcome))
        return out


def paper_status(status: Any) -> str:
    return {RunStatus.NOT_RUN: "not run", RunStatus.WAITING: "not run yet"}.get(
        RunStatus.parse(status), f"paper.json says {status}"
    )


def read_paper(path: Path) -> RecordedPaper:
    """Read paper.json; a missing or damaged one is named in `problems`, and the results are then
    found by their directories (01-fig-parity/, ...)."""
    problems: list[str] = []
    manifest: dict[str, Any] = {}
    try:
        loaded = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            manifest = loaded
        else:
            problems.append(f"{path / MANIFEST}: not a JSON object")
    except FileNotFoundError:
        problems.append(f"{path / MANIFEST}: missing")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path / MANIFEST}: cannot be read ({exc})")
    listed = manifest.get("results")
    entries = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
    if not entries:
        for number, res in enumerate(RESULTS, 1):
            found = path / result_dir(number, res.preset)
            entries.append({"preset": res.preset, "heading": res.heading, "dir": found.name if found.is_dir() else ""})
    return RecordedPaper(path, manifest, entries, problems)
