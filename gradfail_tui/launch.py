"""The `gradfail` command's entry point (also `python -m gradfail_tui`).

`gradfail run` trains in an engine process whose start is mostly torch's import (about 2 s). This
module starts that process first, before importing the CLI (Typer, Rich and the commands: about
0.2 s), so the two imports run side by side instead of one after the other; `gradfail_tui.cli.run`
takes the engine over. A `run` that ends before training (--help, a bad flag) never takes it, and it
is ended without waiting. Every other command starts no engine.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.client import EngineProcess

_prestarted: "EngineProcess | None" = None


def take_prestarted_engine() -> "EngineProcess | None":
    """The engine started for this command, once (None if there is none, or it was taken)."""
    global _prestarted
    engine, _prestarted = _prestarted, None
    return engine


def main() -> None:
    global _prestarted
    args = sys.argv[1:]
    if args[:1] == ["run"] and "--help" not in args:
        from engine.client import EngineProcess

        _prestarted = EngineProcess().start()
    try:
        from gradfail_tui.cli import app

        app()
    finally:
        engine = take_prestarted_engine()
        if engine is not None:
            engine.discard()
