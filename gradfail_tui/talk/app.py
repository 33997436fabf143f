"""`gradfail talk`: the paper as a slide show, each result's runs replayed from a deck.

One slide on screen at a time (deck.py reads them): the heading in a banner, the question, the
paper's claim, the paper's figure as its group declares it (engine/figures.py: Figure 5's SNR against
k, one panel per k for Figures 3 and 4, the decoded curves and staircases of Figures 6 and 7), growing
as the runs replay (render/figure.py draws it, with thick lines and a legend under it), the verdict
judged on the records, and one sentence of why. Keys a presenter's clicker sends (Right / Left,
PageDown / PageUp) move between slides; space pauses the replay, + and - change its speed, ] and [ page
through the panels that do not fit (a small terminal), f shows the plot alone, q quits. `g`, a number and
Enter go to a slide, `i` lists them, `b` blanks the screen, `c` hides the clock in the corner, `?` lists
every key (screens.py). Every key is harmless on every slide; whatever is missing from the deck is said on
its slide.

With `--live` (live.py), the fast results train on their slides, under a LIVE badge; where the deck has
their recording, a slide that falls behind its time or whose engine fails switches to it (a REPLAY badge
saying why, from the fraction the live runs had reached), and the speaker view is told why.

`TalkApp` is the presenting view; the speaker view (speaker.py, `SpeakerApp`) shares with it what
base.py's `TalkBase` holds: moving between slides, the overlays, the talk's clock, and following the
other view (follow.py), so a key pressed in either moves both. `run_talk` starts one or the other.

Large print within what a terminal allows: few words, bold, high-contrast banners, thick lines (the
font size is the terminal's or the browser's: enlarge it there). Torch-free; no engine: a talk
replays what was recorded (but with `--live`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from engine import paper
from engine.figures import figure_data
from engine.registry import UnknownFamily, get_family
from gradfail_tui.render.colours import outcome_look, textual_colour
from gradfail_tui.render.figure import Page, render_figure
from gradfail_tui.render.plots import family_figure, overlay_figure
from gradfail_tui.talk.base import TICK_S, TalkBase
from gradfail_tui.talk.deck import Deck, Slide, SlideKind, SlideReplay, load_deck
from gradfail_tui.talk.follow import Channel, FollowError, Role
from gradfail_tui.talk.live import LiveTalk, failure
from gradfail_tui.talk.screens import BlankScreen
from gradfail_tui.talk.speaker import SpeakerApp

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
LIVE = frozenset(r.preset for r in paper.RESULTS if r.live)  # the results fast enough to train on their slides
MARKER = "hd"  # plotext's half-block lines: thicker than braille, legible from the back of a room


class TalkApp(TalkBase):
    """The presenting view: the slide the audience sees, its runs replayed (or trained live)."""

    TITLE = "gradfail talk"
    BINDINGS = [
        Binding("space", "pause", "pause or resume the replay", show=False, id="pause"),
        Binding("plus,equals_sign", "faster", "replay faster (up to 8x)", show=False, id="faster"),
        Binding("minus", "slower", "replay slower (down to 0.25x)", show=False, id="slower"),
        Binding("f", "full", "the plot alone, full screen (again: back)", show=False, id="full"),
    ]

    def __init__(
        self,
        deck: Deck,
        slide_seconds: float = 20.0,
        clock: Callable[[], float] | None = None,
        live: LiveTalk | None = None,
        follow: Channel | None = None,
        minutes: float | None = None,
    ):
        super().__init__(deck, clock, follow, minutes)
        self.live = live  # trains the fast slides (--live), the deck's recording (if any) their fallback
        self.slide_seconds = slide_seconds
        self.speed = SPEEDS.index(1.0)
        self.replay: SlideReplay | None = None
        self.drawn_for: tuple | None = None  # what the plot was last drawn for (slide, positions, size, page)
        self.pages: Page | None = None  # how the figure on screen was paged
        self.live_since: dict[str, float] = {}  # preset -> when its live slide was first shown (the app's clock)
        self.fallbacks: dict[str, str] = {}  # preset -> why its live slide gave way to its recording

    def compose(self) -> ComposeResult:
        with Vertical(id="slide"):
            yield Static(id="heading")
            yield Static(id="question")
            yield Static(id="claim")
            yield Static(id="mode", classes="-off")  # the LIVE / REPLAY badge of a live slide
            yield Static(id="plot")
            yield Static(id="verdict")
            yield Static(id="why")
        with Horizontal(id="bar"):
            yield Static(id="footer")
            yield Static(id="clock", classes="clock")

    def on_mount(self) -> None:
        if self.live is not None:
            self.live.start(self.call_from_thread)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):  # as q: what trains is recorded interrupted
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.exit)
        self.show()  # then TalkBase.on_mount (Textual calls each class's handler) follows the other view
        self.set_interval(TICK_S, self.tick)

    def on_unmount(self) -> None:
        if self.live is not None:
            self.live.close()

    def live_job(self):
        """The current slide's live run (started here on its first showing), or None: no --live, not fast
        enough, or given up for its recording."""
        slide = self.slide
        if self.live is None or slide.kind is not SlideKind.RESULT or slide.preset in self.fallbacks:
            return None
        if not (slide.live or slide.preset in LIVE):
            return None
        job = self.live.run(slide.preset)
        self.live_since.setdefault(slide.preset, self.tick_now())
        if not slide.plot:  # drawn as the group draws its figure
            slide.plot, slide.log_y = tuple(job.preset.plot), job.preset.log_y
        return job

    def tick_now(self) -> float:
        return self.clock() if self.clock is not None else time.monotonic()

    def check_live(self, job) -> None:
        """Give the slide's live run up for the deck's recording if it is too slow or has failed (live.py's
        rule): stop it (recorded `stopped`), and replay the recording from the fraction it had reached,
        so the audience does not see the start twice and the slide keeps its time."""
        slide = self.slide
        elapsed = self.tick_now() - self.live_since.get(slide.preset, self.tick_now())
        why = self.live.fall_back(job, elapsed, self.slide_seconds)
        if why is None or not slide.runs:
            return  # without a recording the slide trains on (a failure is said on it)
        fraction = self.live.fraction(job)
        self.live.abandon(job)
        self.fallbacks[slide.preset] = why
        self.start_replay(slide)
        if self.replay is not None:
            self.replay.elapsed = fraction * self.replay.seconds
            self.replay.advance()
        self.drawn_for = None
        self.draw_mode()

    def start_replay(self, slide: Slide) -> None:
        kwargs = {"clock": self.clock} if self.clock is not None else {}
        self.replay = SlideReplay(slide, self.slide_seconds, **kwargs) if slide.runs else None
        if self.replay is not None:
            self.replay.set_speed(SPEEDS[self.speed])

    # ---- keys ----------------------------------------------------------------------------------

    def action_pause(self) -> None:
        if self.replay is not None:
            self.replay.toggle_pause()
        self.draw_footer()

    def action_faster(self) -> None:
        self.set_speed(min(self.speed + 1, len(SPEEDS) - 1))

    def action_slower(self) -> None:
        self.set_speed(max(self.speed - 1, 0))

    def set_speed(self, index: int) -> None:
        self.speed = index
        if self.replay is not None:
            self.replay.set_speed(SPEEDS[index])
        self.draw_footer()

    def action_panels(self, step: int) -> None:
        if self.pages is not None and self.pages.pages > 1:
            self.page = (self.pages.number + step) % self.pages.pages
            self.show_page()
            self.share(changed=True)

    def show_page(self) -> None:
        self.draw_plot()
        self.draw_footer()

    def action_full(self) -> None:
        self.query_one("#slide").toggle_class("-full")
        self.drawn_for = None
        self.draw_plot()

    def watch_blank(self, blank: bool) -> None:
        if blank and not isinstance(self.screen, BlankScreen):
            self.push_screen(BlankScreen(), self.unblanked)
        elif not blank and isinstance(self.screen, BlankScreen):
            self.pop_screen()

    def unblanked(self, _: None = None) -> None:
        """A key on the blank screen: the slide is back, in both views."""
        if self.blank:
            self.blank = False
            self.share(changed=True)

    # ---- drawing -------------------------------------------------------------------------------

    def show(self) -> None:
        """Put the current slide on screen and start its replay from the beginning."""
        slide = self.slide
        self.pages = None
        self.replay = None
        if self.live_job() is None:
            self.start_replay(slide)
        self.query_one("#slide").set_class(slide.kind is not SlideKind.RESULT, "-text")
        self.query_one("#heading", Static).update(Text(slide.heading, style="bold"))
        if slide.kind is SlideKind.RESULT:
            self.query_one("#question", Static).update(Text(slide.question, style="bold"))
            self.query_one("#claim", Static).update(Text("The paper: " + slide.claim))
            self.query_one("#why", Static).update(Text("Why: " + slide.why, style="italic"))
        else:
            self.query_one("#question", Static).update("")
            self.query_one("#claim", Static).update(Text("\n\n".join(slide.lines), style="bold"))
            self.query_one("#why", Static).update("")
        self.drawn_for = None
        self.draw_mode()
        self.draw_verdict()
        self.draw_plot()
        self.draw_footer()

    def tick(self) -> None:
        if not self.query("#footer"):  # a last tick while the app closes: its widgets are already gone
            return
        if self.replay is not None and self.replay.advance():
            self.draw_plot()
            if self.replay.done:
                self.draw_verdict()
        elif (job := self.live_job()) is not None:
            self.check_live(job)
            self.draw_mode()
            self.draw_plot()
            self.draw_verdict()
        else:
            self.draw_plot()  # drawn again only if its size changed (the verdict's lines arrived, a resize)
        self.draw_footer()

    def mode(self) -> tuple[str, str, str] | None:
        """The live slide's badge, its colour and what it says beside it; None on a slide that does not train live."""
        slide = self.slide
        if self.live is None or slide.kind is not SlideKind.RESULT:
            return None
        if slide.preset in self.fallbacks:
            return (
                "REPLAY",
                "$warning",
                f"(fallback: {self.fallbacks[slide.preset]}) the deck's recording of these runs",
            )
        job = self.live_job()
        if job is None:
            return None
        failed = failure(job)
        if failed is not None:  # only without a recording: with one, the slide has switched to it
            return "LIVE", "$error", f"{failed}; nothing recorded to fall back on"
        if job.finished:
            return "LIVE", "$success", "trained on this machine"
        rate = self.live.steps_per_s(job)
        elapsed = self.tick_now() - self.live_since.get(slide.preset, self.tick_now())
        projected = self.live.projected(job, elapsed)
        said = f"training on this machine: {self.live.fraction(job):.0%}"
        if rate is not None and projected is not None:
            said += f" at {rate:,.0f} steps/s, about {max(0.0, projected - elapsed):,.0f} s to go"
        return "LIVE", "$success", said

    def draw_mode(self) -> None:
        mode = self.mode()
        widget = self.query_one("#mode", Static)
        widget.set_class(mode is None, "-off")
        if mode is not None:
            badge, look, said = mode
            widget.update(f"[b reverse {look}] {badge} [/] {escape(said)}")

    def draw_verdict(self) -> None:
        slide, widget = self.slide, self.query_one("#verdict", Static)
        problems = [f"[$warning]! {escape(p)}[/]" for p in slide.problems]
        if slide.kind is not SlideKind.RESULT:
            widget.update("\n".join(problems))
            return
        job = self.live_job()
        if job is not None:
            if job.verdict is None:
                where = f"run {job.number} of {len(job.members)}" if job.number else "starting"
                widget.update(f"[b]Verdict:[/b] [dim]when the runs end (training live: {where})[/]")
                return
            tone = textual_colour(outcome_look(job.verdict.outcome).tone)
            audited = slide.audited(job.scale)
            widget.update(
                f"[b]Verdict:[/b] [b reverse {tone}] {job.verdict.outcome.upper()} [/] [dim](trained live)"
                + (f"  {escape(audited)}" if audited else "")
                + "[/]"
            )
            return
        if slide.verdict is None:
            if slide.live and self.live is None:
                problems.append("[$warning]! fast enough to train live: gradfail talk --live[/]")
            widget.update("\n".join(problems) or "[$warning]no verdict[/]")
            return
        if self.replay is not None and not self.replay.done:
            lines = ["[b]Verdict:[/b] [dim]when the replay ends[/]"]
        else:
            tone = textual_colour(outcome_look(slide.verdict.outcome).tone)
            audited = slide.audited()  # how often the verdict holds over seeds: one look, on the same line
            lines = [
                f"[b]Verdict:[/b] [b reverse {tone}] {slide.verdict.outcome.upper()} [/]"
                + (f"  [dim]{escape(audited)}[/]" if audited else "")
            ]
            lines += [  # each claim not reproduced (or needing a larger scale), with where the paper says it
                f"[dim]• {escape(r.outcome)}: {escape(r.claim.says)}"
                + (f" ({escape(r.claim.paper)})" if r.claim.paper else "")
                + "[/]"
                for r in slide.verdict.results
                if r.outcome != "reproduced"
            ]
        widget.update("\n".join(lines + problems))

    def draw_plot(self) -> None:
        widget = self.query_one("#plot", Static)
        slide = self.slide
        width, height = max(widget.size.width, 20), max(widget.size.height, 5)
        job = self.live_job()
        snapshots = None  # a live run's: its latest of each (RunState keeps no more)
        if job is not None:
            states = job.states()
            families = {m.label: m.family for m in job.members}
            progress = tuple(len(v) for state in states.values() for v in state.series.values())
        else:
            states = {run.label: run.state for run in slide.runs}
            families = {run.label: run.family for run in slide.runs}
            progress = tuple(self.replay.positions) if self.replay else ()
            positions = self.replay.positions if self.replay else [None] * len(slide.runs)
            snapshots = {run.label: run.snapshots(at) for run, at in zip(slide.runs, positions)}
        key = (self.number, progress, width, height, self.page)
        if key == self.drawn_for:
            return
        self.drawn_for = key
        if not states:
            widget.update("" if job is None else Text("(the engine is starting)", style="dim"))
            return
        before = self.pages
        try:
            if slide.figure is not None:
                data = figure_data(slide.figure, states, snapshots)
                figure, self.pages = render_figure(data, width, height, marker=MARKER, page=self.page)
            else:
                figure = slide_figure(slide, states, families, width, height)
        except Exception as exc:  # a record plotext cannot draw must not end the talk: say so on the slide
            figure = Text(f"(this plot could not be drawn: {exc})", style="dim")
        widget.update(figure or Text("(no curve recorded yet)", style="dim"))
        if self.pages != before:  # the footer names the panels on screen: a new size pages them anew
            self.draw_footer()

    def run_state(self) -> str:
        if self.replay is not None:
            state = "paused" if self.replay.paused else ("replayed" if self.replay.done else "replaying")
            said = f"{state} {self.replay.fraction:.0%} at {SPEEDS[self.speed]:g}x"
            if self.slide.preset in self.fallbacks:  # the speaker is told why the slide is not live
                said = f"REPLAY (fallback: {self.fallbacks[self.slide.preset]}): {said}"
        elif (job := self.live_job()) is not None:
            said = "LIVE: " + live_progress(job)
            failed = failure(job)
            if failed is not None:
                said += f" ({failed}; no recording to fall back on)"
        else:
            return ""
        if self.pages is not None and self.pages.pages > 1:
            said += f" · {self.pages.label}"
        return said

    def draw_footer(self) -> None:
        parts = [f"slide {self.number + 1} of {len(self.deck.slides)}"]
        if self.replay is not None:
            state = "paused" if self.replay.paused else ("replayed" if self.replay.done else "replaying")
            parts.append(f"{state} {self.replay.fraction:.0%} at {SPEEDS[self.speed]:g}x")
            if self.slide.preset in self.fallbacks:
                parts[-1] += " (the recording)"
        elif (job := self.live_job()) is not None:
            parts.append("training live" if not job.finished else "trained live")
        if self.pages is not None and self.pages.pages > 1:
            parts.append(escape(f"[ ] {self.pages.label}"))
        parts.append("? keys  → next  ← back  space pause  +/- speed  f plot  q quit")
        self.query_one("#footer", Static).update(" · ".join(parts))
        self.query_one("#clock", Static).update(self.clock_text())


def live_progress(job) -> str:
    """A live slide's training, for the speaker view: "training live: step 300 of 5,000 (run 1 of 3)"."""
    if job.finished:
        return "trained live"
    if not job.number:
        return "training live: starting"
    state = job.states().get(job.members[job.number - 1].label)
    step = f"step {state.step:,} of {state.total_steps:,}" if state and state.total_steps else "starting"
    return f"training live: {step} (run {job.number} of {len(job.members)})"


def slide_figure(slide: Slide, states: dict, families: dict[str, str], width: int, height: int) -> Text | None:
    """The slide's runs as they stand (replayed or training live): its group's metric overlaid, or, for a
    measurement, the run's own figure."""
    specs = []
    for family in families.values():
        try:
            specs.append(get_family(family))
        except UnknownFamily:
            specs.append(None)
    shown = {label: state for label, state in states.items() if state.series}
    if not shown:
        return None
    if slide.plot and any(slide.plot[0] in state.series for state in shown.values()):
        title = slide.heading.split(":")[0]
        return overlay_figure(
            title, slide.plot[0], shown, specs, log_y=slide.log_y, width=width, height=height, marker=MARKER
        )
    spec = next((s for s in specs if s is not None), None)
    first = next(iter(shown.values()))
    return family_figure(spec, [first], width, height, marker=MARKER) if spec else None


def run_talk(
    path: Path | None,
    slide_seconds: float,
    live: bool = False,
    runs_dir: Path = Path("runs"),
    *,
    follow: bool = False,
    speaker: bool = False,
    minutes: float | None = None,
    notes=None,
) -> int:
    """Present the deck at `path` in this terminal (`speaker`: its speaker view, with `notes`); returns the
    exit code. `follow`: follow the other view of this deck on this machine (`gradfail talk`; not a
    browser's tab, which pages on its own). Without `live` there is no engine and no record: SIGTERM and
    SIGHUP keep their default (end at once), which loses nothing."""
    channel = None
    if follow:
        try:
            channel = Channel.for_deck(path, Role.SPEAKER if speaker else Role.PRESENTER)
        except FollowError as exc:
            print(f"gradfail talk: the two views cannot follow each other: {exc}", file=sys.stderr)
    deck = load_deck(path)
    if speaker:
        app: App = SpeakerApp(deck, notes, follow=channel, minutes=minutes)
    else:
        app = TalkApp(deck, slide_seconds, live=LiveTalk(runs_dir) if live else None, follow=channel, minutes=minutes)
    app.run()
    return 0
