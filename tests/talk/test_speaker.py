"""The speaker view and the presenter follow each other through their state files (follow.py): two apps in
one test, sharing a directory and a fake clock; keys pressed in either move both, a file left by a view
that has gone is ignored, the clock and the pace follow --minutes, and --notes refuses a bad file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from engine import paper
from gradfail_tui.talk.app import TalkApp
from gradfail_tui.talk.deck import load_deck
from gradfail_tui.talk.follow import STALE_S, Channel, Role, TalkState
from gradfail_tui.talk.notes import SHIPPED, load_notes
from gradfail_tui.talk.speaker import SpeakerApp, pace
from tests.conftest import gradfail
from tests.talk.decks import write_deck
from tests.talk.pilot import text_of, until

KEY = "talk-test"
SLIDES = len(paper.RESULTS) + 2


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    return write_deck(tmp_path_factory.mktemp("deck") / "deck")


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def views(deck, where, clock, minutes=None):
    presenter = TalkApp(load_deck(deck), 1, clock=clock, follow=Channel(where, KEY, Role.PRESENTER, clock))
    speaker = SpeakerApp(
        load_deck(deck), load_notes(None), clock=clock, follow=Channel(where, KEY, Role.SPEAKER, clock), minutes=minutes
    )
    return presenter, speaker


def test_the_speaker_view_follows_the_presenter_and_the_presenter_follows_the_speaker(deck, tmp_path):
    clock = FakeClock()
    presenter, speaker = views(deck, tmp_path, clock)

    async def go():
        async with presenter.run_test(size=(100, 30)) as shown, speaker.run_test(size=(80, 24)) as notes:
            assert await until(notes, lambda: "following the presenter" in text_of(speaker, "footer"))
            await shown.press("right")  # the presenter's clicker
            assert await until(notes, lambda: speaker.number == 1)
            assert SHIPPED["fig-parity"][:30] in text_of(speaker, "s-words")
            assert paper.RESULTS[1].heading in text_of(speaker, "s-next")
            assert await until(notes, lambda: "replaying" in text_of(speaker, "s-run"))  # the presenter's runs
            await notes.press("right", "right")  # the speaker's keys move the audience's screen
            assert await until(shown, lambda: presenter.number == 3)
            assert text_of(presenter, "heading") == paper.RESULTS[2].heading
            await notes.press("left")
            await shown.press("left")  # both at once: they settle on one slide
            assert await until(shown, lambda: presenter.number == speaker.number, timeout=3)
            await notes.press("b")  # the speaker blanks the audience's screen
            assert await until(shown, lambda: type(presenter.screen).__name__ == "BlankScreen")
            assert await until(notes, lambda: "BLANK" in text_of(speaker, "s-run"))
            number = presenter.number
            await shown.press("right")  # any key on the presenter: back, and the key does nothing else
            assert await until(notes, lambda: not speaker.blank and "BLANK" not in text_of(speaker, "s-run"))
            assert presenter.number == number and type(presenter.screen).__name__ != "BlankScreen"

    asyncio.run(go())
    assert not list(tmp_path.glob(f"{KEY}-*.json"))  # each view removed its file when it closed


def test_a_presenter_restarted_mid_talk_comes_back_on_the_speakers_slide_with_its_clock(deck, tmp_path):
    clock = FakeClock()
    first, speaker = views(deck, tmp_path, clock, minutes=20)

    async def go():
        async with speaker.run_test(size=(80, 24)) as notes:
            async with first.run_test(size=(100, 30)) as shown:
                await shown.press("right", "right", "right")
                assert await until(notes, lambda: speaker.number == 3)
            clock.now += 60
            assert await until(notes, lambda: "waiting for the presenter" in text_of(speaker, "s-run"))
            await notes.press("right")  # alone, the speaker view moves on its own
            assert speaker.number == 4
            again = TalkApp(load_deck(deck), 1, clock=clock, follow=Channel(tmp_path, KEY, Role.PRESENTER, clock))
            async with again.run_test(size=(100, 30)) as shown:
                assert await until(shown, lambda: again.number == 4)
                assert again.started == speaker.started == 1000.0  # the talk's clock goes on

    asyncio.run(go())


def test_a_file_left_by_a_view_that_has_gone_does_not_move_a_new_talk(deck, tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    clock = FakeClock()
    post = {"role": "speaker", "seq": 40, "beat": clock.now, "run": "", "state": {"slide": 7, "started": 1.0}}
    dead = tmp_path / f"{KEY}-deadbeef0001.json"
    dead.write_text(json.dumps(post | {"writer": "deadbeef0001", "pid": dead_pid}))
    old = tmp_path / f"{KEY}-deadbeef0002.json"  # a live process, but a heartbeat long gone (suspended, asleep)
    old.write_text(json.dumps(post | {"writer": "deadbeef0002", "pid": 1, "beat": clock.now - STALE_S - 1}))
    garbled = tmp_path / f"{KEY}-deadbeef0003.json"
    garbled.write_text("{not json")
    presenter = TalkApp(load_deck(deck), 1, clock=clock, follow=Channel(tmp_path, KEY, Role.PRESENTER, clock))
    speaker = SpeakerApp(load_deck(deck), clock=clock, follow=Channel(tmp_path, "another-deck", Role.SPEAKER, clock))

    async def go():
        async with presenter.run_test(size=(100, 30)) as shown, speaker.run_test(size=(80, 24)) as notes:
            await shown.pause(0.5)
            assert presenter.number == 0 and presenter.started is None
            assert not dead.exists() and not old.exists()  # removed by the view that found them
            await shown.press("right")
            await notes.pause(0.5)  # another deck's talk: not followed
            assert speaker.number == 0 and "waiting for the presenter" in text_of(speaker, "s-run")

    asyncio.run(go())


def test_two_views_pressing_at_once_settle_on_one_state(tmp_path):
    clock = FakeClock()
    presenter, speaker = Channel(tmp_path, KEY, Role.PRESENTER, clock), Channel(tmp_path, KEY, Role.SPEAKER, clock)
    presenter.publish(TalkState(slide=2), changed=True)
    speaker.publish(TalkState(slide=5), changed=True)  # neither has read the other: the same number
    assert presenter.seq == speaker.seq == 1
    assert presenter.newer() is None  # a tie goes to the presenter
    adopted = speaker.newer()
    assert adopted is not None and adopted.state.slide == 2
    speaker.publish(TalkState(slide=3), changed=True)  # now numbered above all it has seen
    assert speaker.seq == 2 and presenter.newer().state.slide == 3
    presenter.publish(TalkState(slide=3))  # what it adopted, written
    clock.now += 0.5
    presenter.publish(TalkState(slide=3))  # nothing changed and the heartbeat not due: not written again
    assert json.loads(presenter.path.read_text())["beat"] == clock.now - 0.5
    clock.now += 1
    presenter.publish(TalkState(slide=3))  # the heartbeat
    assert json.loads(presenter.path.read_text())["beat"] == clock.now


def test_the_clock_in_the_corner_and_the_pace_against_the_minutes(deck, tmp_path):
    clock = FakeClock()
    presenter, speaker = views(deck, tmp_path, clock, minutes=11)  # 11 slides: a minute each
    presenter.minutes = 11

    async def go():
        async with presenter.run_test(size=(100, 30)) as shown, speaker.run_test(size=(80, 24)) as notes:
            assert text_of(presenter, "clock") == "0:00 / 11:00"
            assert "starts at the first slide change" in text_of(speaker, "s-pace")
            clock.now += 300  # waiting on the title slide does not count
            await shown.press("right")
            clock.now += 125
            assert await until(shown, lambda: text_of(presenter, "clock") == "2:05 / 11:00")
            assert await until(notes, lambda: "should be on slide 3: 0:05 behind" in text_of(speaker, "s-pace"))
            assert "of 11:00, 1:00 a slide" in text_of(speaker, "s-pace")
            await notes.press("right", "right", "right")
            assert await until(notes, lambda: "should be on slide 3: 1:55 ahead" in text_of(speaker, "s-pace"))
            await shown.press("c")  # the clock hidden, and back
            assert not presenter.query_one("#clock").display
            await shown.press("c")
            assert presenter.query_one("#clock").display

    asyncio.run(go())


def test_pace_says_where_the_speaker_should_be():
    assert pace(0, 0, 10, None, False) == "the clock starts at the first slide change"
    assert pace(30, 0, 10, None, True) == "no target: --minutes N sets one"
    assert pace(30, 0, 10, 10, True).endswith("should be on slide 1: on pace")
    assert pace(150, 0, 10, 10, True).endswith("should be on slide 3: 1:30 behind")
    assert pace(30, 2, 10, 10, True).endswith("should be on slide 1: 1:30 ahead")
    assert pace(700, 9, 10, 10, True).endswith("should be on slide 10: over time by 1:40")


def test_the_speaker_view_alone_says_it_waits_and_moves_on_its_own(deck):
    speaker = SpeakerApp(load_deck(deck), minutes=20)

    async def go():
        async with speaker.run_test(size=(80, 24)) as pilot:
            assert "waiting for the presenter" in text_of(speaker, "s-run")
            await pilot.press("g", "1", "0", "enter")
            assert speaker.number == 9 and "(the last slide)" not in text_of(speaker, "s-next")
            await pilot.press("right")
            assert "(the last slide)" in text_of(speaker, "s-next")
            for _ in range(30):
                await pilot.press("down")  # the notes scroll; nothing else moves
            assert speaker.number == SLIDES - 1

    asyncio.run(go())


def test_the_talk_command_refuses_a_bad_notes_file_and_a_speaker_that_trains(tmp_path):
    notes = tmp_path / "notes.toml"
    notes.write_text('[fig-parrity]\nnotes = "x"\n')
    result = gradfail("talk", "deck", "--speaker", "--notes", str(notes), cwd=tmp_path)
    assert result.returncode == 2 and "[fig-parrity]: no such slide" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not result.stdout
    result = gradfail("talk", "deck", "--speaker", "--live", cwd=tmp_path)
    assert result.returncode == 2 and "--speaker" in result.stderr
