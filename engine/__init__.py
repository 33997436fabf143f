"""gradfail's engine: families, diagnostics, the run loop and the worker process.

Only the torch side (trainers, `engine.loop`, `engine.worker`) imports torch; the modules the UI
process uses (config, registry, presets, events, record, client) do not.
"""

__version__ = "0.1.0"
