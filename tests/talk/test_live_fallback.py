"""`gradfail talk DECK --live`: a fast slide trains live with the deck's recording as its fallback (live.py's
rule). Through Textual's Pilot on a fake clock: a slow engine gives way to the recording, with the REPLAY
badge and why (on the slide and for the speaker view); an engine killed mid-slide too; a fast slide stays
LIVE to its verdict; a slide with no recording says its failure on the slide; and a real engine killed
mid-slide leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid

import pytest

from engine.registry import families
from gradfail_tui.talk.app import TalkApp
from gradfail_tui.talk.deck import load_deck
from gradfail_tui.talk.live import TOO_SLOW, LiveTalk
from tests.conftest import processes_with_env
from tests.scripted import Script, ScriptedEngine
from tests.talk.decks import write_deck
from tests.talk.pilot import text_of, until

SIZE = (120, 36)
PRESET = "fig-parity"  # the first result, fast enough to train live


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def engines(*scripts: Script):
    """An engine factory: the scripts in turn (the last one again for every later engine)."""
    made = []

    def factory():
        made.append(ScriptedEngine(families(), scripts[min(len(made), len(scripts) - 1)]))
        return made[-1]

    return factory


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    return write_deck(tmp_path_factory.mktemp("deck") / "deck")


def test_a_slow_live_slide_switches_to_the_recording_and_says_why(deck, tmp_path):
    clock = FakeClock()
    live = LiveTalk(tmp_path / "runs", device="cpu", engine_factory=engines(Script(end="hold", rate=20.0)))
    app = TalkApp(load_deck(deck), slide_seconds=20, clock=clock, live=live)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("right")
            assert await until(pilot, lambda: "LIVE" in text_of(app, "mode"))
            assert "LIVE" in app.run_state() and app.replay is None
            assert await until(pilot, lambda: live.steps_per_s(live.jobs[PRESET]) is not None)
            assert "REPLAY" not in text_of(app, "mode")  # still in its warm-up
            clock.now += 4  # past the warm-up: 20 steps/s cannot finish its runs in 30 s
            assert await until(pilot, lambda: "REPLAY" in text_of(app, "mode"))
            said = text_of(app, "mode")
            assert "fallback: too slow:" in said and "projected for a 20 s slide" in said
            assert "REPLAY (fallback: too slow:" in app.run_state()  # what the speaker view shows
            assert app.replay is not None and app.replay.fraction > 0  # from where the live runs were
            job = live.jobs[PRESET]
            assert await until(pilot, lambda: job.finished)
            assert job.lives[0].state.status == "stopped" and job.status == "stopped"
            clock.now += 30
            assert await until(pilot, lambda: "REPRODUCED" in text_of(app, "verdict"))  # the recording's verdict
            await pilot.press("left", "right")  # back again: still the recording, from its start
            assert await until(pilot, lambda: "REPLAY" in text_of(app, "mode"))

    asyncio.run(go())
    run_json = next((tmp_path / "runs").glob(f"*talk-{PRESET}*/01-*/run.json"))
    assert json.loads(run_json.read_text())["status"] == "stopped"  # nothing recorded is lost
    assert live.conductor.closing and all(slot.engine is None for slot in live.conductor.slots)


def killed_mid_slide(deck, tmp_path, rate: float) -> tuple[TalkApp, LiveTalk, FakeClock]:
    """A talk whose first engine dies at step 100 of the live slide; the one restarted trains at `rate`."""
    clock = FakeClock()
    factory = engines(Script(end="die", hold_at=100, message="killed"), Script(end="hold", rate=rate))
    live = LiveTalk(tmp_path / "runs", device="cpu", engine_factory=factory)
    return TalkApp(load_deck(deck), slide_seconds=20, clock=clock, live=live), live, clock


def test_an_engine_killed_mid_slide_switches_to_the_recording(deck, tmp_path):
    app, live, _ = killed_mid_slide(deck, tmp_path, rate=1e6)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("right")
            assert await until(pilot, lambda: "REPLAY" in text_of(app, "mode"))
            said = text_of(app, "mode")
            assert "fallback: the engine failed" in said and "Traceback" not in said
            assert "fallback: the engine failed" in app.run_state()
            job = live.jobs[PRESET]
            assert job.lives[0].state.status == "failed"
            assert await until(pilot, lambda: job.finished)  # the rest stopped, on the restarted engine

    asyncio.run(go())
    assert all(slot.engine is None for slot in live.conductor.slots)


def test_a_fast_live_slide_stays_live_and_ends_with_its_verdict(deck, tmp_path):
    clock = FakeClock()
    live = LiveTalk(tmp_path / "runs", device="cpu", engine_factory=engines(Script(rate=1e6)))
    app = TalkApp(load_deck(deck), slide_seconds=20, clock=clock, live=live)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("right")
            clock.now += 4  # judged, and fast enough
            assert await until(pilot, lambda: "trained live" in text_of(app, "verdict"))
            assert "LIVE" in text_of(app, "mode") and "REPLAY" not in text_of(app, "mode")
            assert "trained on this machine" in text_of(app, "mode") and app.replay is None
            clock.now += 100  # a finished live slide never gives way
            await pilot.pause(0.5)
            assert "REPLAY" not in text_of(app, "mode") and PRESET not in app.fallbacks

    asyncio.run(go())
    recorded = json.loads(next((tmp_path / "runs").glob(f"*talk-{PRESET}*/group.json")).read_text())
    assert recorded["status"] == "completed"


def test_without_a_recording_a_failed_live_slide_says_so_on_the_slide(tmp_path):
    deck = write_deck(tmp_path / "deck", skip=(PRESET,))
    app, live, clock = killed_mid_slide(deck, tmp_path, rate=20.0)

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("right")
            assert await until(pilot, lambda: "failed" in text_of(app, "mode"))
            said = text_of(app, "mode")
            assert said.lstrip().startswith("LIVE") and "nothing recorded to fall back on" in said
            clock.now += 100  # too slow, but nothing to fall back on: it trains on
            await pilot.pause(0.5)
            assert "REPLAY" not in text_of(app, "mode") and app.replay is None

    asyncio.run(go())


def test_the_fallback_rule_is_the_documented_one():
    assert TOO_SLOW == 1.5


MARK = "GRADFAIL_TEST_MARK"


def test_a_real_engine_killed_mid_slide_falls_back_and_leaves_no_process(deck, tmp_path, monkeypatch):
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK, mark)
    live = LiveTalk(tmp_path / "runs", device="cpu")
    app = TalkApp(load_deck(deck), slide_seconds=20, clock=FakeClock(), live=live)

    def training():
        job = live.jobs.get(PRESET)
        return job is not None and job.lives and job.lives[0].state.step > 0

    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("right")
            assert await until(pilot, training, timeout=120), "the engine never trained"
            os.kill(live.conductor.slots[0].engine.pid, signal.SIGKILL)
            assert await until(pilot, lambda: "REPLAY" in text_of(app, "mode"), timeout=30)
            assert "the engine failed" in text_of(app, "mode")
            await pilot.press("q")

    asyncio.run(go())
    deadline = time.monotonic() + 10
    while [p for p in processes_with_env(MARK, mark) if p != os.getpid()] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in processes_with_env(MARK, mark) if p != os.getpid()] == []
