"""The explorer's decisions, driven on the plain ExplorerModel: no terminal, no engine, no App.

Which keys act when, whether a start must wait, what x stops and what r starts again are the
model's (model.py); the App only wires them to the Conductor and the widgets. The last test checks
that the App is the ExplorerHost its helpers are typed against (host.py).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from engine.orchestration import JobKind
from engine.state import RunState
from engine.status import RunStatus
from gradfail_tui.explorer.entries import RECORDED, SESSION, GroupEntry, Replay, RunEntry, group_key
from gradfail_tui.explorer.host import ExplorerHost
from gradfail_tui.explorer.model import GATED_ACTIONS, ExplorerModel
from tests.explorer.pilot import SIZE, make_app, ready, sync

KEYS = ("start", "pause", "stop", "restart", "compare", "live_settings", "step")


def run_entry(key: str, status: str = RunStatus.RUNNING, *, live: bool = True) -> RunEntry:
    """A run of this session (with a stand-in LiveRun, ended unless `live`), or a recorded one."""
    state = RunState(run_id=key, label=key, status=status)
    if not live:
        return RunEntry(key=key, label=key, state=state, origin=RECORDED, events=[])
    return RunEntry(key=key, label=key, state=state, origin=SESSION, live=SimpleNamespace(ended=False))


def group_entry(name: str, *, sweep: bool = False) -> GroupEntry:
    """A group going in this session (its job a stand-in that has not finished)."""
    job = SimpleNamespace(finished=False, status=None, name=name)
    return GroupEntry(
        key=group_key(Path(name)),
        name=name,
        title=name,
        origin=SESSION,
        labels=["a", "b"],
        job=job,
        kind=JobKind.SWEEP if sweep else JobKind.GROUP,
        sweep={} if sweep else None,
    )


def key_states(model: ExplorerModel, form_ready: bool = True) -> dict[str, bool | None]:
    return {action: model.key_state(action, form_ready) for action in KEYS}


def test_the_keys_that_act_follow_the_model():
    assert set(GATED_ACTIONS) == set(KEYS)  # the App asks the footer again when one of these changes
    model = ExplorerModel()
    assert key_states(model, form_ready=False) == {
        "start": None,  # a form with a problem
        "pause": None,
        "stop": None,
        "restart": None,  # nothing started yet
        "compare": None,
        "live_settings": False,  # hidden, not just disabled: the footer is narrow
        "step": False,
    }
    assert model.key_state("start", form_ready=True) is True
    assert model.key_state("quit", form_ready=False) is True  # the others always act

    entry = run_entry("r1")
    model.entries.append(entry)
    model.primary = entry.key
    model.last_choice = SimpleNamespace(alone=True, label="r1")
    states = key_states(model)
    assert states["pause"] is states["stop"] is states["compare"] is True
    assert states["live_settings"] is states["step"] is states["restart"] is True

    entry.state.status = RunStatus.STARTING  # going, but not training yet
    assert model.key_state("step", True) is False and model.key_state("stop", True) is True

    model.groups.append(group_entry("fig-parity"))  # r waits while a group goes
    assert model.key_state("restart", True) is None


def test_a_start_waits_for_the_run_or_group_going_and_says_why():
    model = ExplorerModel()
    assert model.busy(group=False) is None and model.busy(group=True) is None
    model.entries.append(run_entry("r1"))
    assert model.busy(group=False) == "A run is going: x stops it, r restarts it."
    assert model.busy(group=True) == "A run is going: x stops it, then s starts the group."
    model.groups.append(group_entry("fig-parity"))
    assert model.busy(group=False) == "fig-parity is going: x stops the group."


def test_x_stops_the_replay_on_screen_else_the_group_else_the_run():
    model = ExplorerModel()
    assert model.stop_target() is None

    recorded = run_entry("old", RunStatus.COMPLETED, live=False)
    model.entries.append(recorded)
    model.replay = Replay(recorded, speed=10, clock=lambda: 0.0)
    target = model.stop_target()
    assert target.replay is model.replay and target.notice == "old: replay skipped to the end"

    going = run_entry("r1")
    model.entries.insert(0, going)
    model.primary = going.key  # the replay is no longer on screen: x is for the run
    assert model.stop_target().run == "r1" and model.stop_target().replay is None

    group = group_entry("fig-parity")
    model.groups.append(group)
    target = model.stop_target()
    assert target.job is group.job and target.notice == "fig-parity: stopping; the runs after this one are not run"

    model.groups[0] = group_entry("phase-parity", sweep=True)
    assert model.stop_target().notice.endswith("its runs not started stay waiting in sweep.json")


def test_p_acts_on_the_replay_on_screen_and_otherwise_on_the_run_training():
    model = ExplorerModel()
    assert not model.pause_replay() and model.training() is None
    recorded = run_entry("old", RunStatus.COMPLETED, live=False)
    model.entries.append(recorded)
    model.replay = Replay(recorded, speed=10, clock=lambda: 0.0)
    assert model.pause_replay() and model.replay.paused
    assert model.pause_replay() and not model.replay.paused

    going = run_entry("r1", RunStatus.PAUSED)
    model.entries.insert(0, going)
    model.primary = going.key
    assert not model.pause_replay() and model.training() is going


def test_r_on_a_running_run_starts_its_choice_again_once_it_has_ended():
    model = ExplorerModel()
    choice = SimpleNamespace(alone=True, label="r1")
    model.last_choice = choice
    assert not model.restart_after_stop()  # nothing going: r starts at once
    entry = run_entry("r1")
    model.entries.append(entry)
    assert model.restart_after_stop()  # going: x first, and remember
    assert model.restart_due(run_entry("other")) is None
    assert model.restart_due(entry) is choice
    assert model.restart_due(entry) is None  # once


def test_opening_a_group_shows_it_and_a_group_is_not_replayed_as_a_whole():
    model = ExplorerModel()
    assert model.open(group_key(Path("nowhere"))) == (False, None)
    group = group_entry("fig-parity")
    model.groups.append(group)
    shown, notice = model.open(group.key, replay=True)
    assert not shown and notice.startswith("A group is not replayed as a whole")
    assert model.open(group.key) == (True, "fig-parity: none of its runs has a record to show")
    assert model.shown_group is group

    entry = run_entry("r1", RunStatus.COMPLETED, live=False)
    model.entries.append(entry)
    assert model.toggle_compare("r1") == "r1: overlaid on the plots"
    assert model.toggle_compare("r1") == "r1: taken out of the comparison"
    assert model.toggle_compare("nothing") is None


@sync
async def test_the_app_is_the_host_its_helpers_are_typed_against(tmp_path):
    app, _ = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert isinstance(app, ExplorerHost)  # every member the listener, redraws and live controls use
