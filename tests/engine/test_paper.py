"""The whole paper as one job (`gradfail run --preset paper`): its groups in order into one directory,
paper.json with each result's verdict and the summary, over scripted engines; and reading it back."""

from __future__ import annotations

import dataclasses
import json

import pytest

from engine import paper
from engine.config import ConfigError
from engine.orchestration.paper import PaperRun
from engine.record import claim_run_dir, read_group
from engine.status import RunStatus
from tests.engine.test_orchestration import Engines, conductor, demo_group, members
from tests.scripted import Script


def demo_paper(tmp_path, names=("fig-one", "fig-two", "fig-three")):
    return [(dataclasses.replace(demo_group(tmp_path, ("a", "b")), name=name), members(("a", "b"))) for name in names]


def test_the_paper_runs_its_groups_in_order_into_one_directory_with_a_verdict_each(tmp_path):
    scripts = iter([Script(), Script(), Script(end="fail", message="bad luck"), Script(), Script(), Script()])
    c, heard = conductor(Engines(lambda cmd: next(scripts)))
    job = c.submit(PaperRun(demo_paper(tmp_path), "default", "cpu", claim_run_dir(tmp_path / "p")))
    c.run()
    c.close()
    manifest = json.loads((tmp_path / "p" / paper.MANIFEST).read_text())
    assert [r["dir"] for r in manifest["results"]] == ["01-fig-one", "02-fig-two", "03-fig-three"]
    assert [r["outcome"] for r in manifest["results"]] == ["reproduced", "incomplete", "reproduced"]
    assert manifest["outcome"] == "incomplete" and manifest["summary"] == "3 results: 2 reproduced, 1 incomplete"
    assert manifest["status"] == "failed" and job.status == RunStatus.FAILED  # the worst run's ending
    # Each result's directory is a group record as `gradfail run --preset fig-...` writes it.
    assert [label for label, _ in read_group(tmp_path / "p" / "02-fig-two").runs] == ["a", "b"]
    assert heard.lines[:6] == ["a completed", "b completed", "a failed", "b completed", "a completed", "b completed"]
    assert len(job.lives) == 6


def test_a_stopped_paper_closes_the_group_in_flight_and_marks_the_rest_not_run(tmp_path):
    scripts = iter([Script(), Script(end="hold")])
    c, _ = conductor(Engines(lambda cmd: next(scripts)))
    job = c.submit(PaperRun(demo_paper(tmp_path), "default", "cpu", claim_run_dir(tmp_path / "p")))
    for _ in range(20):
        c.pump(0.02)
    c.stop_job(job)
    c.run()
    c.close()
    manifest = json.loads((tmp_path / "p" / paper.MANIFEST).read_text())
    assert [r["status"] for r in manifest["results"]] == ["stopped", "not run", "not run"]
    assert manifest["status"] == "stopped" and manifest["outcome"] == "incomplete"
    group = json.loads((tmp_path / "p" / "01-fig-one" / "group.json").read_text())
    assert [r["status"] for r in group["runs"]] == ["completed", "stopped"]
    assert not (tmp_path / "p" / "02-fig-two").exists()


def test_an_interrupted_paper_is_recorded_interrupted(tmp_path):
    c, _ = conductor(Engines(Script(end="hold")))
    job = c.submit(PaperRun(demo_paper(tmp_path), "default", "cpu", claim_run_dir(tmp_path / "p")))
    for _ in range(5):
        c.pump(0.02)
    c.shutdown(RunStatus.INTERRUPTED)
    manifest = json.loads((tmp_path / "p" / paper.MANIFEST).read_text())
    assert manifest["status"] == "interrupted" and job.status == RunStatus.INTERRUPTED
    assert manifest["results"][0]["status"] == "interrupted"


def test_every_result_of_the_paper_resolves_in_the_papers_order():
    groups = paper.load_groups()
    assert [g.name for g, _ in groups] == [r.preset for r in paper.RESULTS]
    assert [r.heading.split(":")[0] for r in paper.RESULTS] == [
        "Figure 1",
        "Section 2",
        "Theorem 1",
        "Theorem 2",
        "Figure 3",
        "Figure 4",
        "Figure 5",
        "Figure 6 and Theorem 3",
        "Figure 7",
    ]
    assert all(r.question and r.claim and r.why for r in paper.RESULTS)
    quick = paper.load_groups(overrides={"steps": "15"})
    assert all(m.config.steps == 15 for _, ms in quick for m in ms if "steps" in m.config.__dataclass_fields__)
    with pytest.raises(ConfigError, match="nope: no run of the paper has this setting"):
        paper.load_groups(overrides={"nope": "1"})


def test_a_missing_or_damaged_paper_manifest_is_named_and_the_results_found_by_directory(tmp_path):
    (tmp_path / "01-fig-parity").mkdir()
    read = paper.read_paper(tmp_path)
    assert read.problems == [f"{tmp_path / paper.MANIFEST}: missing"]
    assert read.entry("fig-parity")["dir"] == "01-fig-parity" and read.entry("fig-flat")["dir"] == ""
    (tmp_path / paper.MANIFEST).write_text("{not json")
    assert "cannot be read" in paper.read_paper(tmp_path).problems[0]


def test_the_paper_command_refuses_bad_input_and_lists_the_results(tmp_path):
    from tests.conftest import gradfail

    result = gradfail("run", "--preset", "paper", "--seeds", "2", cwd=tmp_path)
    assert result.returncode == 2 and "--seeds 2: the paper runs each run once" in result.stderr
    result = gradfail("run", "--preset", "paper", "--set", "nope=1", cwd=tmp_path)
    assert result.returncode == 2 and "nope: no run of the paper has this setting" in result.stderr
    result = gradfail("run", "--preset", "paper", "--scale", "huge", cwd=tmp_path)
    assert result.returncode == 2 and "--scale huge" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("runs/*"))  # nothing recorded for a refused command
    shown = gradfail("presets", "show", "paper", cwd=tmp_path)
    assert shown.returncode == 0 and all(r.preset in shown.stdout for r in paper.RESULTS)


def test_a_report_of_the_paper_has_its_summary_judged_again_and_a_section_per_result(tmp_path):
    from tests.conftest import gradfail
    from tests.talk.decks import write_deck

    deck = write_deck(tmp_path / "deck", skip=("fig-snr",))
    result = gradfail("report", str(deck), "-o", "paper.md", cwd=tmp_path, GRADFAIL_FAMILY_MODULES="")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    text = (tmp_path / "paper.md").read_text()
    assert "**Verdict: incomplete** (9 results: 8 reproduced, 1 incomplete)" in text
    assert "| Figure 5: signal-to-noise ratio | `fig-snr` | **incomplete** |" in text
    assert "no record of its runs (not run)" in text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert len(headings) == len(paper.RESULTS) and headings[0].startswith("## Figure 1")


def test_a_scale_only_some_results_have_runs_the_others_at_their_default():
    groups = dict((group.name, members) for group, members in paper.load_groups("cpu"))
    tuples = [m for m in groups["fig-tuples"] if m.of == "k = 2, end-to-end"]
    assert [(m.seed, m.config.batch, m.config.steps) for m in tuples] == [(s, 200, 2000) for s in range(20)]
    default = dict((group.name, members) for group, members in paper.load_groups())
    assert groups["fig-parity"] == default["fig-parity"]
    with pytest.raises(paper.GroupError, match="--scale huge: no result of the paper has this scale"):
        paper.load_groups("huge")
