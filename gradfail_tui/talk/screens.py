"""The talk's overlays, each a modal screen over the slide (or the speaker view): `g` and a number (go to a
slide), `i` (the index of slides), `?` (every key), `b` (the screen blank until a key). Each dismisses
itself with what was chosen; the app acts on it. Their styles are in talk.tcss."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

KEY_NAMES = {
    "right": "→",
    "left": "←",
    "pagedown": "PageDown",
    "pageup": "PageUp",
    "space": "space",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
    "right_square_bracket": "]",
    "left_square_bracket": "[",
    "question_mark": "?",
    "escape": "Esc",
}


def key_names(keys: str) -> str:
    """A binding's keys as a person types them: "right,pagedown,n" -> "→ PageDown n"."""
    return "  ".join(KEY_NAMES.get(key, key) for key in keys.split(","))


class JumpScreen(ModalScreen[int | None]):
    """`g`: a slide's number, then Enter; Esc gives up. Dismissed with the number (1-based) or None."""

    BINDINGS = [Binding("escape", "give_up", "give up", id="jump.give_up")]

    def __init__(self, slides: int):
        super().__init__()
        self.slides = slides

    def compose(self) -> ComposeResult:
        with Vertical(id="jump"):
            yield Static(f"Go to slide (1 to {self.slides}), then Enter:", id="jump-prompt")
            yield Input(type="integer", max_length=3, id="jump-number")

    @on(Input.Submitted)
    def jumped(self, event: Input.Submitted) -> None:
        self.go(event.value)

    def on_key(self, event: events.Key) -> None:
        if not self.query_one("#jump-number", Input).has_focus:
            self.typed(event)

    def typed(self, event: events.Key) -> bool:
        """Take a digit or Enter that did not reach the Input (True if taken). `g 7 Enter` typed fast, or
        sent by a clicker as one burst, is queued on the slide before this screen is up: its keys come
        back through the app (TalkBase.on_key), or reach this screen before the Input has the focus."""
        number = self.query_one("#jump-number", Input)
        if event.character is not None and event.character.isdigit():
            if len(number.value) < (number.max_length or 3):
                number.value += event.character
                number.cursor_position = len(number.value)
        elif event.key == "enter":
            self.go(number.value)
        else:
            return False
        event.stop()
        return True

    def go(self, text: str) -> None:
        text = text.strip()
        self.dismiss(int(text) if text.isdigit() else None)

    def action_give_up(self) -> None:
        self.dismiss(None)


class IndexScreen(ModalScreen[int | None]):
    """`i`: every slide by its heading, the current one highlighted; Enter goes there, Esc or i closes.
    Dismissed with the slide's index (0-based) or None."""

    BINDINGS = [Binding("escape,i,q", "close", "close", id="index.close")]

    def __init__(self, headings: list[str], current: int):
        super().__init__()
        self.headings = headings
        self.current = current

    def compose(self) -> ComposeResult:
        options = [Option(f"{number:>2}  {escape(heading)}") for number, heading in enumerate(self.headings, 1)]
        with Vertical(id="index"):
            yield Static("Slides: ↑ ↓ and Enter to go, Esc to stay", id="index-title")
            yield OptionList(*options, id="index-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = self.current

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """`?`: every key of this view and what it does; any key closes it."""

    def __init__(self, title: str, keys: list[tuple[str, str]]):
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, does in self.keys:
            table.add_row(keys, does)
        with Vertical(id="help"):
            yield Static(f"{self.title_text}: the keys (any key closes this)", id="help-title")
            yield Static(table, id="help-keys")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(None)


class BlankScreen(ModalScreen[None]):
    """`b`: nothing on the screen, so the room looks at the speaker; any key brings the slide back."""

    def compose(self) -> ComposeResult:
        yield Static(id="blank")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(None)
