"""Faults in the explorer, through the real engine process: out of memory and a broken diagnostic.

(The same faults seen from `gradfail run`: tests/cli/test_faults.py.)
"""

from engine.registry import families
from gradfail_tui.explorer.app import build_app
from tests.conftest import read_events, read_manifest, skip_unless_allocations_can_fail
from tests.explorer.pilot import ENGINE_READY_S, SIZE, sync, wait_until


async def run_in_the_explorer(pilot, family: str, **values):
    """Fill the form for `family` with `values`, start the run and wait for its end; returns its RunEntry."""
    app = pilot.app
    await app.setup.pick_family(family)
    for name, value in values.items():
        app.form.set_raw(name, value)
    await wait_until(pilot, lambda: not app.setup.problems, f"a valid {family} form")
    count = len(app.model.entries)
    await pilot.press("escape", "s")
    await wait_until(pilot, lambda: len(app.model.entries) > count and app.model.entries[0].state.finished, family, 60)
    return app.model.entries[0]


@sync
async def test_the_explorer_reports_out_of_memory_and_a_broken_diagnostic_and_goes_on(tmp_path, faulty_family):
    """Through the real engine process: neither takes the UI, or the engine, down."""
    skip_unless_allocations_can_fail()
    app = build_app(
        families={name: families()[name] for name in ("parity", "faulty")}, runs_dir=tmp_path / "runs", plot_budget=1.0
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot, lambda: app.engine_ready and app.form.spec is not None, "the engine", timeout=ENGINE_READY_S
        )
        engine = app.conductor.slots[0].engine.pid
        too_big = await run_in_the_explorer(pilot, "parity", d=4096, width_mult=10000)
        assert too_big.status == "failed" and too_big.state.error_kind == "oom"
        assert "out of memory while building the model: cannot allocate 625.0 GiB" in too_big.state.message
        assert any("out of memory" in n.message and n.severity == "error" for n in app._notifications)
        assert read_manifest(too_big.path)["status"] == "failed"

        broken = await run_in_the_explorer(pilot, "faulty", fault="raise", phase="snapshots", at_step=40, steps=100)
        assert broken.status == "failed"
        assert "faulty: RuntimeError in snapshots at step 40: injected fault in snapshots" in broken.state.message
        assert [s for s, _ in broken.state.series["test_acc"]] == [0, 20, 40]  # kept up to the fault
        assert "Traceback" in read_events(broken.path)[-1]["traceback"]

        good = await run_in_the_explorer(pilot, "parity", d=5, width_mult=10, steps=300, eval_every=50)
        assert good.status == "completed" and app.conductor.slots[0].engine.pid == engine and app.is_running
        await pilot.press("q")
