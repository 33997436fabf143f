"""Messages of the explorer: small dataclasses named for what happened (posting's habit).

The engine bridge posts the first from its reader thread; the widgets post the others to say what
the person did. Handlers live in app.py, one per intent.
(Textual's Message initialises itself in `__post_init__`, so dataclasses work as they are.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from engine.client import EngineExited
from engine.events import Event
from engine.orchestration import EngineSlot
from gradfail_tui.explorer.choices import Choice


@dataclass
class EngineItemsReceived(Message):
    """What the engines said since the last batch, oldest first, each with the slot it came from
    (at most a few batches a second; the orchestration layer applies them on the UI thread)."""

    items: list[tuple[EngineSlot, Event | EngineExited]] = field(default_factory=list)


@dataclass
class JobRequested(Message):
    """Start was asked for on the setup screen (or r restarts the last run): a family's validated run,
    a figure's group of runs, or a sweep preset resolved at a scale; the choice makes its job."""

    choice: Choice


@dataclass
class FamilyPicked(Message):
    name: str


@dataclass
class FormValidated(Message):
    """A setup form was checked after an edit: `problems` is empty when it can start.

    `form` says which: "run" (the config form) or "group" (a group preset's form)."""

    problems: list[str]
    form: str = "run"


@dataclass
class RunOpened(Message):
    """A run in the runs panel was chosen for viewing, or for replaying at `speed` times real time."""

    key: str
    replay: bool = False


@dataclass
class CompareToggled(Message):
    """A run was added to, or taken out of, the plots' overlay."""

    key: str


@dataclass
class GroupPicked(Message):
    """A group preset (a figure of the paper: several runs) was chosen on the setup screen."""

    name: str


@dataclass
class SweepPicked(Message):
    """A sweep preset (a phase diagram: a grid of runs) was chosen on the setup screen."""

    name: str
