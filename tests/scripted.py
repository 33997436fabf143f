"""A stand-in engine that replays a fixed script: for the TUI's tests, snapshots and demos.

It speaks engine.client.EngineProcess's interface (start, send, get, alive, close, pid), so the
app cannot tell it from the real engine process (harlequin's habit: the backend is passed in).
Nothing here is random and nothing depends on the clock: event times `t` are steps / `rate`, so
the status line's steps/s and elapsed time come out the same on every machine.

What a run does is set by a `Script`: how far it runs at once (`hold_at`), and how it ends
("complete", "hold" until stopped, "fail", "diverge", or "die", which kills the engine).
`Engines` is the engine factory every test hands to a Conductor or to the explorer.
`demo_families()` and `demo_presets()` are two made-up families, fixed here so that the
snapshot tests do not change whenever a real family gains a setting.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.client import EngineExited, EventQueue
from engine.config import BaseConfig, knob
from engine.events import (
    EngineReady,
    Event,
    Metrics,
    RunFinished,
    RunStarted,
    SettingChanged,
    Snapshot,
    StatusChanged,
)
from engine.groups import GroupPreset
from engine.presets import Preset
from engine.registry import FamilySpec, MetricSpec

ENDINGS = ("complete", "hold", "fail", "diverge", "die")


@dataclass
class Script:
    end: str = "complete"
    hold_at: int | None = None  # run this far at once; None: to the end (or half way, for "hold")
    every: int | None = None  # steps between metric events; None: total / 40
    rate: float = 1000.0  # steps per second, for the events' times
    message: str = "injected failure"
    snapshots: list[tuple[str, str, dict]] = field(default_factory=list)  # (name, kind, data)
    device_name: str = "cpu (scripted)"  # as the real engine names it: "cpu (1 thread)", a GPU's name


def metric_value(name: str, panel: str, step: int, total: int, variant: int) -> float:
    """A smooth, deterministic curve per metric and run: accuracies rise, losses fall, the rest wave."""
    x = step / max(total, 1)
    phase = (zlib.crc32(name.encode()) % 100) / 100 + (variant % 100) / 100
    if "acc" in name or "acc" in panel:
        return round(0.5 + 0.45 * (1 - math.exp(-4 * x)) + 0.02 * math.sin(40 * x + phase), 6)
    if "loss" in name or "loss" in panel:
        return round((1 + phase) * math.exp(-3 * x) + 0.05 + 0.01 * math.sin(35 * x + phase), 6)
    return round(1 + math.sin(6 * x + phase), 6)


class ScriptedEngine:
    def __init__(
        self,
        families: dict[str, FamilySpec],
        script: Script | Callable[[dict], Script] | None = None,
        ready: bool = True,
    ):
        self.families = families
        self.script = script or Script()
        self.ready = ready
        self.events = EventQueue()  # as the real engines': the conductor's one wait covers it
        self.sent: list[dict[str, Any]] = []  # every command, for tests to inspect
        self.pid = None
        self._alive = False
        self._run: dict[str, Any] | None = None

    def start(self) -> ScriptedEngine:
        self._alive = True
        if self.ready:
            self.announce()
        return self

    def announce(self) -> None:
        """Say the engine is ready (tests that check the 'engine loading' state call this later)."""
        self.events.put(EngineReady(run_id="", t=0.0, torch_version="scripted", cuda=False, devices=["cpu"]))

    def alive(self) -> bool:
        return self._alive

    def get(self, timeout: float | None = None) -> Event | EngineExited | None:
        return self.events.take(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if self._alive:
            self._alive = False
            if self._run is not None:
                self._finish("interrupted", "the parent has gone")
            self.events.put(EngineExited(0, ""))

    def send(self, cmd: str, **fields: Any) -> bool:
        if not self._alive:
            return False
        self.sent.append({"cmd": cmd, **fields})
        run = self._run
        if cmd == "start" and "run_ids" in fields:  # seeds as lanes: each lane runs the script in turn
            self._held = []
            for run_id, seed in zip(fields["run_ids"], fields["seeds"]):
                if not self._alive:
                    break  # a lane that "died" took the engine down
                self._start({**fields, "run_id": run_id, "seed": seed})
                if self._run is not None:  # held: stopped with the others
                    self._held.append(self._run)
                    self._run = None
            self._run = self._held.pop() if self._held else None
        elif cmd == "start":
            self._start(fields)
        elif cmd == "pause" and run and run["status"] == "running":
            run["status"] = "paused"
            self._put(StatusChanged(run_id=run["id"], t=self._t(), step=run["step"], status="paused"))
        elif cmd == "resume" and run and run["status"] == "paused":
            run["status"] = "running"
            self._put(StatusChanged(run_id=run["id"], t=self._t(), step=run["step"], status="running"))
            self._advance(min(run["total"], run["step"] + 3 * run["every"]))
        elif cmd == "step" and run and run["status"] == "paused":
            self._put(StatusChanged(run_id=run["id"], t=self._t(), step=run["step"], status="running"))
            self._advance(min(run["total"], run["step"] + int(fields.get("steps", 1))))
            self._put(StatusChanged(run_id=run["id"], t=self._t(), step=run["step"], status="paused"))
        elif cmd == "change" and run:
            key, value = fields["key"], fields["value"]
            old, run["config"][key] = run["config"].get(key), value
            self._put(SettingChanged(run_id=run["id"], t=self._t(), step=run["step"], setting=key, old=old, new=value))
        elif cmd == "stop" and run:
            for held in [*getattr(self, "_held", []), run]:
                self._run, reason = held, fields.get("reason", "stopped")
                self._finish(reason, f"{reason} at step {held['step']}")
            self._held = []
        elif cmd == "quit":
            self.close()
        return True

    # -- a run ------------------------------------------------------------------------------
    def _start(self, cmd: dict[str, Any]) -> None:
        if "run_ids" in cmd:  # seeds trained together: here, each lane's run in turn (scripts that complete)
            single = {k: v for k, v in cmd.items() if k not in ("run_ids", "seeds")}
            for run_id, seed in zip(cmd["run_ids"], cmd["seeds"], strict=True):
                self._start({**single, "run_id": run_id, "seed": seed})
            return
        script = self.script(cmd) if callable(self.script) else self.script
        spec = self.families[cmd["family"]]
        total = int(cmd["config"].get("steps", 1000))
        every = script.every or max(1, total // 40)
        # The same config and seed give the same curves, as they would in the real engine.
        variant = zlib.crc32(json.dumps([cmd["config"], cmd.get("seed", 0)], sort_keys=True).encode())
        self._run = run = {
            "id": cmd["run_id"],
            "spec": spec,
            "total": total,
            "every": every,
            "step": 0,
            "status": "running",
            "script": script,
            "seed": int(cmd.get("seed", 0)),
            "variant": variant,
            "config": dict(cmd["config"]),
        }
        self._put(
            RunStarted(
                run_id=run["id"],
                t=0.0,
                family=spec.name,
                config=cmd["config"],
                seed=run["seed"],
                device="cpu",
                device_name=script.device_name,
                total_steps=total,
                preset=cmd.get("preset"),
                versions={"gradfail": "scripted"},
            )
        )
        self._metrics(0)
        if script.end == "hold":
            self._advance(script.hold_at if script.hold_at is not None else total // 2)
            return
        self._advance(script.hold_at if script.hold_at is not None else total)
        if script.end == "complete":
            self._advance(total)
            self._finish("completed", "")
        elif script.end == "fail":
            self._finish("failed", script.message, "crash")
        elif script.end == "diverge":
            self._finish("diverged", f"the training loss became NaN or infinite at step {run['step']}", "nan")
        elif script.end == "die":
            self._run = None
            self._alive = False
            self.events.put(EngineExited(17, f"RuntimeError: {script.message}"))

    def _advance(self, upto: int) -> None:
        run = self._run
        step = run["step"]
        while step < upto:
            step = min(upto, step + run["every"])
            self._metrics(step)
        for name, kind, data in run["script"].snapshots:
            self._put(Snapshot(run_id=run["id"], t=self._t(), step=run["step"], name=name, kind=kind, data=data))

    def _metrics(self, step: int) -> None:
        run = self._run
        run["step"] = step
        values = {
            m.name: metric_value(m.name, m.panel, step, run["total"], run["variant"]) for m in run["spec"].metrics
        }
        self._put(Metrics(run_id=run["id"], t=self._t(), step=step, values=values))

    def _finish(self, status: str, message: str, error_kind: str = "") -> None:
        run = self._run
        self._put(
            RunFinished(
                run_id=run["id"], t=self._t(), step=run["step"], status=status, message=message, error_kind=error_kind
            )
        )
        self._run = None

    def _t(self) -> float:
        run = self._run
        return round(0.5 + run["step"] / run["script"].rate, 6)

    def _put(self, event: Event) -> None:
        self.events.put(event)


class Engines:
    """An engine factory, as a Conductor or the explorer calls one for each engine it starts: it makes
    ScriptedEngines for `families` (default: the demo families) and keeps them (`made`, `last`).

    `scripts` go to the engines in the order they are made, the last one to every engine after it
    (none given: `Script()`); a script may also be a function of the start command, choosing per
    batch (or per lane). `by_seed` instead chooses each run's script by its seed (`Script()` for a
    seed it does not name). `ready=False` makes engines that do not say they are ready until told
    (`ScriptedEngine.announce`).
    """

    def __init__(
        self,
        *scripts: Script | Callable[[dict], Script],
        families: dict[str, FamilySpec] | None = None,
        by_seed: dict[int, Script] | None = None,
        ready: bool = True,
    ):
        if by_seed is not None:
            assert not scripts, "give scripts in order or by seed, not both"
            scripts = (lambda cmd: by_seed.get(cmd.get("seed"), Script()),)
        self.scripts = list(scripts) or [Script()]
        self.families = demo_families() if families is None else families
        self.ready = ready
        self.made: list[ScriptedEngine] = []

    def __call__(self) -> ScriptedEngine:
        script = self.scripts[min(len(self.made), len(self.scripts) - 1)]
        self.made.append(ScriptedEngine(self.families, script, ready=self.ready))
        return self.made[-1]

    @property
    def last(self) -> ScriptedEngine:
        return self.made[-1]


# -- made-up families for tests and demos ----------------------------------------------------
@dataclass(frozen=True)
class DemoConfig(BaseConfig):
    width: int = knob(8, "hidden width", low=1, high=1024)
    lr: float = knob(0.1, "learning rate", low=0, low_open=True)
    optimizer: str = knob("sgd", "optimizer", choices=("sgd", "adam"))
    steps: int = knob(400, "training steps", low=1, high=10**9)
    eval_every: int = knob(20, "evaluate every this many steps", low=1)

    def problems(self) -> list[str]:
        if self.optimizer == "adam" and self.lr > 0.01:
            return [f"lr: got {self.lr:g}, expected <= 0.01 with optimizer = adam"]
        return []


@dataclass(frozen=True)
class SweepConfig(BaseConfig):
    k_max: int = knob(4, "largest k measured", low=1, high=8)
    samples: int = knob(1000, "samples per estimate", low=10)
    steps: int = knob(4, "one step per sweep point", low=1)
    eval_every: int = knob(1, "measure every step", low=1)


DEMO = FamilySpec(
    name="demo",
    title="Demo (scripted)",
    claim="a made-up family whose runs are scripted: accuracy rises, loss falls",
    paper_ref="none",
    config_cls=DemoConfig,
    trainer="tests.scripted:NoTrainer",
    metrics=(
        MetricSpec("test_acc", "test accuracy", "accuracy"),
        MetricSpec("train_loss", "train loss", "loss", log_scale=True),
        MetricSpec("test_loss", "test loss", "loss", log_scale=True),
    ),
    headline=("test_acc",),
    live=("lr",),
)
SWEEP = FamilySpec(
    name="sweep",
    title="Sweep (scripted)",
    claim="a made-up measurement: one value per sweep point",
    paper_ref="none",
    config_cls=SweepConfig,
    trainer="tests.scripted:NoTrainer",
    metrics=(MetricSpec("snr", "signal to noise", "snr", log_scale=True),),
)


def demo_families() -> dict[str, FamilySpec]:
    return {"demo": DEMO, "sweep": SWEEP}


def demo_presets() -> list[Preset]:
    return [
        Preset(
            name="demo-wide",
            path=Path("demo-wide.toml"),
            family="demo",
            description="a wider demo network",
            paper="nothing: it is made up",
            seed=3,
            values={"width": 64},
        ),
        Preset(
            name="demo-adam",
            path=Path("demo-adam.toml"),
            family="demo",
            description="the demo with Adam",
            paper="",
            seed=None,
            values={"optimizer": "adam", "lr": 0.001},
        ),
    ]


def demo_snapshots() -> list[tuple[str, str, dict]]:
    """One snapshot of each kind, the way a family would send them."""
    xs = [i / 10 for i in range(31)]
    ring = [[1 if 2 <= abs(x - 5) + abs(y - 5) <= 4 else 0 for x in range(11)] for y in range(11)]
    cross = [[1 if x == y or x + y == 10 else 0 for x in range(11)] for y in range(11)]
    return [
        (
            "curve",
            "lines",
            {
                "title": "decoded curve",
                "x_label": "x",
                "y_label": "f(x)",
                "series": [
                    {"label": "target", "x": xs, "y": [abs(x - 1.5) for x in xs]},
                    {"label": "learned", "x": xs, "y": [abs(x - 1.5) * 0.8 + 0.1 for x in xs]},
                ],
            },
        ),
        (
            "digits",
            "images",
            {"title": "inputs", "images": [{"label": "ring", "pixels": ring}, {"label": "cross", "pixels": cross}]},
        ),
        (
            "per_k",
            "table",
            {
                "title": "SNR by k",
                "columns": ["k", "end-to-end", "decomposition"],
                "rows": [[1, 0.31, 0.52], [2, 0.0042, 0.5], [3, 1.2e-07, 0.49]],
            },
        ),
    ]


def demo_group(tmp_path: Path, runs: list[dict[str, Any]], claims) -> GroupPreset:
    """A group preset of the demo family's runs (`runs`: its [[runs]] tables) with these claims, as if
    read from tmp_path/fig-demo.toml: for the tests of groups, audits and the paper."""
    return GroupPreset(
        name="fig-demo",
        path=tmp_path / "fig-demo.toml",
        title="Demo figure",
        description="",
        paper="",
        plot=("test_acc",),
        log_y=False,
        runs=tuple(runs),
        claims=tuple(claims),
    )


def conduct_to_end(job, engines: Engines, workers: int = 2):
    """Train `job` to its end on `workers` scripted engines (a death policy that tolerates the scripts'
    deaths) and close them; returns the conductor."""
    from engine.orchestration import Conductor, RestartPolicy

    conductor = Conductor(engines, engines=workers, policy=RestartPolicy(max_deaths=10)).start()
    conductor.submit(job)
    conductor.run()
    conductor.close()
    return conductor
