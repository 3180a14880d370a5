"""Bad input: one line naming the field, exit status 2, no traceback, no VM."""

import os
import subprocess
import sys

import pytest

from harness.paths import REPO_ROOT


def run_cli(*args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), DAMON_HARNESS_RESULTS=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "harness", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def write(tmp_path, text):
    path = tmp_path / "topo.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case, args, words", [
    ("missing kernel", ["boot", "--kernel", "/nonexistent/bzImage"], "--kernel"),
    ("duplicate ids", ["FILE", "nodes:\n - {id: 0, memory: 1G, cpus: [0]}\n"
                               " - {id: 0, memory: 1G, cpus: [1]}\n"], "duplicate node id"),
    ("cpu out of range", ["FILE", "vcpus: 2\nnodes:\n - {id: 0, memory: 1G, cpus: [0, 7]}\n"
                                  " - {id: 1, memory: 1G, cpus: [1]}\n"], "out of range"),
    ("too much memory", ["FILE", "nodes:\n - {id: 0, memory: 64T, cpus: [0]}\n"], "more than"),
    ("malformed yaml", ["FILE", "nodes: [ {id: 0\n"], "malformed YAML"),
    ("bad flag", ["boot", "--node", "mem=1X"], "--node"),
    ("unknown option", ["boot", "--frobnicate"], "unrecognized arguments"),
    ("negative days", ["cache", "prune", "--older-than", "-3"], "--older-than"),
    ("unknown cache action", ["cache", "wipe"], "invalid choice"),
])
def test_bad_input(case, args, words, tmp_path):
    if args[0] == "FILE":
        args = ["boot", write(tmp_path, args[1])]
    proc = run_cli(*args, tmp_path=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], proc.stderr
    assert not list(tmp_path.rglob("console.log"))
