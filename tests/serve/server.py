"""What the serve tests share: a `gradfail serve` process on a free loopback port, a browser tab stand-in
(a websocket client speaking textual-serve's protocol), and the processes a server left behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import processes_with_env, start_gradfail

pytest.importorskip("textual_serve", reason="gradfail serve needs textual-serve: pip install 'gradfail[serve]'")
aiohttp = pytest.importorskip("aiohttp", reason="textual-serve's aiohttp is not installed")

MARK = "GRADFAIL_SERVE_TEST"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """`gradfail serve ARGS` started in `cwd`; every process it starts carries a mark in its environment."""

    def __init__(self, cwd: Path, *args: str):
        self.port = free_port()
        self.mark = uuid.uuid4().hex
        self.proc = start_gradfail("serve", "--port", str(self.port), *args, cwd=cwd, **{MARK: self.mark})
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"gradfail serve ended: {self.proc.communicate()}")
            time.sleep(0.1)
        raise AssertionError("gradfail serve did not listen within 30 s")

    def processes(self) -> list[int]:
        """Every live process this server started (its apps, their engines), the server too."""
        return processes_with_env(MARK, self.mark)

    def others(self) -> list[int]:
        return [pid for pid in self.processes() if pid != self.proc.pid]

    def wait_gone(self, timeout: float) -> float:
        """Seconds until no process of this server's is left but the server; fails after `timeout`."""
        started = time.monotonic()
        while self.others() and time.monotonic() - started < timeout:
            time.sleep(0.1)
        assert not self.others(), f"left behind after {timeout} s: {self.others()}"
        return time.monotonic() - started

    def stop(self, signal_number, timeout: float = 30) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal_number)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"gradfail serve did not end within {timeout} s of signal {signal_number}") from None
        return time.monotonic() - started

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in self.processes():  # never leave a test's process behind, even when it failed
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


class Tab:
    """A browser tab's websocket: what textual-serve's page sends and receives."""

    def __init__(self, served: Served, width: int = 100, height: int = 30):
        self.url = f"ws://127.0.0.1:{served.port}/ws?width={width}&height={height}"
        self.received = bytearray()

    async def open(self):
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(self.url)
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self):
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.received += message.data

    async def wait_for(self, text: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.received and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert text in self.received, f"{text!r} not received in {timeout} s ({len(self.received)} bytes)"

    async def keys(self, text: str) -> None:
        await self.ws.send_json(["stdin", text])

    async def close(self):
        await self.ws.close()
        await self.session.close()
        self.reader.cancel()
