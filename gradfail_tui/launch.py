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


def optional_value(args: list[str], option: str, value: str) -> list[str]:
    """`option` given with no value (last, or before another option) becomes `option=value`: Typer has
    no options with an optional value, and `gradfail sweep --ray` (a local Ray) / `--ray ADDRESS` needs one."""
    return [
        f"{arg}={value}" if arg == option and (i + 1 == len(args) or args[i + 1].startswith("-")) else arg
        for i, arg in enumerate(args)
    ]


def main() -> None:
    args = sys.argv[1:]
    if args[:1] in (["sweep"], ["audit"]):
        sys.argv[1:] = args = optional_value(args, "--ray", "local")
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
