"""The talk's slides draw each result's figure as its group declares it (engine/figures.py): a legend under
the panels on every slide with more than one series, every axis named, panels paged at 80x24, the paper's
colours. (Snapshots of these slides: tests/talk/test_snapshots.py.)"""

from __future__ import annotations

import asyncio

import pytest

from engine import paper
from engine.figures import figure_data
from gradfail_tui.render.figure import THICK_MARKS
from gradfail_tui.talk.app import TalkApp
from gradfail_tui.talk.deck import load_deck
from tests.talk.decks import write_figure_deck

SIZES = [(80, 24), (160, 45)]
RESULTS = list(range(1, len(paper.RESULTS) + 1))  # the slides' numbers (0 is the title)


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    return write_figure_deck(tmp_path_factory.mktemp("figures") / "deck")


def replayed(app: TalkApp, number: int) -> None:
    """Show slide `number` with its replay at its end."""
    app.number = number
    app.show()
    if app.replay is not None:
        app.replay.finish()
    app.drawn_for = None


@pytest.mark.parametrize("size", SIZES)
def test_every_result_slide_draws_its_figure_with_a_legend_and_named_axes(deck, size):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=1)
        async with app.run_test(size=size) as pilot:
            for number in RESULTS:
                replayed(app, number)
                await pilot.pause()
                app.drawn_for = None
                app.draw_plot()
                slide = app.slide
                figure = slide.figure
                assert figure is not None and figure.declared, slide.heading
                plot = str(app.query_one("#plot").render())
                assert figure.title in plot.replace("\n", " ") or figure.title[:30] in plot, slide.heading
                assert figure.x.name in plot and figure.y.name in plot, f"{slide.heading}: an axis unnamed"
                states = {run.label: run.state for run in slide.runs}
                data = figure_data(figure, states, {run.label: run.snapshots() for run in slide.runs})
                legend = [line.name for line in data.legend()]
                if len(legend) > 1:  # every multi-series slide names each series under the figure, off the data
                    lines = plot.rstrip().split("\n")
                    under = " ".join(lines[max(i for i, line in enumerate(lines) if "└" in line) + 1 :])
                    missing = [name for name in legend if name not in under]
                    assert not missing, f"{slide.heading}: {missing} not in the legend at {size}"
                    marks = sum(under.count(mark) for mark in THICK_MARKS)
                    assert marks == len(legend), f"{slide.heading}: a mark each, as thick as the lines"

    asyncio.run(go())


def test_the_papers_colours_and_quantities_are_on_the_slides(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=1)
        async with app.run_test(size=(160, 45)) as pilot:
            numbers = {r.preset: n for n, r in enumerate(paper.RESULTS, 1)}
            replayed(app, numbers["fig-snr"])
            await pilot.pause()
            app.draw_plot()
            plot = app.query_one("#plot").render()
            text = str(plot)
            assert "k, images per tuple" in text and "float32 precision" in text and "(log)" in text
            marks = {text[s.end : s.end + 14]: str(s.style) for s in plot.spans if text[s.start : s.end] == "██"}
            assert marks[" end-to-end   "] == "rgb(230,85,60)"  # the paper's red
            assert marks[" decomposition"] == "rgb(66,135,245)"  # and its blue
            replayed(app, numbers["thm-variance"])
            await pilot.pause()
            app.draw_plot()
            text = str(app.query_one("#plot").render())
            assert "d, the input's dimension" in text and "Theorem 1's bound G^2 / 2^d" in text

    asyncio.run(go())


def test_panels_that_do_not_fit_at_80x24_page_with_the_brackets(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=1)
        async with app.run_test(size=(80, 24)) as pilot:
            number = next(n for n, r in enumerate(paper.RESULTS, 1) if r.preset == "fig-tuples")
            replayed(app, number)
            await pilot.pause()
            app.draw_plot()
            assert app.pages is not None and app.pages.pages == 2
            assert "k = 1" in str(app.query_one("#plot").render())
            await pilot.press("right_square_bracket")
            await pilot.pause()
            text = str(app.query_one("#plot").render())
            assert (
                "k = 3" in text and "k = 1" not in text and "panels 3-4 of 4" in str(app.query_one("#footer").render())
            )
            await pilot.press("left_square_bracket")
            await pilot.pause()
            assert "k = 1" in str(app.query_one("#plot").render())

    asyncio.run(go())
