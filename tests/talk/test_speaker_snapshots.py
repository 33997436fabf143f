"""Snapshots of the speaker view at 80x24 and 160x45: Figure 1's notes and the numbers behind its verdict,
the next slide, the clock two minutes in against a 20-minute target, and the presenter's replay (a
presenter's state file written here, on a fake clock). After a deliberate change: `pytest
tests/talk/test_speaker_snapshots.py --snapshot-update`, then look at the SVGs as images."""

from __future__ import annotations

import pytest

from gradfail_tui.talk.deck import load_deck
from gradfail_tui.talk.follow import Channel, Role, TalkState
from gradfail_tui.talk.notes import load_notes
from gradfail_tui.talk.speaker import SpeakerApp
from tests.talk.decks import write_figure_deck

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 45), id="160x45")]


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    return write_figure_deck(tmp_path_factory.mktemp("speaker") / "deck")


@pytest.mark.parametrize("size", SIZES)
def test_speaker_view(snap_compare, deck, tmp_path, size):
    now = [1000.0]

    def clock() -> float:
        return now[0]

    presenter = Channel(tmp_path, "talk-snapshot", Role.PRESENTER, clock)
    shown = TalkState(slide=1, started=1000.0)
    presenter.publish(shown, "replaying 40% at 1x", changed=True)
    app = SpeakerApp(
        load_deck(deck),
        load_notes(None),
        clock=clock,
        follow=Channel(tmp_path, "talk-snapshot", Role.SPEAKER, clock),
        minutes=20,
    )

    async def run_before(pilot):
        now[0] += 125
        presenter.publish(shown, "replaying 40% at 1x")  # its heartbeat
        app.sync()
        app.tick()
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
