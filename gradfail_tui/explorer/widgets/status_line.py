"""The status line: the run on screen (step, steps/s, elapsed, ETA, device, status) and the engine."""

from __future__ import annotations

from textual.app import RenderResult
from textual.content import Content
from textual.markup import escape
from textual.widget import Widget

from engine.state import RunState
from engine.status import RunStatus
from gradfail_tui.render.colours import RUN_STATUSES, status_tone, textual_colour
from gradfail_tui.render.format import format_duration


def run_text(state: RunState, note: str = "") -> str:
    status = state.status
    colour = textual_colour(status_tone(status))
    parts = [f"[b]{escape(state.label)}[/b]", f"[{colour} b]● {escape(status)}[/]"]
    if note:
        parts.append(f"[$accent]{escape(note)}[/]")
    total = f"/{state.total_steps:,}" if state.total_steps else ""
    parts.append(f"step {state.step:,}{total}")
    if state.finished:  # the whole run's rate, once it is over
        rate = state.step / state.t if state.t > 0 else None
        parts.append(f"avg {rate:,.0f} steps/s" if rate else "- steps/s")
    else:
        rate = state.steps_per_s() if status != RunStatus.PAUSED else None
        parts.append(f"{rate:,.0f} steps/s" if rate else "- steps/s")
    parts.append(f"elapsed {format_duration(state.t)}")
    if not state.finished:
        parts.append(f"ETA {format_duration(state.eta_s())}")
    if state.device_name:
        parts.append(escape(state.device_name))
    return "  ".join(parts)


class StatusLine(Widget):
    """A Widget with its own render() rather than a Static: Static.update() asks for a new layout
    of the whole screen each time, and this line changes several times a second while a run goes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""
        self._content = Content("")

    def render(self) -> RenderResult:
        return self._content

    def show(self, state: RunState | None, engine: str, note: str = "") -> None:
        """Two lines: the run shown (or a hint), then its message or the engine's state."""
        if state is None:
            first = "[b]gradfail[/b]  pick a family and a preset or values on [b]Setup[/b], then press [b]s[/b]"
            second = engine
        else:
            first = run_text(state, note)
            if status_tone(state.status) == "error" or state.error_kind:
                second = f"[$error b]{escape(state.status)}:[/] [$error]{escape(state.message or state.status)}[/]"
            elif state.message and state.finished:
                second = escape(state.message)
            else:
                second = engine
        for status in RUN_STATUSES:  # the border follows the status (app.tcss)
            self.set_class(state is not None and state.status == status, f"-{status.replace(' ', '-')}")
        text = f"{first}\n{second}"
        if text != self._text:  # an unchanged line costs nothing
            self._text = text
            self._content = Content.from_markup(text)
            self.refresh()
