"""`gradfail report`: a Markdown report with SVG figures, from recorded runs and groups alone.

One group preset (fig-parity, cut to 4,000 steps: about 10 s) is run once through the real CLI and
reported, whole, damaged and cut short; the other cases use records written by RunRecorder.
"""

import json
import re
import shutil
import xml.etree.ElementTree as ElementTree

import pytest
from typer.testing import CliRunner

from engine.catalog import load_preset
from engine.events import Metrics, RunFinished, RunStarted, Snapshot
from engine.record import RunRecorder
from gradfail_tui.cli import app
from gradfail_tui.explorer.entries import load_recorded_group
from gradfail_tui.render.format import format_value
from tests.conftest import gradfail, read_events

VERDICT_LINE = re.compile(r"^\*\*Verdict: (reproduced|not reproduced|incomplete)\*\*", re.M)


@pytest.fixture(scope="module")
def recorded_group(tmp_path_factory):
    base = tmp_path_factory.mktemp("group")
    result = gradfail("run", "--preset", "fig-parity", "--steps", "4000", "--out", "fig", cwd=base, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return base / "fig"


def report(*args, cwd):
    # No test family: it imports torch, which `gradfail report` never needs (5 s of each call here).
    result = gradfail("report", *args, cwd=cwd, GRADFAIL_FAMILY_MODULES="")
    assert "Traceback" not in result.stderr, result.stderr
    return result


def assert_svg(path):
    text = path.read_text()
    root = ElementTree.fromstring(text)  # well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and "<text" in text


def test_a_group_report_has_its_figure_verdict_claims_and_numbers(recorded_group, tmp_path):
    result = report(str(recorded_group), "-o", "out/report.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "report.md").read_text()
    figure = tmp_path / "out" / "report_files" / "01-figure-1-terminal.svg"  # the declared figure, as the terminal
    assert_svg(figure)
    assert "](report_files/01-figure-1-terminal.svg)" in text

    manifest = json.loads((recorded_group / "group.json").read_text())
    verdicts = VERDICT_LINE.findall(text)
    assert verdicts == [manifest["verdict"]["outcome"]]  # judged again from the records: the same
    assert "audited:" not in text  # run with --steps 4000: not the setup whose seeds were audited
    for claim, stated in zip(manifest["verdict"]["claims"], manifest["claims"], strict=True):
        cited = f" (the paper: {stated['paper']})" if stated.get("paper") else ""  # one line per claim, cited
        assert f"| {claim['says']}{cited} | **{claim['outcome']}** | {claim['detail']} |" in text
    for run in manifest["runs"]:
        accuracy = [
            (e["step"], e["values"]["test_acc"])
            for e in read_events(recorded_group / run["dir"])
            if e["type"] == "metrics" and "test_acc" in e["values"]
        ]
        step, last = accuracy[-1]
        low, high = min(v for _, v in accuracy), max(v for _, v in accuracy)
        assert (
            f"| {run['label']} | `test_acc` | {format_value(last)} | {step:,} | {format_value(low)} "
            f"| {format_value(high)} |"
        ) in text
        assert f"| {run['label']} | parity ({run['preset']}) | completed | 4,000 / 4,000 |" in text
    assert manifest["paper"] in text
    assert "`steps = 4000`, `d = 5`" in text  # what differs from the family's defaults
    assert re.search(r"gradfail \S+ · python \S+ · torch \S+ · device cpu", text)
    assert "Problems with the record" not in text


def svg_text(path):
    """Every text of an SVG, in order, its whitespace dropped (a title may wrap; Rich writes spaces as &#160;)."""
    return "".join("".join(ElementTree.parse(path).getroot().itertext()).split())


def assert_names_the_figure(path, figure):
    """The SVG at `path` shows the declared figure's title, both axes' names and every series' name."""
    text = svg_text(path)
    for name in [figure.title, figure.x.name, figure.y.name, *(s.name for s in figure.series)]:
        assert "".join(name.split()) in text, (name, path.name)


def test_a_group_report_draws_the_figure_its_preset_declares(recorded_group, tmp_path):
    result = report(str(recorded_group), "-o", "report.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    figure = load_preset("fig-parity").figure
    assert figure.name == "figure-1" and figure.declared
    assert_names_the_figure(tmp_path / "report_files" / "01-figure-1-terminal.svg", figure)
    text = (tmp_path / "report.md").read_text()
    assert f"![{figure.title}](report_files/01-figure-1" in text
    assert not list((tmp_path / "report_files").glob("*test_acc*"))  # the declared figure, not the metric overlay


def test_a_damaged_group_is_reported_with_its_problems_named(recorded_group, tmp_path):
    group = tmp_path / "damaged"
    shutil.copytree(recorded_group, group)
    (group / "group.json").unlink()
    events = group / "03-d-30" / "events.jsonl"
    text = events.read_text()
    events.write_text(text[: len(text) // 2])  # cut in the middle of a line
    result = report("damaged", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "group.json: missing" in result.stderr and "events.jsonl line" in result.stderr
    report_text = (tmp_path / "report.md").read_text()
    assert VERDICT_LINE.findall(report_text) == ["incomplete"]  # the claims were in group.json
    assert "### Problems with the record" in report_text
    assert "group.json: missing" in report_text and "03-d-30: events.jsonl line" in report_text
    assert "| 03-d-30 | `test_acc` |" in report_text  # what the cut record still holds is reported
    assert_svg(tmp_path / "report_files" / "01-01-d-5-figure.svg")


def test_a_group_cut_short_is_incomplete(recorded_group, tmp_path):
    group = tmp_path / "cut"
    shutil.copytree(recorded_group, group)
    shutil.rmtree(group / "03-d-30")
    manifest = json.loads((group / "group.json").read_text())
    manifest["status"] = "interrupted"
    manifest["runs"][2] = {**manifest["runs"][2], "status": "not run"}
    del manifest["runs"][2]["dir"]
    (group / "group.json").write_text(json.dumps(manifest))
    result = report("cut", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "report.md").read_text()
    assert VERDICT_LINE.findall(text) == ["incomplete"]
    assert "| **incomplete** | d = 30 did not run |" in text
    assert "| d = 30 |  | not run | - | - |  |" in text
    assert f'the verdict recorded was "{manifest["verdict"]["outcome"]}"' in text


def test_claims_edited_by_hand_are_named_not_judged(recorded_group, tmp_path):
    group = tmp_path / "edited"
    shutil.copytree(recorded_group, group)
    manifest = json.loads((group / "group.json").read_text())
    manifest["claims"][0] = {**manifest["claims"][0], "stat": "mode"}
    manifest["claims"].append({**manifest["claims"][0], "stat": "last", "runs": []})
    (group / "group.json").write_text(json.dumps(manifest))
    result = report("edited", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "report.md").read_text()
    assert VERDICT_LINE.findall(text) == ["incomplete"]
    assert "cannot be judged" in text and "stat: got 'mode'" in text and "runs: names no run" in text
    # The explorer opens it too: its runs, no verdict, and what is wrong among its problems.
    entry = load_recorded_group(group)
    assert entry.verdict is None and len(entry.keys) == 3
    assert any("stat: got 'mode'" in problem for problem in entry.problems)


def test_a_single_run_report(recorded_group, tmp_path):
    result = report(str(recorded_group / "01-d-5"), "-o", "one.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "one.md").read_text()
    assert text.count("\n## ") == 1 and "## parity5 (Random parities)" in text
    assert "**Verdict:** no claim checked" in text
    assert_svg(tmp_path / "one_files" / "01-parity5-figure.svg")
    last = [e for e in read_events(recorded_group / "01-d-5") if e["type"] == "metrics" and "test_acc" in e["values"]][
        -1
    ]
    assert f"| parity5 | `test_acc` | {format_value(last['values']['test_acc'])} | {last['step']:,} |" in text


def write_pwl_run(path, snapshots=9):
    """A record with the three kinds of picture: decoded curves every 10 steps, a table, images."""
    path.mkdir(parents=True)
    recorder = RunRecorder(
        path, {"run_id": "p", "family": "pwl", "preset": None, "config": {}, "seed": 0, "device": "cpu"}
    )
    recorder.append(
        RunStarted(
            run_id="p",
            t=0.1,
            family="pwl",
            config={"steps": 80},
            seed=0,
            device="cpu",
            device_name="cpu (1 thread)",
            total_steps=80,
        )
    )
    for n in range(snapshots):
        step = 10 * n
        recorder.append(Metrics(run_id="p", t=0.1 + n, step=step, values={"val_loss": 1 / (1 + step)}))
        recorder.append(
            Snapshot(
                run_id="p",
                t=0.1 + n,
                step=step,
                name="curves",
                kind="lines",
                data={
                    "title": f"decoded curves, step {step}",
                    "x_label": "x",
                    "series": [
                        {"label": "original", "x": [0, 1, 2], "y": [0, 1, 0]},
                        {"label": "decoded", "x": [0, 1, 2], "y": [0, 1 - 1 / (1 + step), 0]},
                    ],
                },
            )
        )
    recorder.append(
        Snapshot(
            run_id="p",
            t=9,
            step=80,
            name="conditioning",
            kind="table",
            data={"title": "conditioning", "columns": ["quantity", "value"], "rows": [["cond", 1.0295], ["a|b", "x"]]},
        )
    )
    recorder.append(
        Snapshot(
            run_id="p",
            t=9,
            step=80,
            name="inputs",
            kind="images",
            data={"title": "inputs", "images": [{"label": "ring", "pixels": [[0, 1, 0], [1, 0, 1]]}]},
        )
    )
    recorder.append(RunFinished(run_id="p", t=9.5, step=80, status="completed"))
    recorder.finish("completed", step=80)
    return path


def test_pictures_lines_at_three_moments_tables_and_images(tmp_path):
    write_pwl_run(tmp_path / "pwl")
    result = report("pwl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "report.md").read_text()
    assert "At the first recorded (step 0), middle recorded (step 40), last recorded (step 80):" in text
    for moment in ("first", "middle", "last"):
        assert_svg(tmp_path / "report_files" / f"01-pwl-curves-{moment}.svg")
        assert f"](report_files/01-pwl-curves-{moment}.svg)" in text
    assert "| quantity | value |\n|---|---|\n| cond | 1.0295 |\n| a\\|b | x |" in text
    assert_svg(tmp_path / "report_files" / "01-pwl-inputs.svg")


def test_several_directories_make_one_report_and_nothing_is_overwritten(recorded_group, tmp_path):
    write_pwl_run(tmp_path / "pwl")
    first = report(str(recorded_group), "pwl", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    text = (tmp_path / "report.md").read_text()
    assert text.count("\n## ") == 2 and len(VERDICT_LINE.findall(text)) == 1
    assert (tmp_path / "report_files" / "02-pwl-curves-first.svg").is_file()

    again = report("pwl", cwd=tmp_path)
    assert again.returncode == 2 and "report.md: exists; give --force" in again.stderr
    assert (tmp_path / "report.md").read_text() == text
    forced = report("pwl", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert not (tmp_path / "report_files" / "01-test_acc.svg").exists()  # the old report's figures are gone
    assert (tmp_path / "report_files" / "01-pwl-curves-first.svg").is_file()


def test_bad_input_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # in-process: these never get as far as reading a record
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    for args, message in [
        (("missing",), "missing: no such directory"),
        (("empty",), "empty: not a run record"),
        (("file.txt",), "file.txt: not a directory"),
        (("empty", "-o", "empty"), "-o empty: is a directory"),
    ]:
        result = CliRunner().invoke(app, ["report", *args])
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "report.md").exists()
    assert CliRunner().invoke(app, ["report"]).exit_code == 2  # no directory given: usage, not a traceback
