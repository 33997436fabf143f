"""`gradfail sweep --ray ADDRESS` joining a real cluster, started as a user starts one (`ray start --head`,
2 CPUs, on loopback), with Ray's token authentication as that Ray version sets it up: joined at the address
`ray start` prints and at a loopback one, each run's status and value are the local pool's; a wrong token
is one line, none of Ray's own. The cluster runs in a home and a temp directory of its own, and is stopped."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.conftest import cli_env, gradfail, processes_with_env

pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'); .ci/run installs it")

MARK = "GRADFAIL_RAY_CLUSTER_TEST"
GRID = ["--family", "parity", "--grid", "d=4,6", "--seeds", "2", "--steps", "200", "--workers", "2"]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """`ray start --head` with 2 CPUs: its token file in `home`, its sockets in a short temp directory."""

    def __init__(self, home: Path):
        self.home, self.port, self.mark = home, free_port(), uuid.uuid4().hex
        self.temp = tempfile.mkdtemp(prefix="gfray")  # short: Ray's socket paths have a length limit
        self.env = {k: v for k, v in cli_env(HOME=str(home), **{MARK: self.mark}).items() if k != "RAY_AUTH_MODE"}
        ray = str(Path(sys.executable).parent / "ray")
        # A token first: `ray start` then turns token authentication on, as it does on a machine where Ray
        # made one before (Ray 2.59 and later; newer versions turn it on everywhere).
        made = subprocess.run([ray, "get-auth-token", "--generate"], env=self.env, capture_output=True, text=True)
        assert made.returncode == 0 and (home / ".ray" / "auth_token").is_file(), made.stdout + made.stderr
        started = subprocess.run(
            [ray, "start", "--head", f"--port={self.port}", "--num-cpus=2", "--include-dashboard=false",
             "--disable-usage-stats", f"--temp-dir={self.temp}"],
            env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Token authentication is enabled" in started.stdout + started.stderr, started.stdout + started.stderr
        printed = re.search(r"ray start --address='([^']+)'", started.stdout + started.stderr)
        assert printed, started.stdout + started.stderr
        self.address = printed[1]  # as `ray start` prints it: this machine's own address

    def stop(self) -> None:
        ray = str(Path(sys.executable).parent / "ray")
        subprocess.run([ray, "stop", "--force"], env=self.env, capture_output=True, timeout=60)
        for pid in processes_with_env(MARK, self.mark):  # whatever `ray stop` missed
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = Cluster(tmp_path_factory.mktemp("home"))
    yield started
    started.stop()
    assert processes_with_env(MARK, started.mark) == [], "a process of the cluster was left running"


def outcomes(path: Path) -> list[tuple[str, str, float]]:
    runs = json.loads((path / "sweep.json").read_text())["runs"]
    return [(run["label"], run["status"], run["value"]) for run in runs]


def test_joining_a_started_cluster_at_its_address_and_at_loopback_gives_the_local_pools_outcomes(tmp_path, cluster):
    env = {"HOME": str(cluster.home)}  # a machine of the cluster: Ray's token file is found by itself
    local = gradfail("sweep", *GRID, "--out", "local", cwd=tmp_path, **env)
    assert local.returncode == 0, local.stdout + local.stderr
    expected = outcomes(tmp_path / "local")
    assert all(status == "completed" and value is not None for _, status, value in expected)
    for name, address in (("printed", cluster.address), ("loopback", f"127.0.0.1:{cluster.port}")):
        joined = gradfail("sweep", *GRID, "--ray", address, "--out", name, cwd=tmp_path, timeout=240, **env)
        assert joined.returncode == 0, joined.stdout + joined.stderr
        assert "InvalidAuthToken" not in joined.stderr and "gcs_client" not in joined.stderr
        assert outcomes(tmp_path / name) == expected, name


def test_a_wrong_token_is_one_line_saying_where_the_token_comes_from(tmp_path, cluster):
    env = {"HOME": str(cluster.home), "RAY_AUTH_TOKEN": "not-the-clusters-token"}
    joined = gradfail("sweep", *GRID, "--ray", f"127.0.0.1:{cluster.port}", "--out", "s", cwd=tmp_path, **env)
    assert joined.returncode == 2
    lines = joined.stderr.strip().splitlines()
    assert len(lines) == 1 and "asks for its token" in lines[0] and "RAY_AUTH_TOKEN" in lines[0], joined.stderr
    assert not (tmp_path / "s" / "sweep.json").exists() or outcomes(tmp_path / "s") == []
