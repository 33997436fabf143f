"""The live settings of the running run (key `e`): the settings its family lets change mid-run.

Each field shows the value the run trains with now; Enter sends the fields that differ. A change
applies from the run's next step and is recorded (a `setting_changed` event); one the run cannot
take (an unknown setting, one fixed for the run, a value out of bounds) is refused with the reason,
and the run goes on as it was. Escape closes without changing anything.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from engine.changes import live_settings
from engine.config import knobs
from engine.registry import FamilySpec


def shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class LiveSettings(ModalScreen[dict[str, str] | None]):
    """Dismissed with {setting: text} of the fields changed (maybe empty), or None (Escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    LiveSettings { align: center middle; }
    LiveSettings > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    LiveSettings .live-row { height: auto; }
    LiveSettings Input { width: 100%; }
    LiveSettings .live-help { color: $text-muted; }
    """

    def __init__(self, label: str, step: int, spec: FamilySpec, current: dict[str, object]) -> None:
        super().__init__()
        self.label, self.step, self.spec, self.current = label, step, spec, current
        self.names = live_settings(spec)

    def compose(self) -> ComposeResult:
        help_of = {k.name: k for k in knobs(self.spec.config_cls)}
        with Vertical(id="live-box"):
            yield Static(
                f"[b]{self.label}[/b]: live settings at step {self.step:,}\n"
                f"[dim]a change applies from the next step and is recorded; Enter applies, Escape closes[/dim]"
            )
            for name in self.names:
                knob = help_of[name]
                yield Label(f"{name}  [dim]({knob.allowed()})[/dim]", classes="live-row")
                yield Input(shown(self.current.get(name, knob.default)), id=f"live-{name}", classes="live-input")

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()

    def on_input_submitted(self) -> None:
        changed = {}
        for name in self.names:
            text = self.query_one(f"#live-{name}", Input).value.strip()
            if text != shown(self.current.get(name)):
                changed[name] = text
        self.dismiss(changed)

    def action_cancel(self) -> None:
        self.dismiss(None)
