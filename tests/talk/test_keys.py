"""The talk's keys for a real room (screens.py): g, a number and Enter; the index of slides; b blanks the
screen until any key; ? lists every key; and all of them, pressed at random with the others, never crash."""

from __future__ import annotations

import asyncio
import random

import pytest
from textual import events

from engine import paper
from gradfail_tui.talk.app import TalkApp
from gradfail_tui.talk.deck import load_deck
from gradfail_tui.talk.screens import BlankScreen, HelpScreen, IndexScreen, JumpScreen
from gradfail_tui.talk.speaker import SpeakerApp
from tests.talk.decks import write_deck
from tests.talk.pilot import until

SLIDES = len(paper.RESULTS) + 2


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    return write_deck(tmp_path_factory.mktemp("deck") / "deck")


def test_g_a_number_and_enter_go_to_that_slide(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=1)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("g")
            assert isinstance(app.screen, JumpScreen)
            await pilot.press("4", "enter")
            assert app.number == 3 and app.query_one("#heading").render().plain == paper.RESULTS[2].heading
            await pilot.press("g", "9", "9", "enter")  # past the end: the last slide
            assert app.number == SLIDES - 1
            await pilot.press("g", "2", "escape")  # given up: it stays
            assert app.number == SLIDES - 1 and not isinstance(app.screen, JumpScreen)
            await pilot.press("g", "enter", "right")  # nothing typed: it stays; the keys work again
            assert app.number == SLIDES - 1 and not isinstance(app.screen, JumpScreen)
            await pilot.press("left")
            assert app.number == SLIDES - 2

    asyncio.run(go())


def burst(app, *keys: str) -> None:
    """Post `keys` at once, with no wait between them, as a clicker sends them."""
    for key in keys:
        app.post_message(events.Key(key, "\r" if key == "enter" else key))


@pytest.mark.parametrize("view", [lambda deck: TalkApp(deck, slide_seconds=1), SpeakerApp], ids=["slides", "speaker"])
def test_g_a_number_and_enter_sent_as_one_burst_lose_no_key(deck, view):
    """A clicker, or fast fingers, send `g 1 1 Enter` before the jump's prompt is up: every key counts."""

    async def go():
        app = view(load_deck(deck))
        async with app.run_test(size=(80, 24)) as pilot:
            burst(app, "g", "1", "1", "enter")
            assert await until(pilot, lambda: app.number == 10 and not isinstance(app.screen, JumpScreen))
            burst(app, "g", "3", "enter", "right")
            assert await until(pilot, lambda: app.number == 3)  # slide 3, then the next: the keys after the jump work
            await pilot.pause(0.3)
            assert app.number == 3 and not isinstance(app.screen, JumpScreen)  # and no key was left to move it on

    asyncio.run(go())


def test_the_index_lists_every_slide_and_goes_to_the_one_picked(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=1)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("right", "i")
            assert isinstance(app.screen, IndexScreen)
            listed = app.screen.query_one("#index-list")
            assert listed.option_count == SLIDES and listed.highlighted == 1
            await pilot.press("down", "down", "enter")
            assert app.number == 3 and not isinstance(app.screen, IndexScreen)
            await pilot.press("i", "down", "escape")  # closed without choosing
            assert app.number == 3 and not isinstance(app.screen, IndexScreen)

    asyncio.run(go())


def test_b_blanks_the_screen_until_any_key(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=1)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("right", "b")
            assert isinstance(app.screen, BlankScreen) and app.blank
            assert not app.screen.query_one("#blank").render().plain.strip()  # nothing on it
            await pilot.press("left")  # brings the slide back, and does nothing else
            assert not isinstance(app.screen, BlankScreen) and not app.blank and app.number == 1
            await pilot.press("b", "b")
            assert not app.blank and app.number == 1

    asyncio.run(go())


def test_question_mark_lists_every_key_of_the_view(deck):
    async def go(app, expected, absent):
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            listed = " ".join(f"{keys} {does}" for keys, does in app.screen.keys)
            for words in expected:
                assert words in listed, words
            for words in absent:
                assert words not in listed, words
            await pilot.press("x")  # any key closes it
            assert not isinstance(app.screen, HelpScreen) and app.number == 0

    presenter = ["→", "PageDown", "next slide", "← ", "previous slide", "go to a slide", "index", "blank"]
    presenter += ["hide or show the clock", "space pause", "+ ", "- replay slower", "f the plot alone", "] ", "q quit"]
    asyncio.run(go(TalkApp(load_deck(deck), slide_seconds=1), presenter, []))
    asyncio.run(go(SpeakerApp(load_deck(deck)), ["go to a slide", "scroll the notes"], ["space", "replay faster"]))


def test_every_key_pressed_at_random_never_crashes_either_view(deck):
    keys = ["right", "left", "space", "plus", "minus", "f", "g", "i", "b", "c", "question_mark", "enter"]
    keys += ["escape", "up", "down", "1", "5", "backspace", "right_square_bracket", "left_square_bracket", "x"]
    chooser = random.Random(23)

    async def go(app):
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(150):
                await pilot.press(chooser.choice(keys))
            await pilot.pause(0.3)
            assert app.is_running and 0 <= app.number < SLIDES
            while app.screen is not app.screen_stack[0]:
                await pilot.press("escape")
            await pilot.press("q")
            await pilot.pause()
            assert not app.is_running

    asyncio.run(go(TalkApp(load_deck(deck), slide_seconds=0.3)))
    asyncio.run(go(SpeakerApp(load_deck(deck))))
