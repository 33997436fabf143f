"""gradfail's user side: the Typer CLI, the headless run display and the Textual explorer.

Nothing here imports torch: training happens in the engine process (engine/worker.py).
"""

from engine import __version__

__all__ = ["__version__"]
