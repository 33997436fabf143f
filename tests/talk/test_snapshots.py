"""Snapshots of every result slide of the talk at 80x24 and 160x45, its replay at its end, from a deck
of made-up records (tests/talk/decks.py: every run of every result, drawn as its figure needs).

The figure's x ticks are ours, not plotext's (render/figure.py), so a slide draws the same text from one
run to the next. After a deliberate change to the slides: `pytest tests/talk/test_snapshots.py
--snapshot-update`, then look at the SVGs (as images: `rsvg-convert -o slide.png FILE.svg`).
"""

from __future__ import annotations

import pytest

from engine import paper
from gradfail_tui.talk.app import TalkApp
from gradfail_tui.talk.deck import load_deck
from tests.talk.decks import write_figure_deck

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 45), id="160x45")]
RESULTS = [pytest.param(number, id=res.preset) for number, res in enumerate(paper.RESULTS, 1)]


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    return write_figure_deck(tmp_path_factory.mktemp("snapshots") / "deck")


async def at_its_end(pilot, number: int) -> None:
    """Show slide `number` with its replay ended, and draw it again until the layout has settled (the
    verdict's lines arrive with the replay's end and take rows from the plot)."""
    app = pilot.app
    app.number = number
    app.show()
    app.replay.finish()
    app.draw_verdict()
    app.draw_footer()
    size = None
    while size != app.query_one("#plot").size:
        size = app.query_one("#plot").size
        app.drawn_for = None
        app.draw_plot()
        await pilot.pause()
        await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("number", RESULTS)
def test_result_slide(snap_compare, deck, number, size):
    app = TalkApp(load_deck(deck), slide_seconds=1)

    async def run_before(pilot):
        await at_its_end(pilot, number)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
