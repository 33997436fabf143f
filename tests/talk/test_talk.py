"""`gradfail talk` through Textual's Pilot: every slide both ways, replay timing, a missing or damaged
deck said on its slides, every key pressed at random without a crash; and the deck's replay on a fake clock."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time

import pytest

from engine import paper
from gradfail_tui.talk.app import LIVE, SPEEDS, TalkApp
from gradfail_tui.talk.deck import SlideReplay, load_deck
from tests.conftest import gradfail
from tests.talk.decks import POINTS, write_deck
from tests.talk.pilot import text_of, until

HEADINGS = [paper.TITLE] + [r.heading for r in paper.RESULTS] + ["What fails, and why"]

ORDER = [r.preset for r in paper.RESULTS]  # the results in the paper's order, as the deck has them


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    return write_deck(tmp_path_factory.mktemp("deck") / "deck")


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.pause()


def test_the_slides_go_both_ways_in_the_papers_order(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=1)
        async with app.run_test(size=(80, 24)) as pilot:
            assert text_of(app, "heading") == HEADINGS[0] and "Shai Shalev-Shwartz" in text_of(app, "claim")
            for number, heading in enumerate(HEADINGS[1:], 2):
                await pilot.press("right" if number % 2 else "pagedown")
                await settle(pilot)
                assert text_of(app, "heading") == heading
                assert f"slide {number} of {len(HEADINGS)}" in text_of(app, "footer")
            await pilot.press("right")  # past the last slide: it stays
            assert app.number == len(HEADINGS) - 1 and "Overall: reproduced" in text_of(app, "claim")
            for heading in reversed(HEADINGS[:-1]):
                await pilot.press("left" if len(heading) % 2 else "pageup")
                await settle(pilot)
                assert text_of(app, "heading") == heading
            await pilot.press("left")
            assert app.number == 0

    asyncio.run(go())


def test_a_slide_shows_question_claim_plot_verdict_and_why_at_80x24_and_160x45(deck):
    async def go(size):
        app = TalkApp(load_deck(deck), slide_seconds=0.5)
        async with app.run_test(size=size) as pilot:
            await pilot.press("right")
            result = paper.RESULTS[0]
            assert text_of(app, "question") == result.question and result.claim in text_of(app, "claim")
            assert "Verdict:" in text_of(app, "verdict") and result.why in text_of(app, "why")
            deadline = time.monotonic() + 20  # a 0.5 s replay; a busy machine slows the ticks
            while "REPRODUCED" not in text_of(app, "verdict") and time.monotonic() < deadline:
                await pilot.pause(0.1)
            assert "REPRODUCED" in text_of(app, "verdict")  # said once the replay has ended
            assert "d = 5" in text_of(app, "plot")  # the runs' legend: the curves are drawn
            for name in ("heading", "question", "claim", "plot", "verdict", "why", "footer"):
                region = app.query_one(f"#{name}").region
                assert region.height >= 1 and region.bottom <= size[1], (name, region, size)
            await pilot.press("f")  # the plot alone
            deadline = time.monotonic() + 10
            while app.query_one("#question").region.height and time.monotonic() < deadline:
                await pilot.pause(0.05)
            assert app.query_one("#question").region.height == 0 and app.query_one("#plot").region.height > 10

    asyncio.run(go((80, 24)))
    asyncio.run(go((160, 45)))


def test_a_slide_replays_in_its_set_time_whatever_training_took(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=1.5)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("right")
            started = time.monotonic()
            while not app.replay.done and time.monotonic() - started < 10:
                await pilot.pause(0.05)
            took = time.monotonic() - started
            assert 1.2 <= took <= 4.5, took  # recorded over 40 s of engine time; ticks of 0.25 s, a busy machine
            await pilot.press("right")  # a new slide replays from its start
            assert app.replay.fraction < 0.5

    asyncio.run(go())


def test_the_replay_spreads_each_runs_events_over_the_slide_time_and_obeys_pause_and_speed(deck):
    slide = load_deck(deck).slides[1]
    now = [0.0]
    replay = SlideReplay(slide, 10.0, clock=lambda: now[0])
    now[0] = 5.0
    replay.advance()
    assert all(abs(p - (POINTS + 2) // 2) <= 1 for p in replay.positions)  # half of every run
    assert len(slide.runs[0].state.series["test_acc"]) == POINTS // 2
    replay.toggle_pause()
    now[0] = 9.0
    assert not replay.advance() and replay.fraction == 0.5
    replay.toggle_pause()
    replay.set_speed(4.0)
    now[0] = 10.0  # 5 s played, then 1 s at 4x
    replay.advance()
    assert replay.fraction == 0.9 and not replay.done
    now[0] = 10.5
    replay.advance()
    assert replay.done and slide.runs[0].state.status == "completed"


def test_speed_and_pause_keys_show_in_the_footer(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=30)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("right", "plus", "plus")
            assert f"at {SPEEDS[4]:g}x" in text_of(app, "footer")
            await pilot.press("minus", "minus", "minus", "minus", "minus", "minus")
            assert f"at {SPEEDS[0]:g}x" in text_of(app, "footer")
            await pilot.press("space")
            assert "paused" in text_of(app, "footer")

    asyncio.run(go())


def damaged_copy(deck, tmp_path):
    """The deck with paper.json garbled, one result's directory gone and one run's events garbled."""
    copy = tmp_path / "damaged"
    shutil.copytree(deck, copy)
    (copy / paper.MANIFEST).write_text("{garbled")
    shutil.rmtree(copy / paper.result_dir(ORDER.index("fig-tuples") + 1, "fig-tuples"))
    events = next((copy / "01-fig-parity").glob("01-*/events.jsonl"))
    events.write_text(events.read_text()[:300] + "\n{not json\n")
    return copy


def test_a_missing_or_damaged_deck_is_said_on_its_slides_and_the_talk_goes_on(deck, tmp_path):
    async def go(path, expect_title, expect_slides):
        app = TalkApp(load_deck(path), slide_seconds=0.5)
        async with app.run_test(size=(80, 24)) as pilot:
            assert expect_title in text_of(app, "verdict")
            for number in range(1, len(HEADINGS)):
                await pilot.press("right")
                await settle(pilot)
                assert text_of(app, "heading") == HEADINGS[number]
                if number in expect_slides:
                    assert expect_slides[number] in text_of(app, "verdict"), number

    tuples, last = ORDER.index("fig-tuples") + 1, len(ORDER)  # slide numbers: 0 is the title
    asyncio.run(go(tmp_path / "nowhere", "no such deck", {1: "no deck", last: "no deck"}))
    damaged = damaged_copy(deck, tmp_path)
    asyncio.run(go(damaged, "cannot be read", {tuples: "no record of its runs", 1: "line"}))
    (damaged / paper.MANIFEST).write_text(json.dumps({"kind": "paper", "results": []}))
    asyncio.run(go(damaged, "", {tuples: "no record of its runs"}))  # an empty list: found by their directories


def test_keys_pressed_at_random_never_crash_or_hang_it(deck):
    keys = ["right", "left", "pagedown", "pageup", "space", "plus", "minus", "f", "n", "p"]
    keys += ["up", "down", "home", "end", "tab", "enter", "escape", "a", "x", "1", "question_mark", "ctrl+p"]
    chooser = random.Random(19)

    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=0.3)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(200):
                await pilot.press(chooser.choice(keys))
            await pilot.pause(0.5)
            assert app.is_running and 0 <= app.number < len(HEADINGS)
            await pilot.press("q")
            await pilot.pause()
            assert not app.is_running

    asyncio.run(go())


def test_the_talk_command_refuses_bad_input_with_a_message(tmp_path):
    result = gradfail("talk", "--scale", "paper", "deck", cwd=tmp_path)
    assert result.returncode == 2 and "--scale: only with --prepare" in result.stderr
    result = gradfail("talk", "--prepare", cwd=tmp_path)
    assert result.returncode == 2 and "--prepare needs DIR" in result.stderr
    result = gradfail("talk", "--slide-seconds", "0", "deck", cwd=tmp_path)
    assert result.returncode == 2 and "slide-seconds" in result.stderr


def test_the_full_screen_plot_never_hides_the_title_or_closing_slide(deck):
    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=0.5)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("right", "f", "left")
            assert await until(pilot, lambda: app.query_one("#claim").region.height > 3)
            assert "Shai" in text_of(app, "claim")
            await pilot.press(*["right"] * len(HEADINGS))
            assert await until(pilot, lambda: "Overall" in text_of(app, "claim"))
            assert await until(pilot, lambda: app.query_one("#claim").region.height > 3)

    asyncio.run(go())


def test_live_slides_train_what_the_deck_lacks_and_record_it(tmp_path):
    """No fig-parity in the deck: with --live its slide trains (a scripted engine here), draws the runs
    as they come and says the verdict at the end; a slow result (Figure 3) is not trained live."""
    from engine.registry import families
    from gradfail_tui.talk.live import LiveTalk
    from tests.scripted import Script, ScriptedEngine

    deck = write_deck(tmp_path / "deck", skip=("fig-parity", "fig-tuples"))
    engines = []

    def engine():
        engines.append(ScriptedEngine(families(), Script(rate=200.0)))
        return engines[-1]

    live = LiveTalk(tmp_path / "runs", device="cpu", engine_factory=engine)

    async def go():
        app = TalkApp(load_deck(deck), slide_seconds=0.5, live=live)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("right")
            deadline = time.monotonic() + 20
            while "trained live" not in text_of(app, "verdict") and time.monotonic() < deadline:
                await pilot.pause(0.1)
            assert "trained live" in text_of(app, "verdict") and "d = 30" in text_of(app, "plot")
            job = live.jobs["fig-parity"]
            assert [live.state.status for live in job.lives] == ["completed"] * 3
            between = ORDER[ORDER.index("fig-parity") + 1 : ORDER.index("fig-tuples")]
            for preset in between:  # in the deck: the fast ones train live too (the recording their fallback)
                await pilot.press("right")
                assert (preset in live.jobs) == (preset in LIVE)
            await pilot.press("right")  # Figure 3: too slow to train live, and absent
            await settle(pilot)
            assert "fig-tuples" not in live.jobs and "no record of its runs" in text_of(app, "verdict")

    asyncio.run(go())
    assert live.conductor.closing and (tmp_path / "runs").is_dir()
    recorded = json.loads(next((tmp_path / "runs").glob("*talk-fig-parity*/group.json")).read_text())
    assert recorded["status"] == "completed" and recorded["verdict"]["outcome"]


def test_closing_the_talk_while_a_live_slide_trains_records_it_interrupted(tmp_path):
    from engine.registry import families
    from gradfail_tui.talk.live import LiveTalk
    from tests.scripted import Script, ScriptedEngine

    live = LiveTalk(
        tmp_path / "runs", device="cpu", engine_factory=lambda: ScriptedEngine(families(), Script(end="hold"))
    )

    async def go():
        app = TalkApp(load_deck(None), slide_seconds=0.5, live=live)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("right")
            deadline = time.monotonic() + 10
            while not (live.jobs and live.jobs["fig-parity"].lives) and time.monotonic() < deadline:
                await pilot.pause(0.1)
            await pilot.pause(0.5)
            await pilot.press("q")

    asyncio.run(go())
    run_json = next((tmp_path / "runs").glob("*talk-fig-parity*/01-*/run.json"))
    assert json.loads(run_json.read_text())["status"] == "interrupted"
