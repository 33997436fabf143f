"""`gradfail talk DECK --speaker`: the speaker view, in a second terminal beside the presenting one.

It follows the presenting `gradfail talk DECK` on this machine (follow.py) and shows what the audience
does not see: the slide's notes (notes.py: what to say, then the numbers behind its verdict), the next
slide's heading, the talk's clock against its target (`--minutes`: where the speaker should be by now,
ahead or behind), and what the presenter's runs are doing (replaying at x%, training live at step n of N).
Its keys move both views, as the presenter's do; with no presenter it says so and moves on its own.
No plot and no replay here: the presenter draws those.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Digits, Static

from gradfail_tui.talk.base import TICK_S, TalkBase, clock_text
from gradfail_tui.talk.deck import Deck, SlideKind
from gradfail_tui.talk.follow import Channel
from gradfail_tui.talk.notes import Notes

NOTES_STEP = 3  # lines the notes scroll by, a key


def pace(elapsed: float, number: int, slides: int, minutes: float | None, started: bool) -> str:
    """Where the talk stands against its target: an equal share of `minutes` a slide, so the speaker
    should be on slide elapsed // share + 1 by now; ahead (or behind) by the time to the start (past the
    end) of the current slide's share. `number` is 0-based."""
    if not started:
        return "the clock starts at the first slide change"
    if not minutes:
        return "no target: --minutes N sets one"
    total = minutes * 60
    share = total / slides
    should = min(slides, int(elapsed // share) + 1)
    if elapsed >= total:
        where = f"over time by {clock_text(elapsed - total)}"
    elif elapsed > (number + 1) * share:
        where = f"{clock_text(elapsed - (number + 1) * share)} behind"
    elif elapsed < number * share:
        where = f"{clock_text(number * share - elapsed)} ahead"
    else:
        where = "on pace"
    return f"of {clock_text(total)}, {clock_text(share)} a slide\nshould be on slide {should}: {where}"


class SpeakerApp(TalkBase):
    """The speaker's notes, the next slide, the clock and the presenter's runs; its keys move both views."""

    TITLE = "gradfail talk: speaker view"
    BINDINGS = [
        Binding("down", "scroll_notes(1)", "scroll the notes down", show=False, id="notes.down"),
        Binding("up", "scroll_notes(-1)", "scroll the notes up", show=False, id="notes.up"),
    ]

    def __init__(
        self,
        deck: Deck,
        notes: Notes | None = None,
        clock: Callable[[], float] | None = None,
        follow: Channel | None = None,
        minutes: float | None = None,
    ):
        super().__init__(deck, clock, follow, minutes)
        self.notes = notes or Notes()
        self.shown: dict[str, str] = {}  # what each ticking widget shows

    def compose(self) -> ComposeResult:
        yield Static(id="s-heading")
        with Horizontal(id="s-body"):
            with VerticalScroll(id="s-notes", can_focus=False):
                yield Static(id="s-words")
                yield Static(id="s-numbers")
            with Vertical(id="s-side"):
                yield Digits("0:00", id="s-clock", classes="clock")
                yield Static(id="s-pace", classes="clock")
                yield Static(id="s-next")
                yield Static(id="s-run")
        with Horizontal(id="bar"):
            yield Static(id="footer")

    def on_mount(self) -> None:
        self.show()  # then TalkBase.on_mount follows the presenter
        self.set_interval(TICK_S, self.tick)

    # ---- keys ----------------------------------------------------------------------------------

    def action_panels(self, step: int) -> None:
        """Page the presenter's figure (its page count is the presenter's: it wraps them)."""
        self.page += step
        self.share(changed=True)
        self.tick()

    def action_scroll_notes(self, step: int) -> None:
        notes = self.query_one("#s-notes", VerticalScroll)
        notes.scroll_relative(y=step * NOTES_STEP, animate=False)

    def watch_blank(self, _: bool) -> None:
        self.tick()

    # ---- drawing -------------------------------------------------------------------------------

    def show(self) -> None:
        slide, total = self.slide, len(self.deck.slides)
        self.query_one("#s-heading", Static).update(f"{self.number + 1} / {total}  {escape(slide.heading)}")
        self.query_one("#s-words", Static).update(escape(self.notes.words(slide)) or "[dim](no notes)[/]")
        numbers = self.notes.numbers(slide)
        if slide.kind is SlideKind.RESULT and not numbers:
            numbers = [f"no verdict: {problem}" for problem in slide.problems] or ["no verdict"]
        self.query_one("#s-numbers", Static).update("\n".join(f"• {escape(line)}" for line in numbers))
        self.query_one("#s-notes", VerticalScroll).scroll_home(animate=False)
        following = self.deck.slides[self.number + 1].heading if self.number + 1 < total else "(the last slide)"
        self.query_one("#s-next", Static).update(f"[b]Next:[/b] {escape(following)}")
        self.tick()

    def tick(self) -> None:
        if not self.query("#footer"):  # a last tick while the app closes
            return
        slides = len(self.deck.slides)
        link = "following the presenter" if self.presenter() else "on its own"
        if self.follow is None:
            link = "not following (no place for the state file)"
        self.put("#s-clock", clock_text(self.elapsed))
        self.put("#s-pace", pace(self.elapsed, self.number, slides, self.minutes, self.started is not None))
        self.put("#s-run", self.presenter_line())
        self.put(
            "#footer",
            f"slide {self.number + 1} of {slides} · {link} · ? keys  → next  ← back  g go  i index  b blank  q quit",
        )

    def put(self, selector: str, content: str) -> None:
        """Show `content` in the widget, if it is not shown already (a tick redraws only what changed)."""
        if self.shown.get(selector) != content:
            self.shown[selector] = content
            self.query_one(selector).update(content)

    def presenter(self):
        return self.follow.presenter() if self.follow is not None else None

    def presenter_line(self) -> str:
        """The presenter's screen and runs, or that there is no presenter."""
        lines = ["[b reverse $warning] THE AUDIENCE'S SCREEN IS BLANK [/] (b: back)"] if self.blank else []
        post = self.presenter()
        if post is None:
            lines.append("[$warning]waiting for the presenter[/] [dim](gradfail talk DECK in another terminal)[/]")
        else:
            lines.append(f"[b]Runs:[/b] {escape(post.run) or '[dim]none on this slide[/]'}")
        return "\n".join(lines)
