"""What both views of a talk share (`TalkBase`): the deck and the slide shown, the keys that move between
slides (next, previous, `g` and a number, the index), the overlays (screens.py: `?`, `b`), the talk's
clock, and following the other view through a `Channel` (follow.py). The presenting view (app.py,
`TalkApp`) and the speaker view (speaker.py, `SpeakerApp`) draw the slide each their own way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from engine.walltimes import clock
from gradfail_tui.talk.deck import Deck, Slide
from gradfail_tui.talk.follow import Channel, TalkState
from gradfail_tui.talk.screens import HelpScreen, IndexScreen, JumpScreen, key_names

TICK_S = 0.25  # how often a view redraws what moves (a replay, the clock)
POLL_S = 0.2  # how often a view reads the other view's state (follow.py)


def clock_text(seconds: float) -> str:
    """Elapsed time as a clock shows it: 0:00, 12:03, 1:02:03."""
    return clock(max(0, int(seconds)))  # whole seconds gone, as a clock ticks


class TalkBase(App):
    """What both views of a talk share: the deck, the slide shown, the keys that move between slides,
    the overlays, the talk's clock, and following the other view (`follow`, None: on its own)."""

    CSS_PATH = "talk.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("right,pagedown,n", "next", "next slide (what a presenter's clicker sends)", show=False, id="next"),
        Binding("left,pageup,p", "previous", "previous slide", show=False, id="previous"),
        Binding("g", "jump", "go to a slide: g, its number, Enter", show=False, id="jump"),
        Binding("i", "index", "the index of slides: pick one", show=False, id="index"),
        Binding(
            "right_square_bracket",
            "panels(1)",
            "the figure's next panels (a small screen)",
            show=False,
            id="panels.next",
        ),
        Binding("left_square_bracket", "panels(-1)", "the figure's previous panels", show=False, id="panels.previous"),
        Binding("b", "blank", "blank the audience's screen (b again, or any key on it: back)", show=False, id="blank"),
        Binding("c", "clock", "hide or show the clock", show=False, id="clock"),
        Binding("question_mark", "help", "these keys", show=False, id="help"),
        Binding("q", "quit", "quit", show=False, id="quit"),
    ]

    blank = reactive(False, init=False)  # the audience's screen shows nothing (b)

    def __init__(
        self,
        deck: Deck,
        clock: Callable[[], float] | None = None,
        follow: Channel | None = None,
        minutes: float | None = None,
    ):
        super().__init__()
        self.deck = deck
        self.clock = clock  # a test's fake clock, for the replay and the talk's clock alike
        self.now = clock or time.time  # the talk's clock: wall time, shared by the views on this machine
        self.follow = follow
        self.minutes = minutes  # the talk's target length (--minutes), None: no target
        self.number = 0
        self.page = 0  # which panels of the figure are shown, where not all fit
        self.started: float | None = None  # when the talk started: its first slide change

    @property
    def slide(self) -> Slide:
        return self.deck.slides[self.number]

    @property
    def elapsed(self) -> float:
        return 0.0 if self.started is None else max(0.0, self.now() - self.started)

    def on_mount(self) -> None:  # after a subclass's own on_mount (Textual calls both)
        if self.follow is not None:
            self.sync()  # join a talk in progress
            self.set_interval(POLL_S, self.sync)

    def on_key(self, event: events.Key) -> None:
        if isinstance(self.screen, JumpScreen):  # a number typed as fast as `g`: it goes to the jump
            self.screen.typed(event)

    def on_unmount(self) -> None:
        if self.follow is not None:
            self.follow.close()

    # ---- moving, here or in the other view ------------------------------------------------------

    def go(self, number: int) -> None:
        """Show slide `number` (0-based), start the talk's clock if it has not, and tell the other view."""
        number = min(max(number, 0), len(self.deck.slides) - 1)
        if number == self.number:
            return
        self.number, self.page = number, 0
        if self.started is None:
            self.started = self.now()
        self.show()
        self.share(changed=True)

    def talk_state(self) -> TalkState:
        return TalkState(slide=self.number, page=self.page, blank=self.blank, started=self.started)

    def share(self, changed: bool = False) -> None:
        """Write this view's state for the other view (`changed`: a key here changed it, so it wins)."""
        if self.follow is not None:
            self.follow.publish(self.talk_state(), self.run_state(), changed)

    def sync(self) -> None:
        """Take the other view's state if it is newer, then write this view's (its heartbeat)."""
        if self.follow is None or not self.is_running:
            return
        post = self.follow.newer()
        if post is not None:
            self.adopt(post.state)
        self.share()

    def adopt(self, state: TalkState) -> None:
        """Show what the other view changed: its slide, its panels, the blank screen, the talk's start."""
        self.started = state.started
        number = min(max(state.slide, 0), len(self.deck.slides) - 1)
        if number != self.number:
            self.number, self.page = number, state.page
            self.show()
        elif state.page != self.page:
            self.page = state.page
            self.show_page()
        self.blank = state.blank

    def run_state(self) -> str:
        """What the slide's runs are doing, for the footer and the speaker view ("" if nothing)."""
        return ""

    def show(self) -> None:
        """Put the current slide on screen."""

    def show_page(self) -> None:
        """Show the panels `self.page` names."""

    # ---- keys ----------------------------------------------------------------------------------

    def action_next(self) -> None:
        self.go(self.number + 1)

    def action_previous(self) -> None:
        self.go(self.number - 1)

    def action_jump(self) -> None:
        def jumped(number: int | None) -> None:
            if number is not None:
                self.go(number - 1)

        self.push_screen(JumpScreen(len(self.deck.slides)), jumped)

    def action_index(self) -> None:
        def chosen(index: int | None) -> None:
            if index is not None:
                self.go(index)

        self.push_screen(IndexScreen([s.heading for s in self.deck.slides], self.number), chosen)

    def action_blank(self) -> None:
        self.blank = not self.blank
        self.share(changed=True)

    def action_clock(self) -> None:
        for widget in self.query(".clock"):
            widget.display = not widget.display

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.TITLE, self.keys()))

    def keys(self) -> list[tuple[str, str]]:
        """Every key of this view and what it does, as `?` lists them."""
        listed = []
        for cls in reversed(type(self).__mro__):
            if isinstance(cls, type) and issubclass(cls, TalkBase):
                listed += [(key_names(b.key), b.description) for b in cls.__dict__.get("BINDINGS", [])]
        return listed + [("Esc", "close the index or the go-to prompt")]

    def clock_text(self) -> str:
        shown = clock_text(self.elapsed)
        return f"{shown} / {clock_text(self.minutes * 60)}" if self.minutes else shown
