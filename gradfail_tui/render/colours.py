"""How a run's status and a claim's outcome look: one map each, for every view that colours them.

The headless display and the report draw with Rich colours (green, yellow, red); the explorer's
widgets with Textual's theme variables ($success, $warning, $error), so that they follow its theme.
Both come from one tone per status here, so a failed run reads the same everywhere.

Keyed by the plain strings the engine writes (engine.events, engine.groups), not by importing them:
the explorer's status line imports this for its first frame, and it must stay cheap.
"""

from __future__ import annotations

from typing import NamedTuple


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
    "starting": Look("accent", "●"),
    "waiting": Look("muted", "·"),
    "not run": Look("muted", "·"),
    "running": Look("success", "●"),
    "paused": Look("warning", "●"),
    "completed": Look("success", "✓"),
    "stopped": Look("warning", "?"),
    "interrupted": Look("warning", "?"),
    "cut short": Look("warning", "?"),  # a record whose end was not written
    "failed": Look("error", "✗"),
    "diverged": Look("error", "✗"),
}

OUTCOMES = {
    "reproduced": Look("success", "✓"),
    "not reproduced": Look("error", "✗"),
    "incomplete": Look("warning", "?"),
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
