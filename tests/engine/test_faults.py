"""Faults inside the engine: an exception in a family's diagnostic, through the worker's own run function.

(The same faults seen from `gradfail run`: tests/cli/test_faults.py.)
"""

import pytest

# A real diagnostic of each family that has one, broken from the inside: where the family calls it,
# and the first step at which it runs with the config below (the training families' measure at 0).
DIAGNOSTICS = {
    "parity": (
        "engine.families.parity.trainer",
        "parity_target_variance",
        "evaluate",
        0,
        {"d": 4, "steps": 40, "eval_every": 10, "variance_every": 20},
    ),
    "periodic": (
        "engine.families.periodic.trainer",
        "periodic_target_variance",
        "evaluate",
        0,
        {
            "d": 3,
            "batch": 8,
            "eval_samples": 16,
            "variance_every": 20,
            "variance_directions": 4,
            "variance_samples": 16,
            "steps": 40,
            "eval_every": 10,
        },
    ),
    "flat": (
        "engine.families.flat.trainer",
        "ForwardLearner.flatness",
        "evaluate",
        0,
        {"learner": "forward", "d": 4, "batch": 8, "eval_samples": 16, "steps": 40, "eval_every": 10},
    ),
    "pwl": (
        "engine.diagnostics.conditioning",
        "format_cond",
        "snapshots",
        0,
        {"trainer": "conv", "n": 9, "train_size": 16, "val_size": 4, "batch": 4, "steps": 40, "eval_every": 10},
    ),
    "tuples": (
        "engine.families.tuples.trainer",
        "measure_snr",
        "evaluate",
        0,
        {
            "k": 1,
            "batch": 4,
            "eval_samples": 8,
            "snr_every": 20,
            "snr_samples": 16,
            "show_tuples": 0,
            "steps": 40,
            "eval_every": 10,
        },
    ),
    "tuple_snr": (
        "engine.families.tuple_snr.trainer",
        "measure_snr",
        "train_step",
        1,
        {"k_max": 1, "samples": 16, "steps": 2},
    ),
    "pwl_condition": (
        "engine.diagnostics.conditioning",
        "condition_number",
        "train_step",
        1,
        {"n_min": 10, "n_step": 10, "steps": 3},
    ),
}


@pytest.mark.parametrize("family", list(DIAGNOSTICS))
def test_an_exception_in_a_diagnostic_names_the_family_phase_and_step(family, monkeypatch):
    """In-process through the worker's own run function: the run fails with one clear line, its
    traceback is kept for the record, and the engine is ready for the next run."""
    import importlib

    from engine.loop import Control
    from engine.worker import run_one

    module_name, function, phase, step, config = DIAGNOSTICS[family]
    owner_path, _, name = f"{module_name}.{function}".rpartition(".")
    owner = importlib.import_module(module_name)
    for part in owner_path[len(module_name) + 1 :].split(".") if owner_path != module_name else []:
        owner = getattr(owner, part)
    assert callable(getattr(owner, name))  # the diagnostic is still called this

    def broken(*args, **kwargs):
        raise ValueError("injected: the diagnostic broke")

    monkeypatch.setattr(owner, name, broken)
    events = []
    (finished,) = run_one(
        {"run_id": "r", "family": family, "config": config, "seed": 0, "device": "cpu"}, events.append, Control(), {}
    )
    assert (finished.status, finished.error_kind, finished.step) == ("failed", "crash", step), finished
    assert finished.message == (f"{family}: ValueError in {phase} at step {step}: injected: the diagnostic broke")
    assert "injected: the diagnostic broke" in finished.traceback  # kept for whoever debugs it
    assert events and events[0].TYPE == "run_started"  # what came before is there to be recorded
    monkeypatch.undo()
    (again,) = run_one(
        {"run_id": "r2", "family": family, "config": config, "seed": 0, "device": "cpu"}, [].append, Control(), {}
    )
    assert again.status == "completed", again
