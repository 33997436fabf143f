"""A long session: the explorer, over the real engine process, through 120 start/stop cycles.

Run it with `python -m pytest -m slow tests/explorer/test_long_session.py` (a few minutes on 2 cores); it
prints its figures. The fast test at the end checks the cause of the leak it once found, in the
default suite: every widget the explorer removes (form fields, plots, footer keys) is freed. Pilot drives the app in this process, so this process is the UI process: its
resident memory (VmRSS) after 120 cycles must be within 20% of what it was after the warm-up
cycles (every family started twice, so imports, caches and the first plots are paid for), and its
open file descriptors, threads and child processes must not grow. Every run is stopped from the
keyboard while it trains, rotating through the families with tiny configs, so the session is
mostly starting, drawing and stopping, the UI's own work.
"""

from __future__ import annotations

import gc
import os
import time
import weakref
from pathlib import Path

import pytest

from gradfail_tui.explorer.app import build_app
from tests.conftest import children_of
from tests.explorer.pilot import ENGINE_READY_S, SIZE, make_app, ready, sync, wait_until
from tests.scripted import Script

CYCLES = 120
MAX_GROWTH = 0.20  # of the warm-up RSS
LONG = 10**6  # steps: every run is stopped long before its end
FAMILY_CONFIGS = {
    "parity": {"d": 5, "steps": LONG, "eval_every": 50},
    "periodic": {"d": 4, "batch": 16, "eval_samples": 64, "variance_every": 0, "steps": LONG, "eval_every": 50},
    "flat": {"learner": "forward", "d": 4, "batch": 16, "eval_samples": 64, "steps": LONG, "eval_every": 50},
    "stocks": {"d": 20, "k": 5, "batch": 8, "eval_samples": 16, "steps": LONG, "eval_every": 50},
    "pwl": {"trainer": "conv", "n": 9, "train_size": 16, "val_size": 4, "batch": 4, "steps": LONG, "eval_every": 50},
    "tuples": {
        "k": 1,
        "batch": 4,
        "eval_samples": 8,
        "snr_every": 0,
        "show_tuples": 0,
        "steps": LONG,
        "eval_every": 10,
    },
    "pwl_condition": {"n_min": 10, "n_step": 5, "steps": 200},
}
WARM_UP = 2 * len(FAMILY_CONFIGS)


def process_figures() -> dict[str, int]:
    """This process's resident memory (kB), open file descriptors, threads and child processes."""
    gc.collect()
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {
        "rss_kb": int(status["VmRSS"].split()[0]),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": int(status["Threads"]),
        "children": len(children_of(os.getpid())),
    }


@pytest.mark.slow
@sync
async def test_a_long_session_of_start_stop_cycles_leaks_nothing(tmp_path, capsys):
    app = build_app(runs_dir=tmp_path / "runs")
    names = list(FAMILY_CONFIGS)
    started = time.monotonic()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot, lambda: app.engine_ready and app.form.spec is not None, "the engine", timeout=ENGINE_READY_S
        )
        engine = app.conductor.slots[0].engine.pid
        for cycle in range(CYCLES):
            family = names[cycle % len(names)]
            await app.setup.pick_family(family)
            for name, value in FAMILY_CONFIGS[family].items():
                app.form.set_raw(name, value)
            await wait_until(pilot, lambda: not app.setup.problems, f"cycle {cycle}: a valid {family} form")
            await pilot.press("escape", "s")
            await wait_until(
                pilot,
                lambda: app.model.active is not None and app.model.active.state.series,
                f"cycle {cycle}: {family} to train",
                timeout=60,
            )
            entry = app.model.active
            await pilot.press("x")
            await wait_until(pilot, lambda: entry.state.finished, f"cycle {cycle}: {family} to stop", timeout=60)
            assert entry.status == "stopped", (family, entry.state.message)
            if cycle + 1 == WARM_UP:
                warm, warm_s = process_figures(), time.monotonic() - started
        end, wall_s = process_figures(), time.monotonic() - started
        assert app.conductor.slots[0].engine.pid == engine  # one engine for the whole session: it never died
        assert len([e for e in app.model.entries if e.origin == "session"]) == CYCLES
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit", timeout=15)
    after = process_figures()
    growth = end["rss_kb"] / warm["rss_kb"] - 1
    with capsys.disabled():
        print(
            f"\nlong session: {CYCLES} start/stop cycles over {len(names)} families in {wall_s:.0f} s "
            f"(warm-up: {WARM_UP} cycles in {warm_s:.0f} s)\n"
            f"  RSS {warm['rss_kb'] / 1024:.1f} MiB after warm-up -> {end['rss_kb'] / 1024:.1f} MiB at the end "
            f"({growth:+.1%})\n"
            f"  open fds {warm['fds']} -> {end['fds']} (after quitting: {after['fds']}); "
            f"threads {warm['threads']} -> {end['threads']}; "
            f"child processes {warm['children']} -> {end['children']} (after quitting: {after['children']})"
        )
    # Every check is made and every failure named, so a leak of memory does not hide one of fds.
    failures = [
        what
        for what, ok in [
            (f"RSS grew {growth:+.1%}, more than {MAX_GROWTH:.0%}", growth < MAX_GROWTH),
            (f"open fds grew: {warm['fds']} -> {end['fds']}", end["fds"] <= warm["fds"]),
            (f"threads grew: {warm['threads']} -> {end['threads']}", end["threads"] <= warm["threads"]),
            (
                f"child processes: {warm['children']} -> {end['children']}, then {after['children']} after quitting "
                "(expected the one engine, then none)",
                warm["children"] == end["children"] == 1 and after["children"] == 0,
            ),
        ]
        if not ok
    ]
    assert not failures, "; ".join(failures)


def widgets_of(app) -> list:
    return [node for screen in app.screen_stack for node in screen.walk_children(with_self=True)]


@sync
async def test_the_widgets_the_explorer_removes_are_freed(tmp_path):
    """Picking a family rebuilds the form, a run of another family replaces the plots and every key
    enabled or disabled rebuilds the footer; none of the widgets dropped may stay alive."""
    app, _ = make_app(tmp_path, Script(end="hold"))
    shown = weakref.WeakSet()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for family in ["demo", "sweep", "demo", "sweep"]:
            await app.setup.pick_family(family)
            await wait_until(pilot, lambda: not app.setup.problems, f"a valid {family} form")
            await pilot.press("escape", "s")
            await wait_until(
                pilot, lambda: app.model.active is not None and app.model.active.state.series, f"{family} to run"
            )
            entry = app.model.active
            await pilot.pause(0.2)  # the plots drawn
            await pilot.press("x")
            await wait_until(pilot, lambda: entry.state.finished, f"{family} to stop")
            await pilot.pause(0.2)  # the footer rebuilt
            shown.update(widgets_of(app))
        gc.collect()
        on_screen = set(map(id, widgets_of(app)))
        kept = sorted(type(node).__name__ for node in shown if id(node) not in on_screen)
    assert not kept, f"{len(kept)} removed widgets are still alive: {kept}"
