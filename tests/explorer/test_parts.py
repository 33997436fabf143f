"""The explorer's parts on their own: the bridge, the pacer, replay, bitmaps, colours, thinning, the entry point.

(What they may import is checked in tests/test_imports.py.)
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from engine.claims import Outcome
from engine.client import EngineExited
from engine.events import Metrics, RunFinished, RunStarted
from engine.orchestration import Conductor
from engine.status import FINAL_STATUSES
from gradfail_tui.explorer.app import main
from gradfail_tui.explorer.bridge import EngineBridge
from gradfail_tui.explorer.entries import Replay, RunEntry, load_recorded
from gradfail_tui.explorer.messages import EngineItemsReceived
from gradfail_tui.explorer.pacing import PLOT_CPU_BUDGET, SPARE_CORE_BUDGET, RedrawPacer, plot_budget_for
from gradfail_tui.explorer.widgets.metric_plot import thin
from gradfail_tui.render.bitmaps import braille, half_blocks, layout
from gradfail_tui.render.colours import OUTCOMES, RUN_STATUSES, outcome_look, rich_colour, status_tone, textual_colour
from tests.explorer.pilot import write_record
from tests.scripted import ScriptedEngine, demo_families


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_pacer_keeps_plot_drawing_under_its_share_of_a_core():
    clock = Clock()
    pacer = RedrawPacer(max_hz=10, budget=0.05, clock=clock)
    assert pacer.ready()
    pacer.redrawn()
    assert not pacer.ready()
    clock.now = 0.1
    assert pacer.ready()  # cheap plots: 10 a second
    pacer.spent(0.04)  # the last redraw cost 40 ms: at 5% of a core, one every 0.8 s
    pacer.redrawn()
    clock.now = 0.5
    assert not pacer.ready()
    clock.now = 0.91
    assert pacer.ready()
    assert abs(pacer.interval - 0.8) < 1e-9


def started(device: str, device_name: str) -> RunStarted:
    return RunStarted(
        run_id="r", t=0.0, family="parity", config={}, seed=0, device=device, device_name=device_name, total_steps=10
    )


def test_the_plots_get_more_of_a_core_only_when_the_engine_leaves_one_free():
    one_thread, two_threads = started("cpu", "cpu (1 thread)"), started("cpu", "cpu (2 threads)")
    gpu = started("cuda:0", "NVIDIA H200")
    assert (one_thread.cpu_threads, two_threads.cpu_threads, gpu.cpu_threads) == (1, 2, None)
    assert plot_budget_for(one_thread.device, one_thread.cpu_threads, cores=2) == SPARE_CORE_BUDGET
    assert plot_budget_for(two_threads.device, two_threads.cpu_threads, cores=2) == PLOT_CPU_BUDGET
    assert plot_budget_for(one_thread.device, one_thread.cpu_threads, cores=1) == PLOT_CPU_BUDGET
    assert plot_budget_for(gpu.device, gpu.cpu_threads, cores=2) == SPARE_CORE_BUDGET
    assert plot_budget_for(gpu.device, gpu.cpu_threads, cores=1) == PLOT_CPU_BUDGET
    # A device name it cannot read counts as every core busy: the cautious share.
    assert plot_budget_for("cpu", started("cpu", "cpu").cpu_threads, cores=2) == PLOT_CPU_BUDGET


class Posted(list):
    def __call__(self, message):
        self.append(message)


class CountedPoll:
    """The conductor's poll, counting the bridge's calls: once call n has begun, the bridge has done
    everything it does with what call n - 1 returned (its loop is poll, then post or hold)."""

    def __init__(self, poll):
        self.poll, self.calls = poll, 0
        self.called = threading.Condition()

    def __call__(self, timeout: float) -> list:
        with self.called:
            self.calls += 1
            self.called.notify_all()
        return self.poll(timeout)

    def wait_past(self, polls: int = 2) -> None:
        """Wait until the bridge has gone round `polls` more times (an event, not a guess at a duration)."""
        with self.called:
            target = self.calls + polls
            assert self.called.wait_for(lambda: self.calls >= target, timeout=30), "the bridge stopped polling"


def test_the_bridge_batches_events_and_holds_them_while_the_ui_is_busy(monkeypatch):
    import gradfail_tui.explorer.bridge as bridge_module

    clock = Clock()  # the bridge's clock: a batch is due only when the test moves it on
    monkeypatch.setattr(bridge_module, "time", SimpleNamespace(monotonic=clock))
    engine = ScriptedEngine(demo_families(), ready=False)
    posted = Posted()
    poll = CountedPoll(Conductor(lambda: engine).start().poll)
    bridge = EngineBridge(poll, posted, batch_hz=5).start()
    engine.events.put(
        RunStarted(run_id="r", t=0, family="demo", config={}, seed=0, device="cpu", device_name="cpu", total_steps=500)
    )
    for step in range(500):
        engine.events.put(Metrics(run_id="r", t=step / 1000, step=step, values={"loss": 1.0}))
    while not engine.events.empty():
        poll.wait_past(1)
    poll.wait_past()  # the bridge has taken in everything
    clock.now = 10.0  # long past the batch interval: the rest is due
    poll.wait_past()
    # RunStarted went at once; the UI has not said it applied that batch, so the rest wait.
    assert len(posted) == 1 and isinstance(posted[0], EngineItemsReceived)
    bridge.batch_applied()
    poll.wait_past()
    batches = [[item for _, item in m.items] for m in posted]
    assert sum(len(b) for b in batches) == 501 and len(batches) == 2  # nothing lost, a few batches
    # The end of a run and the death of an engine go at once, even while a batch is in flight.
    engine.events.put(RunFinished(run_id="r", t=1, step=500, status="completed"))
    engine.events.put(EngineExited(0, ""))
    while not engine.events.empty():
        poll.wait_past(1)
    poll.wait_past()
    said = [item for m in posted[2:] for _, item in m.items]
    assert [type(item) for item in said] == [RunFinished, EngineExited]
    bridge.stop()
    assert not bridge.running


def test_the_bridge_stops_when_asked():
    engine = ScriptedEngine(demo_families(), ready=False)
    bridge = EngineBridge(Conductor(lambda: engine).start().poll, Posted()).start()
    started = time.monotonic()
    bridge.stop()
    assert not bridge.running and time.monotonic() - started < 1


def test_replay_applies_events_by_their_time_at_the_chosen_speed(tmp_path):
    entry = load_recorded(write_record(tmp_path, "r", steps=300, rate=100))  # 3 s of run
    assert entry.status == "completed"
    clock = Clock()
    replay = Replay(entry, speed=2, clock=clock)
    assert entry.state.step == 0 and not entry.state.series
    clock.now = 0.5  # 1 s of run time: the events up to t = 1.0
    replay.advance()
    assert entry.state.step == 80 and entry.state.status == "running"
    replay.toggle_pause()
    clock.now = 5
    replay.advance()
    assert entry.state.step == 80  # paused
    replay.toggle_pause()
    replay.set_speed(100)
    clock.now = 5.1
    replay.advance()
    assert replay.done and entry.state.status == "completed" and entry.state.step == 300


def test_a_record_that_cannot_be_read_at_all_is_an_entry_with_its_problem(tmp_path):
    path = tmp_path / "r"
    path.mkdir()
    (path / "events.jsonl").mkdir()  # a directory where a file should be
    entry = load_recorded(path)
    assert entry.problems and isinstance(entry, RunEntry) and entry.events == []


def test_bitmaps_as_half_blocks_and_braille():
    bits = [[1, 0, 1], [1, 1, 0], [0, 1, 1]]
    assert half_blocks(bits) == ["█▄▀", " ▀▀"]
    assert braille([[1, 1], [0, 0], [0, 0], [1, 1]]) == [chr(0x2800 + 0x01 + 0x08 + 0x40 + 0x80)]
    placed = layout([("a", ["##", "##"]), ("bb", ["###"])], width=20)
    assert placed == ["##  ###", "##", "a   bb"]
    assert layout([("a", ["##"]), ("b", ["##"])], width=4) == ["##", "a", "##", "b"]  # wraps


def test_one_look_for_each_status_and_outcome_in_rich_and_in_textual():
    assert set(FINAL_STATUSES) <= set(RUN_STATUSES) and set(OUTCOMES) == set(Outcome)
    assert [rich_colour(status_tone(s)) for s in ("completed", "stopped", "failed")] == ["green", "yellow", "red"]
    assert [textual_colour(status_tone(s)) for s in ("running", "waiting", "diverged")] == [
        "$success",
        "$text-muted",
        "$error",
    ]
    assert textual_colour(status_tone("unknown")) == "$foreground"  # no colour for what the map does not know
    assert outcome_look(Outcome.NOT_REPRODUCED) == ("error", "✗") and outcome_look("?") == outcome_look(
        Outcome.INCOMPLETE
    )


def test_thin_keeps_the_newest_point_and_bounds_the_count():
    points = [(i, float(i)) for i in range(1000)]
    kept = thin(points, 100)
    assert len(kept) <= 101 and kept[0] == (0, 0.0) and kept[-1] == (999, 999.0)
    assert thin(points[:50], 100) == points[:50]


def test_the_entry_point_rejects_bad_arguments(capsys):
    assert main(["--preset", "parity-nope"]) == 2
    assert "unknown preset 'parity-nope'" in capsys.readouterr().err
    assert main(["--start"]) == 2
    assert "--start needs --preset" in capsys.readouterr().err
