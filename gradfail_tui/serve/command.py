"""`gradfail serve`'s work: check the options, warn about a public address, run the server."""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

TOKEN_FORM = re.compile(r"auto|[A-Za-z0-9_-]{8,128}")  # safe in a URL's path and query as it is


def serve_command(
    deck: Path | None,
    host: str,
    port: int,
    *,
    max_sessions: int,
    slide_seconds: float,
    runs_dir: Path,
    preset: str | None,
    start: bool,
    err: Console,
    live: bool = False,
    token: str | None = None,
    no_token: bool = False,
    read_only: bool = False,
) -> int:
    try:
        from gradfail_tui.serve.server import GradfailServer, is_loopback
    except ImportError as exc:
        err.print(
            f"[red]•[/] gradfail serve needs textual-serve ({escape(str(exc))}): pip install 'gradfail\\[serve]'",
            highlight=False,
        )
        return 2
    if deck is not None and not deck.is_dir():
        err.print(
            f"[red]•[/] --talk {escape(str(deck))}: no such deck (prepare one with `gradfail talk --prepare DIR`)"
        )
        return 2
    if read_only and (deck is None or live):
        err.print(
            "[red]•[/] --read-only: only with --talk DIR and without --live (viewers page through the deck's "
            "recordings; nothing trains)"
        )
        return 2
    if live and deck is None:
        err.print("[red]•[/] --live: only with --talk DIR (the explorer trains anyway)")
        return 2
    if start and not preset:
        err.print("[red]•[/] --start needs --preset NAME")
        return 2
    if preset is not None:
        from engine.catalog import load_preset
        from engine.presets import PresetError

        try:
            load_preset(preset)
        except PresetError as exc:
            err.print(f"[red]•[/] --preset: {escape(str(exc))}")
            return 2
    if token is not None and no_token:
        err.print("[red]•[/] --token and --no-token: give one of them")
        return 2
    if token is not None and not TOKEN_FORM.fullmatch(token):
        err.print(
            "[red]•[/] --token: expected 'auto' or 8 to 128 characters of letters, digits, '-' and '_' "
            "(it travels in the page's address)"
        )
        return 2
    if token == "auto":
        token = secrets.token_urlsafe(18)
    if not is_loopback(host):
        if token is None and not no_token:
            err.print(
                f"[red]•[/] --host {escape(host)} is not loopback: anyone who reaches port {port} could train on "
                "this machine. Give --token auto (a generated token, in the address printed at the start) or "
                "--token TEXT, or --no-token to serve it open anyway."
            )
            return 2
        who = "anyone with the token" if token else "anyone"
        err.print(
            f"[yellow]warning:[/] serving on {escape(host)}:{port}, not loopback: {who} who can reach this "
            f"machine on that port can open the explorer and start training on it ({max_sessions} sessions at once).",
            highlight=False,
        )
    child = [sys.executable, "-m", "gradfail_tui.serve.child", str(os.getpid())]
    if deck is not None:
        argv, title = [*child, "talk", str(deck.resolve()), str(slide_seconds)], f"gradfail talk: {deck.name}"
        title += " (read-only)" if read_only else ""
        argv += ["live", str(runs_dir.resolve())] if live else []
    else:
        argv, title = [*child, "explorer", str(runs_dir.resolve())], "gradfail explorer"
        argv += [preset, "start"] if start else ([preset] if preset else [])
    try:
        GradfailServer(argv, host, port, max_sessions, title, token=token).serve()
    except OSError as exc:  # the port is taken, the address is not this machine's
        err.print(f"[red]•[/] cannot serve on {escape(host)}:{port}: {escape(exc.strerror or str(exc))}")
        return 1
    return 0
