"""A form whose fields are all replaced on every pick, written so that the fields it drops are freed.

Both setup forms (config_form: a family's knobs; group_form: a figure's settings) rebuild their
children whenever a family or a figure is picked, a few hundred times in a long session. Two
habits of Textual (8.2) would keep every dropped field alive for the rest of the session:

- `query_one` caches its answers, keyed by the version of the node's children, in an LRU of
  1,024 entries; the answers for versions that are gone are never asked for again but stay until
  evicted, each holding a dropped field and its row. A rebuilt form therefore never looks its own
  widgets up: it names the ones it needs with `part` as it builds them and finds them in `parts`,
  which holds those of the build on screen (or being mounted) and nothing older.
- `Input` subscribes to its screen's text-selection signal and never unsubscribes. The signal
  keeps subscribers in a WeakKeyDictionary whose value, a closure over the Input, holds its key,
  so the entry is never dropped (python/cpython#88846). `FieldInput` unsubscribes on unmount.
"""

from __future__ import annotations

from typing import TypeVar

from textual import on
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from engine import walltimes
from engine.presets import DEFAULT_SCALE

W = TypeVar("W", bound=Widget)
DEVICES = ("auto", "cpu", "cuda")  # offered until the engine says which devices it has


class FieldInput(Input):
    """An Input that lets go of its screen's signal when it is removed."""

    def on_unmount(self) -> None:
        self.screen.text_selection_started_signal.unsubscribe(self)


class RebuiltForm(VerticalScroll, can_focus=False):  # Tab goes straight to the fields
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.parts: dict[str, Widget] = {}  # the widgets of the build on screen, by id
        self._next_parts: dict[str, Widget] = {}
        self.devices: tuple[str, ...] = DEVICES

    def part(self, widget: W) -> W:
        """Name a widget of the next build (by its id) so that `parts` finds it; returns it."""
        assert widget.id, "a part is found by its id"
        self._next_parts[widget.id] = widget
        return widget

    device_select = ""  # the id of the form's device Select

    def select_row(self, name: str, options: list[tuple[str, str]], value: str, id: str, *below: Widget) -> Vertical:
        """A field chosen from `options`: its name, a Select found in `parts` by `id`, and `below` it
        (help, a note)."""
        select = self.part(Select(options, value=value, allow_blank=False, id=id, classes="value", compact=True))
        return Vertical(Horizontal(Label(name, classes="name"), select, classes="row"), *below, classes="field")

    def device_row(self, help: str | None = None) -> Widget:
        """The device field: a Select of `devices`, found in `parts` by `device_select`."""
        below = [Static(help, classes="help")] if help else []
        return self.select_row("device", [(d, d) for d in self.devices], "auto", self.device_select, *below)

    def set_devices(self, devices: list[str]) -> None:
        """Offer the engine's devices (known once it is ready), keeping the choice where it still exists."""
        self.devices = tuple(dict.fromkeys(["auto", "cpu", *devices, "cuda"]))
        select = self.parts.get(self.device_select)
        if isinstance(select, Select):
            if not select.is_mounted:  # a rebuild is mounting it (a Select takes options once mounted)
                self.call_after_refresh(self.set_devices, devices)
                return
            current = select.value
            select.set_options([(d, d) for d in self.devices])
            select.value = current if current in self.devices else "auto"

    @on(Input.Changed)
    @on(Select.Changed)
    def _edited(self, event) -> None:
        event.stop()
        self.check()

    def check(self) -> list[str]:
        raise NotImplementedError

    async def rebuild(self, widgets: list[Widget]) -> None:
        """Show these widgets instead of the form's; `parts` holds those given to `part` since the
        last rebuild, from now on (a check while they mount finds them, not the old ones)."""
        self.parts, self._next_parts = self._next_parts, {}
        await self.remove_children()
        await self.mount_all(widgets)


# What a scale's name promises, where no wall time was measured for it (presets/measured/walltimes.toml).
SCALE_NOTES = {DEFAULT_SCALE: "CPU, minutes", "paper": "the original schedule", "large": "for a GPU or a cluster"}


def scale_note(preset: str, scale: str) -> str:
    """What a preset's scale costs: its measured wall time (engine/walltimes.py, the one source),
    else what the scale's name promises."""
    measured = walltimes.lookup(preset, scale)
    if measured is None:
        return SCALE_NOTES.get(scale, "see gradfail presets show")
    where = measured.machine.split(" (")[0].split(",")[0]  # "2-core CPU", "NVIDIA H200": the rest is in presets show
    return f"{walltimes.clock(measured.seconds)} measured on a {where}"


def scale_options(preset: str, scales: list[str]) -> list[tuple[str, str]]:
    """A preset's scales for a Select: "cpu · 28:40 measured on a 2-core CPU"."""
    return [(f"{scale} · {scale_note(preset, scale)}", scale) for scale in scales]
