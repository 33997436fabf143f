"""`gradfail serve` in a real browser: Debian's chromium driven by playwright, on a loopback port.

The page loads (with nothing fetched from outside this machine), a key starts a run, the plot receives
points (the frames the page receives carry the plot's braille dots, and the record grows), screenshots
are taken; closing the page, then stopping the server, leave no process behind. The terminal on the
page is drawn on a canvas, so what it shows is read from the frames and the record, and seen in the
screenshots (kept in $GRADFAIL_SCREENSHOTS when set).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.serve.server import Served
from tests.talk.decks import write_deck

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (Debian: apt-get install -y chromium); .ci/run installs it"
)
BRAILLE = {chr(c) for c in range(0x2801, 0x2900)}  # plotext's dots: a plot with points in it


def screenshots(tmp_path: Path) -> Path:
    return Path(os.environ.get("GRADFAIL_SCREENSHOTS", tmp_path))


class Page:
    """A chromium page on the server, counting what its websocket receives."""

    def __init__(self, browser, url: str, size=(1280, 800)):
        self.page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        self.requests: list[str] = []
        self.frames: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        self.page.goto(url)

    def _frame(self, payload) -> None:
        self.frames.append(payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload)

    def wait_for(self, predicate, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            self.page.wait_for_timeout(200)
        raise AssertionError(f"not seen within {timeout} s: {what}")

    def seen(self, text: str) -> bool:
        return any(text in frame for frame in self.frames)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])


def recorded_metrics(runs_dir: Path) -> int:
    return sum(
        sum(1 for line in path.read_text().splitlines() if '"metrics"' in line)
        for path in runs_dir.glob("*/events.jsonl")
    )


def test_the_explorer_in_chromium_starts_a_run_on_a_key_and_plots_it(tmp_path):
    served = Served(tmp_path, "--preset", "parity30")
    shots = screenshots(tmp_path)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = launch(playwright)
            page = Page(browser, served.url + "/")
            page.wait_for(lambda: page.seen("parity30"), "the explorer's first screen, parity30 chosen")
            page.page.wait_for_timeout(1500)  # the form is filled and checked a moment later
            page.page.screenshot(path=str(shots / "serve-explorer-setup.png"))
            page.page.mouse.click(640, 8)  # the terminal takes the keys (a click on its status line, not a field)
            page.page.keyboard.press("s")
            page.wait_for(lambda: recorded_metrics(tmp_path / "runs") >= 5, "the run's metrics in its record")
            before = len(page.frames)
            page.wait_for(
                lambda: any(BRAILLE & set(frame) for frame in page.frames[before:]), "plot points in the frames"
            )
            page.page.wait_for_timeout(2000)
            page.page.screenshot(path=str(shots / "serve-explorer-run.png"))
            assert all(url.startswith(served.url) for url in page.requests), page.requests  # offline
            assert len(served.others()) >= 2  # the app and its engine
            page.page.close()
            took = served.wait_gone(timeout=20)
            browser.close()
        manifests = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/run.json")]
        assert [m["status"] for m in manifests] == ["interrupted"]
        assert served.stop(signal.SIGINT) < 10 and not served.processes()
        assert (shots / "serve-explorer-run.png").stat().st_size > 10_000
        print(f"page closed: the app and its engine ended in {took:.1f} s")
    finally:
        served.close()


def test_the_talk_in_chromium_goes_through_its_slides(tmp_path):
    deck = write_deck(tmp_path / "deck")
    served = Served(tmp_path, "--talk", str(deck), "--slide-seconds", "2")
    shots = screenshots(tmp_path)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = launch(playwright)
            page = Page(browser, served.url + "/?fontsize=24", size=(1600, 900))
            page.wait_for(lambda: page.seen("Failures of Gradient"), "the title slide")
            page.page.mouse.click(800, 8)
            page.page.keyboard.press("ArrowRight")
            page.wait_for(lambda: page.seen("Figure 1: parities"), "Figure 1's slide")
            page.wait_for(lambda: page.seen("REPRODUCED"), "the verdict, once the replay has ended")
            page.page.screenshot(path=str(shots / "serve-talk-figure1.png"))
            page.page.keyboard.press("PageDown")
            page.wait_for(lambda: page.seen("wider and deeper"), "Section 2's next slide")
            page.page.close()
            served.wait_gone(timeout=15)
            browser.close()
        served.stop(signal.SIGTERM)
        assert not served.processes()
    finally:
        served.close()
