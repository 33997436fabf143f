"""The web server of `gradfail serve`: textual-serve's, with a strict lifecycle and offline pages.

textual-serve (Textualize's) gives each browser tab its own app process, talking to it over the
process's stdin and stdout. What this module adds, and why:

- **Every process ends.** textual-serve 1.1.3 starts the app through a shell, stops it by asking it
  to quit and waiting without limit, handles SIGINT and SIGTERM only (SIGHUP, an SSH session
  dropping, kills the server and leaves every app and its engine training, their records
  "running"), and stops reading an app's output once its tab has gone, so an app still drawing can
  block on a full pipe, where no signal handler of its event loop can run. Here each app is started
  directly, in a session of its own, bound to the server (child.py); its output is read until it
  exits; a tab that closes, and SIGINT, SIGTERM or SIGHUP to the server, ask it to quit, then send
  its process group SIGTERM after `QUIT_GRACE_S` (the explorer then records its run `interrupted`),
  then SIGKILL after `TERM_GRACE_S`; the server waits for all of them before it exits.
- **A session cap.** Each tab starts an app and, in the explorer, an engine that trains on this
  machine's cores; past `max_sessions` a tab gets a page saying so instead of another engine.
- **Offline.** textual-serve's page links a web font from the internet; the page served here
  declares the same font (Roboto Mono, which textual-serve ships) from this server, so it renders
  alike with no network, and asks for nothing outside this machine.
- **Loopback by default**: the command warns when asked to bind anything else, and asks for a token
  (or an explicit `--no-token`) there.
- **A token.** textual-serve has no authentication: whoever reaches the port starts an app, and the
  explorer trains on this machine. With a token, the page is served only to `/?token=TOKEN`, and the
  websocket only at `/ws/TOKEN` (the page's script appends `?width=..` to its websocket address, so the
  token travels in the path); a request without it gets 401, with a wrong one 403, one line in the
  server's log, and no app is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import os
import re
import shlex
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.web_runner import GracefulExit
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

QUIT_GRACE_S = 15.0  # a quitting explorer stops its run first (up to the conductor's STOP_GRACE_S, 10 s)
TERM_GRACE_S = 3.0  # after SIGTERM, before SIGKILL
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FONT_LINK = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*>", re.S)
FONT_FACE = """<style>
      @font-face {
        font-family: "Roboto Mono";
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf") format("truetype");
        font-weight: 100 700;
      }
    </style>"""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def offline_templates(directory: Path) -> Path:
    """textual-serve's page template with its web-font link replaced by the same font from this server."""
    import textual_serve

    source = Path(textual_serve.__file__).parent / "templates" / "app_index.html"
    text, found = FONT_LINK.subn(FONT_FACE, source.read_text(encoding="utf-8"))
    if not found and "fonts.googleapis.com" in text:
        raise RuntimeError(f"{source}: the web-font link changed shape; the page would fetch it from the internet")
    (directory / "app_index.html").write_text(text, encoding="utf-8")
    return directory


class ManagedApp(AppService):
    """One tab's app process: started without a shell in a session of its own, read until it exits,
    and stopped for sure."""

    def __init__(self, argv: Sequence[str], **kwargs: Any):
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = list(argv)
        self.closed = False  # its tab has gone: its output is read and dropped

    async def _open_app_process(self, width: int = 80, height: int = 24):
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,  # its own process group: the signals below reach it and its helpers
        )
        self._stdin = process.stdin
        return process

    async def on_data(self, payload: bytes) -> None:
        if self.closed:
            return
        try:
            await self.remote_write_bytes(payload)
        except (ConnectionError, RuntimeError):
            self.closed = True  # the tab went: keep reading (an app blocked on a full pipe cannot quit)

    async def on_meta(self, data: bytes) -> None:
        try:
            await super().on_meta(data)
        except (ConnectionError, RuntimeError):
            self.closed = True

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def stop(self) -> None:
        """Ask the app to quit; SIGTERM its process group after QUIT_GRACE_S, SIGKILL after TERM_GRACE_S more."""
        process, self.closed = self._process, True
        if process is None or process.returncode is not None:
            await self._join()
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send_meta({"type": "quit"}), 1.0)
        for sig, grace in ((None, QUIT_GRACE_S), (signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, 5.0)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
            try:
                await asyncio.wait_for(process.wait(), grace)
                break
            except TimeoutError:
                continue
        await self._join()

    async def _join(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, 5.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()


class GradfailServer(Server):
    def __init__(
        self, argv: Sequence[str], host: str, port: int, max_sessions: int, title: str, token: str | None = None
    ):
        self._templates = tempfile.TemporaryDirectory(prefix="gradfail-serve-")
        super().__init__(
            shlex.join(argv),
            host=host,
            port=port,
            title=title,
            templates_path=offline_templates(Path(self._templates.name)),
        )
        self.argv = list(argv)
        self.token = token
        self.max_sessions = max_sessions
        self.apps: set[ManagedApp] = set()
        self.refused: set[web.WebSocketResponse] = set()

    def cap_message(self) -> str:
        return (
            f"gradfail serve: {len(self.apps)} sessions are open, the most this server allows "
            f"(--max-sessions {self.max_sessions}); each one trains on this machine. "
            "Close another tab, or ask whoever started the server, then reload this page."
        )

    # ---- the token ---------------------------------------------------------------------------------

    def refusal(self, request: web.Request, given: str | None) -> web.Response | None:
        """None when the request may go on (no token asked, or the right one given); else the answer
        refusing it (401 without a token, 403 with a wrong one), said in one line of the log."""
        if self.token is None or (given is not None and hmac.compare_digest(given.encode(), self.token.encode())):
            return None
        status, why = (401, "no token") if not given else (403, "a wrong token")
        what = "the page" if request.path == "/" else "a session"
        print(f"gradfail serve: refused {what} to {request.remote}: {why}", file=sys.stderr, flush=True)
        body = (
            f"<!DOCTYPE html><html><body><h1>{'Token needed' if status == 401 else 'Wrong token'}</h1>"
            "<p>This gradfail server asks for a token: open the address it printed when it started "
            "(it ends in <code>?token=...</code>).</p></body></html>"
        )
        return web.Response(text=body, content_type="text/html", status=status)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get("/ws/{token}", self.handle_websocket, name="websocket-token")
        return app

    # ---- pages ---------------------------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        refused = self.refusal(request, request.query.get("token"))
        if refused is not None:
            return refused
        if len(self.apps) >= self.max_sessions:
            body = f"<!DOCTYPE html><html><body><h1>Too many sessions</h1><p>{self.cap_message()}</p></body></html>"
            return web.Response(text=body, content_type="text/html", status=503)
        return await self._index(request)

    @aiohttp_jinja2.template("app_index.html")
    async def _index(self, request: web.Request) -> dict[str, Any]:
        """textual-serve's page, its links made from the address the browser used (so that a server
        bound to 0.0.0.0 gives pages that work from other machines)."""
        base = f"{request.scheme}://{request.host}"
        static = base + str(request.app.router["static"].url_for(filename="/")).rstrip("/") + "/"
        if self.token is None:
            route = request.app.router["websocket"].url_for()
        else:
            route = request.app.router["websocket-token"].url_for(token=self.token)
        websocket = base.replace("http", "ws", 1) + str(route)
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": websocket,
            "config": {"static": {"url": static}},
            "application": {"name": self.title},
        }

    # ---- sessions ------------------------------------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        refused = self.refusal(request, request.match_info.get("token"))
        if refused is not None:  # before the handshake: no session, no app process
            return refused
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        if len(self.apps) >= self.max_sessions:
            self.refused.add(websocket)
            try:
                await websocket.send_bytes(f"\r\n  {self.cap_message()}\r\n".encode())
                async for _ in websocket:  # held open, so the message stays on screen until the tab closes
                    pass
            finally:
                self.refused.discard(websocket)
            return websocket
        service = ManagedApp(
            self.argv,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        self.apps.add(service)
        try:
            await service.start(
                to_int(request.query.get("width", "80"), 80), to_int(request.query.get("height", "24"), 24)
            )
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # a broken message from a page: the session ends, the server lives
            print(f"gradfail serve: a session ended: {error}", file=sys.stderr)
        finally:
            await service.stop()
            self.apps.discard(service)
            with contextlib.suppress(Exception):
                await websocket.close()
        return websocket

    async def on_shutdown(self, app: web.Application) -> None:
        """Before the server closes: every app stopped (and waited for), every refused tab closed."""
        await asyncio.gather(*(service.stop() for service in list(self.apps)), return_exceptions=True)
        for websocket in list(self.refused):
            with contextlib.suppress(Exception):
                await websocket.close()

    async def on_startup(self, app: web.Application) -> None:
        query = f"/?token={self.token}" if self.token else ""
        print(f"gradfail serve: {self.title} on http://{self.host}:{self.port}{query} (Ctrl-C to stop)", flush=True)

    def serve(self, debug: bool = False) -> None:
        """Serve until SIGINT, SIGTERM or SIGHUP; then stop every app and exit."""
        self.debug = debug
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.request_exit)
        try:
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                handle_signals=False,
                loop=loop,
                print=None,
                shutdown_timeout=QUIT_GRACE_S + TERM_GRACE_S + 10,
            )
        except GracefulExit:
            pass
        finally:
            self._templates.cleanup()
