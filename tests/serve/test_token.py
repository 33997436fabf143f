"""`gradfail serve --token`: textual-serve has no authentication, so a server that asks for a token
refuses the page and the session without it (401) or with a wrong one (403), says so in one line of its
log, and starts no process for a refused request; the right token gets the page and an app."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.conftest import gradfail_command
from tests.serve.server import Served, Tab, aiohttp

TOKEN = "speaker-7f3a9c21"


def status_of(url: str) -> int:
    try:
        return urllib.request.urlopen(url).status
    except urllib.error.HTTPError as exc:
        return exc.code


async def handshake(url: str) -> int:
    """The HTTP status a websocket handshake to `url` gets (101 when it is accepted)."""
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.close()
        return 101


def test_a_token_is_asked_for_the_page_and_the_session_and_nothing_starts_without_it(tmp_path):
    served = Served(tmp_path, "--token", TOKEN)
    try:
        assert status_of(served.url + "/") == 401
        assert status_of(served.url + "/?token=wrong-token-123") == 403
        ws = f"ws://127.0.0.1:{served.port}/ws"
        assert asyncio.run(handshake(ws + "?width=80&height=24")) == 401
        assert asyncio.run(handshake(ws + "/wrong-token-123?width=80&height=24")) == 403
        assert served.others() == []  # no app was started for any of them
        page = urllib.request.urlopen(served.url + f"/?token={TOKEN}").read().decode()
        assert f'data-session-websocket-url="ws://127.0.0.1:{served.port}/ws/{TOKEN}"' in page

        async def right_token():
            tab = Tab(served)
            tab.url = f"ws://127.0.0.1:{served.port}/ws/{TOKEN}?width=100&height=30"
            await tab.open()
            await tab.wait_for(b"Setup")  # the explorer's first screen
            assert served.others()  # the app runs
            await tab.close()

        asyncio.run(right_token())
        served.wait_gone(timeout=30)
        served.stop(signal.SIGINT)
        log = served.proc.stderr.read()
        refusals = [line for line in log.splitlines() if "refused" in line]
        assert refusals == [
            "gradfail serve: refused the page to 127.0.0.1: no token",
            "gradfail serve: refused the page to 127.0.0.1: a wrong token",
            "gradfail serve: refused a session to 127.0.0.1: no token",
            "gradfail serve: refused a session to 127.0.0.1: a wrong token",
        ]
    finally:
        served.close()


def test_token_auto_makes_one_and_prints_the_address_that_carries_it(tmp_path):
    served = Served(tmp_path, "--token", "auto")
    try:
        served.stop(signal.SIGINT)
        out = served.proc.stdout.read()
        match = re.search(rf"http://127\.0\.0\.1:{served.port}/\?token=([A-Za-z0-9_-]{{20,}})", out)
        assert match, out
    finally:
        served.close()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--host", "0.0.0.0"], "is not loopback: anyone who reaches port"),
        (["--token", "auto", "--no-token"], "--token and --no-token: give one of them"),
        (["--token", "short"], "--token: expected 'auto' or 8 to 128 characters"),
        (["--token", "has spaces in it"], "--token: expected 'auto' or 8 to 128 characters"),
        (["--read-only"], "--read-only: only with --talk DIR and without --live"),
    ],
    ids=["public-without-token", "both", "too-short", "spaces", "read-only-explorer"],
)
def test_a_bad_token_setting_is_one_clear_line_and_nothing_is_served(tmp_path, args, says):
    done = subprocess.run(gradfail_command("serve", "--port", "1", *args), cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr
