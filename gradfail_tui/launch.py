"""The `gradfail` command's entry point (also `python -m gradfail_tui`).

`gradfail run` trains in an engine process whose start is mostly torch's import (about 2 s). This
module starts that process first, before importing the CLI (Typer, Rich and the commands: about
0.2 s), so the two imports run side by side instead of one after the other; it hands the engine to
the command as Click's context object, and `gradfail_tui.cli.run` takes it over. A `run` that ends
before training (--help, a bad flag) never takes it, and it is ended here without waiting. Every
other command starts no engine.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    engine = None
    if args[:1] == ["run"] and "--help" not in args:
        from engine.client import EngineProcess

        engine = EngineProcess().start()
    try:
        from gradfail_tui.cli import app

        app(obj=engine)
    finally:
        if engine is not None:
            engine.discard()
