"""Messages of the explorer: small dataclasses named for what happened (posting's habit).

The engine bridge posts the first three from its reader thread; the widgets post the others to
say what the person did. Handlers live in app.py, one per intent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from engine.client import EngineExited
from engine.events import EngineReady, Event


@dataclass
class _Message(Message):
    def __post_init__(self) -> None:
        super().__init__()  # a dataclass __init__ does not call Message.__init__


@dataclass
class EngineLoaded(_Message):
    """The engine process has imported torch and waits for a run."""

    ready: EngineReady


@dataclass
class EventsReceived(_Message):
    """Run events that arrived since the last batch, oldest first (at most a few batches a second)."""

    events: list[Event] = field(default_factory=list)


@dataclass
class EngineDied(_Message):
    """The engine process ended; anything it was running has ended with it."""

    exited: EngineExited


@dataclass
class FamilyPicked(_Message):
    name: str


@dataclass
class FormValidated(_Message):
    """The config form was checked after an edit: `problems` is empty when it can start."""

    problems: list[str]


@dataclass
class RunOpened(_Message):
    """A run in the runs panel was chosen for viewing, or for replaying at `speed` times real time."""

    key: str
    replay: bool = False


@dataclass
class CompareToggled(_Message):
    """A run was added to, or taken out of, the plots' overlay."""

    key: str
