"""A talk's slides, read from a deck (a `gradfail run --preset paper` directory), and their replay.

Slides: a title slide (the paper, its authors, its venue), one slide per result in the paper's order
(engine/paper.py gives the words: question, claim, why), and a closing slide with every verdict. A
result slide's runs come from its group's records, its verdict judged again on them. Whatever is
missing or damaged (no deck, no paper.json, a result never run, a run whose events are unreadable)
becomes a line on the slide, never an exception: the talk goes on.

`SlideReplay` plays a slide's runs side by side in a set time: every run's events are spread over
`seconds` by their position in the run, so a result whose runs took an hour and one that took a
second both replay in, say, 20 s, their curves growing together. No Textual here (tests drive it
with a fake clock).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from engine import audit_figures, paper
from engine.catalog import group_figure
from engine.claims import Outcome, Verdict
from engine.events import Event, Metrics, Snapshot
from engine.figures import Figure
from engine.groups import GroupError, judge_record
from engine.record import RecordedGroup
from engine.state import RunState


@dataclass
class SlideRun:
    label: str
    family: str
    events: list[Event]  # as recorded; a replay folds them into `state` a few at a time
    manifest: dict
    state: RunState = field(init=False)

    def __post_init__(self) -> None:
        self.state = RunState(run_id=str(self.manifest.get("run_id", "")), label=self.label)

    def snapshots(self, position: int | None = None) -> list[Snapshot]:
        """Its snapshots in order, those replayed so far (up to `position`), for a figure's pictures."""
        return [e for e in self.events[:position] if isinstance(e, Snapshot)]


class SlideKind(StrEnum):
    TITLE = "title"  # the paper, its authors, its venue
    RESULT = "result"  # one of the paper's results: its runs replayed (or trained live) and its verdict
    CLOSING = "closing"  # every verdict


@dataclass
class Slide:
    kind: SlideKind
    heading: str
    question: str = ""
    claim: str = ""
    why: str = ""
    preset: str = ""
    plot: tuple[str, ...] = ()
    log_y: bool = False
    runs: list[SlideRun] = field(default_factory=list)
    verdict: Verdict | None = None
    problems: list[str] = field(default_factory=list)  # what is missing or damaged, said on the slide
    lines: list[str] = field(default_factory=list)  # the title and closing slides' text
    live: bool = False  # no record, and fast enough to train live (paper.Result.live)
    figure: Figure | None = None  # its group's figure, as the paper draws it (engine/figures.py)
    audit: str = ""  # how often its recorded setup held over seeds (audit_figures.held_for_record), or ""

    def audited(self, scale: str | None = None) -> str:
        """How often its group's claims all held over seed blocks, as gradfail's audit measured it ('audited:
        every claim held in 9 of 10 seed blocks'): the recorded group's, or a group trained live here at
        `scale` (the preset's own claims and settings); "" where that setup was never audited."""
        if scale is not None:
            return audit_figures.held_for(self.preset, scale) if self.preset else ""
        return self.audit


@dataclass
class Deck:
    path: Path | None
    slides: list[Slide]
    problems: list[str]  # about the deck as a whole (said on the title slide)


def title_slide(problems: list[str], manifest: dict) -> Slide:
    lines = [paper.AUTHORS, paper.VENUE]
    if manifest.get("scale"):
        lines.append(f"recorded by gradfail at scale {manifest['scale']} on {manifest.get('device', '?')}")
    return Slide(SlideKind.TITLE, paper.TITLE, lines=lines, problems=list(problems))


def closing_slide(slides: list[Slide]) -> Slide:
    outcomes = [s.verdict.outcome if s.verdict else Outcome.INCOMPLETE for s in slides if s.kind is SlideKind.RESULT]
    lines = [
        f"{s.heading}: {s.verdict.outcome if s.verdict else Outcome.INCOMPLETE}"
        for s in slides
        if s.kind is SlideKind.RESULT
    ]
    lines.append(f"Overall: {paper.overall(outcomes)} ({paper.summarise(outcomes)})")
    lines.append(
        "Not local minima nor saddle points: uninformative gradients, low SNR, bad conditioning, flat activations."
    )
    return Slide(SlideKind.CLOSING, "What fails, and why", lines=lines)


def load_deck(path: Path | None) -> Deck:
    """Every slide of the deck at `path` (None: an empty deck, each slide saying so)."""
    problems: list[str] = []
    recorded = None
    if path is None:
        problems.append("no deck given: prepare one with `gradfail talk --prepare DIR`")
    elif not path.is_dir():
        problems.append(f"{path}: no such deck (prepare one with `gradfail talk --prepare {path}`)")
    else:
        recorded = paper.read_paper(path)
        problems += recorded.problems
    slides = [title_slide(problems, recorded.manifest if recorded else {})]
    for res in paper.RESULTS:
        slide = Slide(
            SlideKind.RESULT, res.heading, question=res.question, claim=res.claim, why=res.why, preset=res.preset
        )
        slide.live = res.live
        slide.figure = group_figure(res.preset)
        if recorded is None:
            slide.problems.append("no deck: nothing recorded for this slide")
        else:
            entry = recorded.entry(res.preset)
            group, why = recorded.group(entry) if entry else (None, "not in this deck's paper.json")
            if group is None:
                slide.problems.append(why)
            else:
                fill_result(slide, group)
                slide.live = False
        slides.append(slide)
    slides.append(closing_slide(slides))
    return Deck(path, slides, problems)


def fill_result(slide: Slide, group: RecordedGroup) -> None:
    manifest = group.manifest
    slide.plot = tuple(m for m in manifest.get("plot", []) if isinstance(m, str))
    slide.log_y = bool(manifest.get("log_y", False))
    slide.audit = audit_figures.held_for_record(group)
    slide.problems += group.problems
    for label, run in group.runs:
        family = str(run.manifest.get("family") or "")
        slide.runs.append(SlideRun(label, family, list(run.events), run.manifest))
    if not slide.runs:
        slide.problems.append("no run of this result was recorded")
        return
    if not slide.plot:  # a measurement shown as its runs' first metric
        first = next((e for r in slide.runs for e in r.events if isinstance(e, Metrics) and e.values), None)
        slide.plot = (next(iter(first.values)),) if first else ()
    try:
        slide.verdict = judge_record(group)
    except GroupError as exc:
        slide.problems.append(f"its claims cannot be judged: {exc}")


class SlideReplay:
    """A slide's runs replayed together in `seconds`, at `speed` times that pace, pausable."""

    def __init__(self, slide: Slide, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.slide = slide
        self.seconds = max(seconds, 0.1)
        self.clock = clock
        self.speed = 1.0
        self.paused = False
        self.elapsed = 0.0
        self._last = clock()
        self.positions = [0] * len(slide.runs)
        for run in slide.runs:
            run.state = RunState(run_id=str(run.manifest.get("run_id", "")), label=run.label)

    @property
    def fraction(self) -> float:
        return min(1.0, self.elapsed / self.seconds)

    @property
    def done(self) -> bool:
        return all(p >= len(r.events) for p, r in zip(self.positions, self.slide.runs))

    def toggle_pause(self) -> None:
        self.advance()
        self.paused = not self.paused

    def set_speed(self, speed: float) -> None:
        self.advance()
        self.speed = speed

    def finish(self) -> None:
        self.elapsed = math.inf
        self.advance()

    def advance(self) -> bool:
        """Fold the events now due into the runs' states; True if any were."""
        now = self.clock()
        if not self.paused:
            self.elapsed += (now - self._last) * self.speed
        self._last = now
        moved = False
        for number, run in enumerate(self.slide.runs):
            due = len(run.events) if self.fraction >= 1 else math.floor(self.fraction * len(run.events))
            start = self.positions[number]
            while self.positions[number] < due:
                run.state.apply(run.events[self.positions[number]])
                self.positions[number] += 1
            if self.positions[number] > start:
                moved = True
                if self.positions[number] >= len(run.events):
                    run.state.fill_from_manifest(run.manifest)
        return moved
