"""`gradfail talk`: the paper as a slide show, each result's runs replayed from a deck.

One slide on screen at a time (deck.py reads them): the heading in a banner, the question, the
paper's claim, the paper's figure as its group declares it (engine/figures.py: Figure 5's SNR against
k, one panel per k for Figures 3 and 4, the decoded curves and staircases of Figures 6 and 7), growing
as the runs replay (render/figure.py draws it, with thick lines and a legend under it), the verdict
judged on the records, and one sentence of why. Keys a presenter's clicker sends (Right / Left,
PageDown / PageUp) move between slides; space pauses the replay, + and - change its speed, ] and [ page
through the panels that do not fit (a small terminal), f shows the plot alone, q quits. Every key is harmless on every slide; whatever is missing
from the deck is said on its slide.

Large print within what a terminal allows: few words, bold, high-contrast banners, thick lines (the
font size is the terminal's or the browser's: enlarge it there). Torch-free; no engine: a talk
replays what was recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from engine.figures import figure_data
from engine.registry import UnknownFamily, get_family
from gradfail_tui.render.colours import outcome_look, textual_colour
from gradfail_tui.render.figure import Page, render_figure
from gradfail_tui.render.plots import family_figure, overlay_figure
from gradfail_tui.talk.deck import Deck, Slide, SlideKind, SlideReplay, load_deck
from gradfail_tui.talk.live import LiveTalk

TICK_S = 0.25  # how often a replay folds its due events and redraws
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
MARKER = "hd"  # plotext's half-block lines: thicker than braille, legible from the back of a room


class TalkApp(App):
    CSS_PATH = "talk.tcss"
    TITLE = "gradfail talk"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("right,pagedown,n", "next", "next", show=False),
        Binding("left,pageup,p", "previous", "previous", show=False),
        Binding("space", "pause", "pause", show=False),
        Binding("plus,equals_sign", "faster", "faster", show=False),
        Binding("minus", "slower", "slower", show=False),
        Binding("f", "full", "full-screen plot", show=False),
        Binding("right_square_bracket", "panels(1)", "next panels", show=False),
        Binding("left_square_bracket", "panels(-1)", "previous panels", show=False),
        Binding("q", "quit", "quit", show=False),
    ]

    def __init__(self, deck: Deck, slide_seconds: float = 20.0, clock=None, live: LiveTalk | None = None):
        super().__init__()
        self.deck = deck
        self.live = live  # trains the slides without a record that are fast enough (--live)
        self.slide_seconds = slide_seconds
        self.clock = clock
        self.number = 0
        self.speed = SPEEDS.index(1.0)
        self.replay: SlideReplay | None = None
        self.drawn_for: tuple | None = None  # what the plot was last drawn for (slide, positions, size, page)
        self.page = 0  # which panels of the figure are shown, where not all fit
        self.pages: Page | None = None  # how the figure on screen was paged

    @property
    def slide(self) -> Slide:
        return self.deck.slides[self.number]

    def compose(self) -> ComposeResult:
        with Vertical(id="slide"):
            yield Static(id="heading")
            yield Static(id="question")
            yield Static(id="claim")
            yield Static(id="plot")
            yield Static(id="verdict")
            yield Static(id="why")
        yield Static(id="footer")

    def on_mount(self) -> None:
        if self.live is not None:
            self.live.start(self.call_from_thread)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):  # as q: what trains is recorded interrupted
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.exit)
        self.show()
        self.set_interval(TICK_S, self.tick)

    def on_unmount(self) -> None:
        if self.live is not None:
            self.live.close()

    def live_job(self):
        """The current slide's live run (started here on its first showing), or None."""
        slide = self.slide
        if self.live is None or slide.kind is not SlideKind.RESULT or slide.runs or not slide.live:
            return None
        job = self.live.run(slide.preset)
        if not slide.plot:  # drawn as the group draws its figure
            slide.plot, slide.log_y = tuple(job.preset.plot), job.preset.log_y
        return job

    # ---- keys ----------------------------------------------------------------------------------

    def action_next(self) -> None:
        if self.number < len(self.deck.slides) - 1:
            self.number += 1
            self.show()

    def action_previous(self) -> None:
        if self.number > 0:
            self.number -= 1
            self.show()

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
            self.draw_plot()
            self.draw_footer()

    def action_full(self) -> None:
        self.query_one("#slide").toggle_class("-full")
        self.drawn_for = None
        self.draw_plot()

    # ---- drawing -------------------------------------------------------------------------------

    def show(self) -> None:
        """Put the current slide on screen and start its replay from the beginning."""
        slide = self.slide
        self.page, self.pages = 0, None
        kwargs = {"clock": self.clock} if self.clock is not None else {}
        self.replay = SlideReplay(slide, self.slide_seconds, **kwargs) if slide.runs else None
        if self.replay is not None:
            self.replay.set_speed(SPEEDS[self.speed])
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
        elif self.live_job() is not None:
            self.draw_plot()
            self.draw_verdict()
        else:
            self.draw_plot()  # drawn again only if its size changed (the verdict's lines arrived, a resize)
        self.draw_footer()

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
            widget.update(
                f"[b]Verdict:[/b] [b reverse {tone}] {job.verdict.outcome.upper()} [/] [dim](trained live)[/]"
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
            lines = [f"[b]Verdict:[/b] [b reverse {tone}] {slide.verdict.outcome.upper()} [/]"]
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
        try:
            if slide.figure is not None:
                data = figure_data(slide.figure, states, snapshots)
                figure, self.pages = render_figure(data, width, height, marker=MARKER, page=self.page)
            else:
                figure = slide_figure(slide, states, families, width, height)
        except Exception as exc:  # a record plotext cannot draw must not end the talk: say so on the slide
            figure = Text(f"(this plot could not be drawn: {exc})", style="dim")
        widget.update(figure or Text("(no curve recorded yet)", style="dim"))

    def draw_footer(self) -> None:
        parts = [f"slide {self.number + 1} of {len(self.deck.slides)}"]
        if self.replay is not None:
            state = "paused" if self.replay.paused else ("replayed" if self.replay.done else "replaying")
            parts.append(f"{state} {self.replay.fraction:.0%} at {SPEEDS[self.speed]:g}x")
        elif self.live_job() is not None:
            parts.append("training live" if not self.live_job().finished else "trained live")
        if self.pages is not None and self.pages.pages > 1:
            parts.append(escape(f"[ ] {self.pages.label}"))
        parts.append("→ next  ← back  space pause  +/- speed  f plot  q quit")
        self.query_one("#footer", Static).update(" · ".join(parts))


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


def run_talk(path: Path | None, slide_seconds: float, live: bool = False, runs_dir: Path = Path("runs")) -> int:
    """Present the deck at `path` in this terminal; returns the exit code. Without `live` there is no
    engine and no record: SIGTERM and SIGHUP keep their default (end at once), which loses nothing."""
    app = TalkApp(load_deck(path), slide_seconds, live=LiveTalk(runs_dir) if live else None)
    app.run()
    return 0
