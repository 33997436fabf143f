"""Messages of the explorer: small dataclasses named for what happened (posting's habit).

The engine bridge posts the first three from its reader thread; the widgets post the others to
say what the person did. Handlers live in app.py, one per intent.
(Textual's Message initialises itself in `__post_init__`, so dataclasses work as they are.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from engine.client import EngineExited
from engine.events import EngineReady, Event


@dataclass
class EngineLoaded(Message):
    """The engine process has imported torch and waits for a run."""

    ready: EngineReady


@dataclass
class EventsReceived(Message):
    """Run events that arrived since the last batch, oldest first (at most a few batches a second)."""

    events: list[Event] = field(default_factory=list)


@dataclass
class EngineDied(Message):
    """The engine process ended; anything it was running has ended with it."""

    exited: EngineExited


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
class RunHighlighted(Message):
    """The cursor of the runs panel moved to this run."""

    key: str


@dataclass
class CompareToggled(Message):
    """A run was added to, or taken out of, the plots' overlay."""

    key: str


@dataclass
class GroupPicked(Message):
    """A group preset (a figure of the paper: several runs) was chosen on the setup screen."""

    name: str
