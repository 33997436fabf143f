"""How a run's status and a claim's outcome look: one map each, for every view that colours them.

The headless display and the report draw with Rich colours (green, yellow, red); the explorer's
widgets with Textual's theme variables ($success, $warning, $error), so that they follow its theme.
Both come from one tone per status here, so a failed run reads the same everywhere.

Statuses are keyed by `RunStatus` (engine/status.py holds the enum alone, cheap to import); outcomes
by their plain words, not by importing engine.claims (which loads the family registry): the
explorer's status line imports this for its first frame, and it must stay cheap.
"""

from __future__ import annotations

from typing import NamedTuple

from engine.claims import Outcome
from engine.status import RunStatus


class Look(NamedTuple):
    tone: str  # a key of RICH and TEXTUAL
    mark: str  # the glyph that says it where colour does not (NO_COLOR)


# Tones: success ended (or goes) as it should; warning ended short of its end, or cannot say;
# error went wrong; accent is on its way; muted has not begun. plain: no colour of its own.
RICH = {"success": "green", "warning": "yellow", "error": "red", "accent": "cyan", "muted": "dim", "plain": "default"}
TEXTUAL = {
    "success": "$success",
    "warning": "$warning",
    "error": "$error",
    "accent": "$accent",
    "muted": "$text-muted",
    "plain": "$foreground",
}

RUN_STATUSES = {
    RunStatus.STARTING: Look("accent", "●"),
    RunStatus.WAITING: Look("muted", "·"),
    RunStatus.NOT_RUN: Look("muted", "·"),
    RunStatus.RUNNING: Look("success", "●"),
    RunStatus.PAUSED: Look("warning", "●"),
    RunStatus.COMPLETED: Look("success", "✓"),
    RunStatus.STOPPED: Look("warning", "?"),
    RunStatus.INTERRUPTED: Look("warning", "?"),
    RunStatus.CUT_SHORT: Look("warning", "?"),  # a record whose end was not written
    RunStatus.FAILED: Look("error", "✗"),
    RunStatus.DIVERGED: Look("error", "✗"),
}

OUTCOMES = {
    Outcome.REPRODUCED: Look("success", "✓"),
    Outcome.NOT_REPRODUCED: Look("error", "✗"),
    Outcome.INCOMPLETE: Look("warning", "?"),
    # Judged at a scale too small to show the claim: not a failure, a pointer to the scale that can.
    **{outcome: Look("warning", "↑") for outcome in Outcome if outcome.value.startswith("needs --scale")},
    # Not made at this scale at all (claimed_below = false): neither for the group nor against it.
    Outcome.NOT_CLAIMED: Look("muted", "–"),
}


def status_tone(status: str, unknown: str = "plain") -> str:
    """The tone of a run's status; `unknown` for a status not in RUN_STATUSES."""
    look = RUN_STATUSES.get(status)
    return look.tone if look else unknown


def outcome_look(outcome: str) -> Look:
    """A claim's or a verdict's outcome; one this map does not know reads as incomplete."""
    return OUTCOMES.get(outcome, OUTCOMES["incomplete"])


def rich_colour(tone: str) -> str:
    """A tone as Rich markup names it: [green]...[/]."""
    return RICH[tone]


def textual_colour(tone: str) -> str:
    """A tone as a Textual variable, for the explorer's markup: [$success]...[/]."""
    return TEXTUAL[tone]


# -- the lines of a figure -----------------------------------------------------------------------
# Hues for overlaid runs, as RGB so that the terminal, the explorer, its SVG screenshots and the
# report draw the very same colour (named ANSI colours follow each terminal's palette).
HUES = (
    (66, 135, 245),  # blue
    (230, 85, 60),  # red
    (60, 170, 90),  # green
    (235, 150, 40),  # orange
    (170, 95, 205),  # purple
    (40, 180, 190),  # cyan
    (200, 175, 40),  # yellow
    (150, 150, 150),  # grey
)
MARKER_GREY = (150, 150, 150)  # a change's marker and the chance line: not a run's colour


class LineStyle(NamedTuple):
    """How one overlaid line looks: its colour, and its shade's number within that colour (which a
    figure without colour shows as a marker instead)."""

    rgb: tuple[int, int, int]
    shade: int = 0

    @property
    def rich(self) -> str:
        """As Rich and Textual markup name it: rgb(66,135,245)."""
        return "rgb({},{},{})".format(*self.rgb)


def line_styles(labels: list[str]) -> list[LineStyle]:
    """One style per label, so that no two overlaid runs look alike.

    Labels made of the same number of comma-separated parts ("k = 10, end-to-end") are coloured by
    the part that takes fewest values (what the figure compares: end-to-end against decomposition),
    and shaded, darker to lighter, by the rest (k = 10, 1000, 2000). Other labels get a hue each."""
    parts = [[p.strip() for p in label.split(",")] for label in labels]
    if len(labels) > 1 and len({len(p) for p in parts}) == 1 and len(parts[0]) > 1:
        counts = [len({p[i] for p in parts}) for i in range(len(parts[0]))]
        varying = [i for i, c in enumerate(counts) if c > 1]
        if varying:
            # Fewest values first; on a tie, the later part (a label names the setting, then the approach).
            by = min(varying, key=lambda i: (counts[i], -i))
            colours = list(dict.fromkeys(p[by] for p in parts))
            rest = [tuple(q for i, q in enumerate(p) if i != by) for p in parts]
            shades = list(dict.fromkeys(rest))
            return [
                _shade(HUES[colours.index(p[by]) % len(HUES)], shades.index(r), len(shades))
                for p, r in zip(parts, rest)
            ]
    return [LineStyle(HUES[i % len(HUES)], 0) for i in range(len(labels))]


def _shade(rgb: tuple[int, int, int], index: int, count: int) -> LineStyle:
    """Shade `index` of `count` of a hue: from a darker one to a lighter one, the hue itself between."""
    if count <= 1:
        return LineStyle(rgb, 0)
    t = index / (count - 1)  # 0: darkest, 1: lightest
    if t < 0.5:
        factor = 0.7 + 0.6 * t  # 0.7 .. 1.0 of the hue
        mixed = tuple(round(c * factor) for c in rgb)
    else:
        towards_white = (t - 0.5) * 0.8  # up to 40% of the way to white
        mixed = tuple(round(c + (255 - c) * towards_white) for c in rgb)
    return LineStyle(mixed, index)
