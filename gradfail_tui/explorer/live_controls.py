"""Hands on the running run: its live settings (key `e`), step mode (`n`, `N`, ctrl+n while paused), and
picking out one seed of a band (`[`, `]`).

Both go through the Conductor (engine/orchestration), as `gradfail run --at` does: a change is
checked there (engine/changes.py) and applied by the engine at the run's next step; a refused one
is said with its reason, and the run goes on.
"""

from __future__ import annotations

from textual.markup import escape

from engine.status import RunStatus
from gradfail_tui.explorer.host import ExplorerHost, View
from gradfail_tui.explorer.widgets.live_settings import LiveSettings

# `app` is the GradfailApp, as its helpers see it (host.py).


def open_live_settings(app: ExplorerHost) -> None:
    entry = app.model.training()
    if entry is None:
        app.notify("no run is training: live settings change a running or paused run", severity="warning", timeout=4)
        return
    spec = app.families.get(entry.state.family)
    if spec is None:
        app.notify(f"{escape(entry.label)}: its family is not known here", severity="warning", timeout=4)
        return

    def apply(changed: dict[str, str] | None) -> None:
        for key, text in (changed or {}).items():
            why = app.conductor.change(entry.key, key, text, spec)
            if why:
                app.notify(f"{escape(why)}; the run goes on unchanged", title="Change refused", severity="error")
            else:
                app.notify(f"{escape(key)} = {escape(text)} from the next step", title="Change", timeout=3)

    app.push_screen(LiveSettings(entry.label, entry.state.step, spec, entry.state.current_config()), apply)


def step(app: ExplorerHost, steps: int) -> None:
    """Step mode: the paused run trains `steps` steps and pauses again."""
    entry = app.model.training()
    if entry is None or entry.status != RunStatus.PAUSED:
        app.notify("step mode: pause the run first (p), then n steps 1, N 10, ctrl+n 100", timeout=4)
        return
    app.conductor.step(entry.key, steps)


def pick_seed(app: ExplorerHost, direction: int) -> None:
    """In a band of seeds, pick out the next (]) or previous ([) seed, drawn over the band; past the
    last one, none."""
    group = app.model.shown_group
    if group is None or not group.seeds:
        app.notify("[ and ] pick out a seed where a band of seeds is shown (seeds > 1 on Setup)", timeout=4)
        return
    picked = app.model.pick_seed(direction)
    app.notify(f"{escape(picked)} picked out" if picked else "no seed picked out: the band alone", timeout=2)
    app.stale(View.PLOTS, View.STATUS)
