"""`gradfail serve`'s lifecycle, as a browser would drive it (a websocket speaking textual-serve's
protocol): a tab that closes, the server stopped by SIGINT, SIGTERM or SIGHUP with a run going, the
session cap, a non-loopback host. After each, no process the server started is left, and a run that
was going is recorded `interrupted`."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request

import pytest

from tests.serve.server import Served, Tab
from tests.talk.decks import write_deck


def run_manifests(runs_dir) -> list[dict]:
    return [json.loads(path.read_text()) for path in runs_dir.glob("**/run.json")]


async def wait_for_run(runs_dir, timeout: float = 60) -> None:
    """Until the explorer's run has recorded steps (its engine is training)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(m.get("steps_done", 0) > 0 or m.get("status") == "running" for m in run_manifests(runs_dir)):
            events = list(runs_dir.glob("**/events.jsonl"))
            if events and len(events[0].read_text().splitlines()) > 3:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no run recorded steps within {timeout} s: {run_manifests(runs_dir)}")


def test_a_closed_tab_ends_its_app_and_engine_and_records_the_run_interrupted(tmp_path):
    served = Served(tmp_path, "--preset", "parity30", "--start")
    try:

        async def go():
            tab = await Tab(served).open()
            await wait_for_run(tmp_path / "runs")
            assert len(served.others()) >= 2  # the app and its engine
            await tab.close()

        asyncio.run(go())
        took = served.wait_gone(timeout=20)
        assert served.proc.poll() is None  # the server serves on
        assert [m["status"] for m in run_manifests(tmp_path / "runs")] == ["interrupted"]
        print(f"tab closed: every process ended in {took:.1f} s")
        served.stop(signal.SIGINT)
    finally:
        served.close()


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["INT", "TERM", "HUP"])
def test_stopping_the_server_ends_every_app_and_engine_and_records_the_runs_interrupted(tmp_path, signal_number):
    served = Served(tmp_path, "--preset", "parity30", "--start")
    try:

        async def go():
            tab = await Tab(served).open()
            await wait_for_run(tmp_path / "runs")
            pids = served.others()
            took = served.stop(signal_number)
            assert not served.others(), f"left behind: {served.others()} of {pids}"
            await tab.close()
            return took

        took = asyncio.run(go())
        assert took < 20, took
        assert served.proc.returncode == 0
        assert [m["status"] for m in run_manifests(tmp_path / "runs")] == ["interrupted"]
    finally:
        served.close()


def test_past_the_session_cap_a_tab_gets_a_message_not_another_engine(tmp_path):
    deck = write_deck(tmp_path / "deck")
    served = Served(tmp_path, "--talk", str(deck), "--max-sessions", "1")
    try:

        async def go():
            first = await Tab(served).open()
            await first.wait_for(b"Failures of Gradient")  # the talk's title slide
            apps = served.others()
            second = await Tab(served).open()
            await second.wait_for(b"--max-sessions 1")
            assert served.others() == apps  # no second app
            with pytest.raises(urllib.error.HTTPError) as page:
                urllib.request.urlopen(served.url + "/")
            assert page.value.code == 503 and b"Too many sessions" in page.value.read()
            await first.close()
            served.wait_gone(timeout=15)
            third = await Tab(served).open()  # a place is free again
            await third.wait_for(b"Failures of Gradient")
            await second.close()
            await third.close()

        asyncio.run(go())
        served.stop(signal.SIGTERM)
    finally:
        served.close()


def test_a_non_loopback_host_is_served_only_when_asked_and_warns(tmp_path):
    from gradfail_tui.serve.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    served = Served(tmp_path, "--host", "0.0.0.0", "--no-token")  # without a token only when asked (test_token)
    try:
        served.stop(signal.SIGINT)
        stderr = served.proc.stderr.read()
        assert "warning" in stderr and "not loopback" in stderr and "start training" in stderr
    finally:
        served.close()
    quiet = Served(tmp_path)  # the default: loopback, no warning
    try:
        quiet.stop(signal.SIGINT)
        assert "warning" not in quiet.proc.stderr.read()
    finally:
        quiet.close()


def test_the_page_asks_for_nothing_outside_this_machine(tmp_path):
    served = Served(tmp_path)
    try:
        page = urllib.request.urlopen(served.url + "/").read().decode()
        assert "googleapis" not in page and "@font-face" in page
        urls = {part.split('"')[0] for part in page.split("://")[1:]}
        assert all(url.startswith(f"127.0.0.1:{served.port}") or url.startswith("www.w3.org") for url in urls), urls
        font = urllib.request.urlopen(served.url + "/static/fonts/RobotoMono-VariableFont_wght.ttf").read()
        assert len(font) > 10_000
        served.stop(signal.SIGINT)
    finally:
        served.close()


def test_a_live_talk_in_a_tab_trains_its_slide_and_a_closed_tab_records_it_interrupted(tmp_path):
    deck = write_deck(tmp_path / "deck", skip=("fig-parity",))
    served = Served(tmp_path, "--talk", str(deck), "--live")
    try:

        async def go():
            tab = await Tab(served).open()
            await tab.wait_for(b"Failures of Gradient")
            await tab.keys("\x1b[C")  # Right: Figure 1, absent from the deck, trains live
            await tab.wait_for(b"training live")
            await wait_for_run(tmp_path / "runs")
            await tab.close()

        asyncio.run(go())
        served.wait_gone(timeout=20)
        assert "interrupted" in [m["status"] for m in run_manifests(tmp_path / "runs")]
        served.stop(signal.SIGTERM)
    finally:
        served.close()
