"""`gradfail audit` as a person runs it: a tiny group over seed blocks, its report, a failed block and
--resume, bad input refused before anything runs, and Ctrl-C. The groups are tiny TOML files of the
faulty test family (tests/faulty_family.py), so each command takes seconds."""

from __future__ import annotations

import io
import json
import signal
import time

import pytest

from tests.cli.test_sweep import assert_nothing_left
from tests.conftest import gradfail, processes_with_env, read_manifest, start_gradfail

CLAIMS = (
    '[[claims]]\nsays = "a ends above zero"\nruns = ["a"]\nmetric = "test_acc"\nat_least = 0.0\n'
    '[[claims]]\nsays = "b stays below a tenth"\nruns = ["b"]\nmetric = "test_acc"\nat_most = 0.1\n'  # it does not
)


def write_group(tmp_path, b_config="{ steps = 40 }", name="tiny.toml"):
    path = tmp_path / name
    path.write_text(
        'title = "tiny group"\ndescription = "d"\nplot = ["test_acc"]\n'
        '[[runs]]\nlabel = "a"\nfamily = "faulty"\nconfig = { steps = 40 }\n'
        f'[[runs]]\nlabel = "b"\nfamily = "faulty"\nconfig = {b_config}\nseeds = 2\n' + CLAIMS
    )
    return path


def audit_json(path):
    return json.loads((path / "audit.json").read_text())


def test_an_audit_prints_k_of_n_per_claim_exits_0_whatever_the_verdicts_and_reports(tmp_path):
    write_group(tmp_path)
    result = gradfail("audit", "tiny.toml", "--blocks", "3", "--first-seed", "5", "--workers", "2", "--out", "a",
                      cwd=tmp_path)  # fmt: skip
    out = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout + result.stderr  # a claim not reproduced is a finding
    assert "audit: tiny x 3 blocks (3 to run) on 2 local engine processes" in out
    assert "a ends above zero │ 3/3 │ 44% to 100% │ - │" in out
    assert "b stays below a tenth │ 0/3 │ 0% to 56% │ - │" in out
    assert "block 2 (seed 7): completed, not reproduced (reproduced · not reproduced)" in out  # stride 2: b has 2 seeds
    manifest = audit_json(tmp_path / "a")
    assert manifest["status"] == "completed" and manifest["seed_stride"] == 2
    assert [b["seed"] for b in manifest["blocks"]] == [5, 7, 9]
    first = manifest["claims"][0]
    assert (first["reproduced"], first["judged"], first["margin"]["unit"]) == (3, 3, "units")
    group = json.loads((tmp_path / "a" / "block-03" / "group.json").read_text())
    assert [r["seed"] for r in group["runs"]] == [9, 9, 10]  # the block's seeds, b's two of them
    assert group["verdict"] == manifest["blocks"][2]["verdict"]

    report = gradfail("report", "a", "a/block-01", "-o", "r.md", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "r.md").read_text()
    assert "## Audit: tiny group" in text and "| b stays below a tenth | 0/3 | 0% to 56% | - |" in text
    assert "| 2 | 7 | `block-02` | completed | **not reproduced** |" in text
    assert "## tiny group" in text  # block-01 as a group of its own


def test_a_failed_block_exits_1_and_resume_runs_only_the_blocks_that_did_not_finish(tmp_path):
    write_group(tmp_path, b_config='{ fault = "raise", at_step = 20 }')
    result = gradfail("audit", "tiny.toml", "--blocks", "2", "--workers", "2", "--out", "a", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "b stays below a tenth │ 0/0 │ - │ 2 │ -" in out  # incomplete in both blocks: counted apart
    assert "a ends above zero │ 2/2 │" in out  # what ran is judged
    assert "gradfail audit --resume a" in out
    assert [b["status"] for b in audit_json(tmp_path / "a")["blocks"]] == ["failed", "failed"]

    again = gradfail("audit", "--resume", "a", cwd=tmp_path)
    assert again.returncode == 1 and "(2 to run)" in again.stdout  # the same fault fails again
    manifest = audit_json(tmp_path / "a")
    assert [b["dir"] for b in manifest["blocks"]] == ["block-01-r2", "block-02-r2"]
    assert read_manifest(tmp_path / "a" / "block-01" / "01-a")["status"] == "completed"  # the first kept

    smaller = gradfail("audit", "--resume", "a", "--blocks", "1", cwd=tmp_path)
    assert smaller.returncode == 2 and "--blocks 1: the audit has 2 blocks already" in " ".join(smaller.stderr.split())
    grown = gradfail("audit", "--resume", "a", "--blocks", "3", cwd=tmp_path)
    assert "(3 to run)" in grown.stdout  # the two failed blocks again, and a third
    assert [b["seed"] for b in audit_json(tmp_path / "a")["blocks"]] == [0, 2, 4]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["no-such-group", "--blocks", "2"], "no-such-group"),
        (["parity5", "--blocks", "2"], "parity5 is a single-run preset: an audit runs a group preset"),
        (["phase-parity", "--blocks", "2"], "phase-parity is a sweep preset: an audit runs a group preset"),
        (["paper", "--blocks", "2"], "an audit runs one group preset"),
        (["fig-parity", "--blocks", "0"], "--blocks"),
        (["fig-parity"], "--blocks N: how many seed blocks to run"),
        (["fig-parity", "--blocks", "2", "--scale", "huge"], "--scale huge: fig-parity has the scales default, paper"),
        (["fig-parity", "--blocks", "2", "--set", "dd=3"], "dd: no run of fig-parity has this setting"),
        (["--resume", "nowhere"], "audit.json: missing"),
        (["--resume", "nowhere", "--scale", "cpu"], "leave out --scale"),
        ([], "give a group preset"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line_and_records_nothing(tmp_path, args, expected):
    result = (
        gradfail("audit", *args, "--out", "a", cwd=tmp_path)
        if "--resume" not in args
        else gradfail("audit", *args, cwd=tmp_path)
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "runs").exists()


def test_ctrl_c_stops_the_blocks_in_flight_and_leaves_nothing_running(tmp_path):
    write_group(tmp_path, b_config="{ steps = 100000, step_sleep = 0.01 }")
    mark = f"audit-ctrl-c-{time.monotonic_ns()}"  # every process the audit starts inherits it
    proc = start_gradfail("audit", "tiny.toml", "--blocks", "3", "--workers", "2", "--out", "a", cwd=tmp_path,
                          GRADFAIL_TEST_MARK=mark)  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:  # both engines on a block's slow run b, which has recorded metrics
        assert proc.poll() is None, proc.communicate()
        slow = list((tmp_path / "a").glob("block-0*/02-b-seed-*/events.jsonl"))
        if len(slow) == 2 and all('"type":"metrics"' in p.read_text() for p in slow):
            break
        time.sleep(0.2)
    assert len(processes_with_env("GRADFAIL_TEST_MARK", mark)) == 3  # the driver and its two engines
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in out + err, (out, err)
    manifest = audit_json(tmp_path / "a")
    assert manifest["status"] == "interrupted"
    assert [b["status"] for b in manifest["blocks"]] == ["interrupted", "interrupted", "waiting"]
    group = json.loads((tmp_path / "a" / "block-01" / "group.json").read_text())
    assert [r["status"] for r in group["runs"]] == ["completed", "interrupted", "not run"]
    assert_nothing_left(mark)
    assert "gradfail audit --resume a" in " ".join(out.split())


def test_the_progress_line_says_where_each_block_stands_and_the_time_left(tmp_path):
    """In a log every few seconds: a long audit (fig-tuples at --scale cpu: hours) says which run of which
    block trains and, from the steps trained so far, when it will end."""
    from rich.console import Console

    from gradfail_tui.audit import AuditDisplay, progress_line
    from tests.engine.test_audit import new_audit

    job = new_audit(tmp_path, blocks=3)  # each block: runs a and b of 100 steps
    display = AuditDisplay(Console(file=io.StringIO()), job)
    assert display.block_steps == 200 and display.eta_s() is None  # nothing trained: no pace yet
    batch = job.next_batch()
    batch.lives[0].state.step = 50
    job.started = time.monotonic() - 10  # 50 of 600 steps in 10 s: 550 more take 110 s
    assert 105 < display.eta_s() < 115
    line = progress_line(job, display.eta_s())
    assert "audit of fig-demo: 0/3 blocks done" in line and "block 1: run 1 of 2: a" in line
    assert "elapsed 0:10" in line and "ETA 1:5" in line


def test_the_report_pools_a_count_claims_seeds_over_the_blocks(tmp_path):
    """fig-tuples at --scale cpu: "1 of 8 seeds learned k = 2" in each block is also "2 of 16" over two."""
    from gradfail_tui.report import ReportWritten, audit_section

    def block(number, k2):
        claim = {"says": "k = 2 can be learned", "outcome": "reproduced", "margin": {"gap": 0.0, "log": False}}
        verdict = {"outcome": "reproduced", "claims": [claim | {"seeds": {"k = 2, end-to-end": [k2, 8]}}]}
        return {"block": number, "seed": 8 * (number - 1), "dir": None, "status": "completed", "verdict": verdict}

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "audit.json").write_text(json.dumps({
        "kind": "audit", "preset": "fig-tuples", "first_seed": 0, "claims_said": ["k = 2 can be learned"],
        "blocks": [block(1, 1), block(2, 1)], "status": "running", "started_at": "2026-12-05T04:27:29+00:00",
        "wall_s": 0.0,
    }))  # fmt: skip
    text = "\n".join(audit_section(tmp_path / "a", ReportWritten(tmp_path / "r.md", tmp_path / "r_files")))
    assert "| k = 2 can be learned | k = 2, end-to-end | 2 of 16 | 12% (3% to 36%) |" in text
    # still running: its wall time is written when it ends, so the report says when it began, not "0:00"
    assert "status running · since 2026-12-05T04:27:29+00:00" in text and "wall time" not in text
