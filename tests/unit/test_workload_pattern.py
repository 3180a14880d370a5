"""The access-pattern form of a workload: named regions and weighted phases,
parsed from a scenario, turned into the program's arguments, and run here."""

import copy
import shutil
import subprocess

import pytest

from harness.metrics import parse_region_lines
from tests.unit.test_scenario import BASE, parse

# masim's "stairs" pattern, scaled: four 2 MiB regions, a warm-up that sweeps
# them all, then one phase per region.
STAIRS = {
    "regions": {f"s{i}": "2MiB" for i in range(4)},
    "phases": [{"name": "warmup", "seconds": "0.3s",
                "access": {f"s{i}": 1 for i in range(4)}}]
    + [{"name": f"step{i}", "seconds": "0.2s", "access": {f"s{i}": 1}} for i in range(4)],
    "cpus": [0],
}


def stairs_scenario(**extra):
    def mutate(raw):
        raw["workloads"] = {"w": {**copy.deepcopy(STAIRS), **extra}}
        raw["sample"]["metrics"]["hot"] = {"smaps": "w.s2"}
    return parse(mutate)


def test_the_pattern_form_becomes_region_and_phase_arguments():
    w = stairs_scenario(loop=True).workloads["w"]
    args = w.program_args()
    assert args[:8] == ["--region", "s0:2097152", "--region", "s1:2097152",
                        "--region", "s2:2097152", "--region", "s3:2097152"]
    assert "--phase" in args and "warmup:0.3:s0=1,s1=1,s2=1,s3=1" in args
    assert "step2:0.2:s2=1" in args and "--loop" in args
    assert w.region_size("s3") == 2 << 20


def test_an_idle_phase_has_no_weights_and_the_hot_cold_form_is_unchanged():
    w = stairs_scenario(phases=[{"name": "rest", "seconds": "1s"}]).workloads["w"]
    assert "rest:1" in w.program_args()
    old = parse().workloads["w"]
    assert old.program_args()[:6] == ["--hot", str(64 << 20), "--cold", str(32 << 20),
                                      "--phases", "hot:0"]
    assert old.region_sizes() == {"hot": 64 << 20, "cold": 32 << 20}


def run_program(args, seconds):
    from harness.workloads.build import build
    proc = subprocess.Popen([str(build("hotcold")), *args], stdout=subprocess.PIPE,
                            text=True)
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.mark.skipif(not shutil.which("gcc"), reason="no gcc")
def test_the_program_runs_the_phases_in_order_and_loops(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path))
    w = stairs_scenario().workloads["w"]
    out = run_program(w.program_args(), 10)
    phases = [line.split()[1] for line in out.splitlines() if line.startswith("phase ")]
    assert phases == ["name=warmup", "name=step0", "name=step1", "name=step2", "name=step3"]
    assert sorted(parse_region_lines(out)) == ["s0", "s1", "s2", "s3"]
    assert out.rstrip().endswith("done")
    looping = stairs_scenario(loop=True).workloads["w"]
    out = run_program(looping.program_args(), 2.5)
    names = [line.split()[1] for line in out.splitlines() if line.startswith("phase ")]
    assert names.count("name=warmup") >= 2 and "done" not in out


def mappings_while_ready(args):
    """(region lines, /proc/PID/maps as (start, end, perms)) of a running hotcold."""
    from harness.workloads.build import build
    proc = subprocess.Popen([str(build("hotcold")), *args, "--phases", "hot:2"],
                            stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ready"):
                break
        maps = []
        for row in open(f"/proc/{proc.pid}/maps"):
            span, perms = row.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            maps.append((start, end, perms))
        return parse_region_lines("".join(lines)), maps
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not shutil.which("gcc"), reason="no gcc")
def test_nothing_is_mapped_right_below_a_region_unless_asked(tmp_path, monkeypatch):
    # A VMA right below the hot one that MADV_COLLAPSE rejects would keep
    # the DAMON region starting in it from collapsing (collapse.yaml).
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path))
    for _ in range(5):      # the reservation's alignment varies from run to run
        regions, maps = mappings_while_ready(["--hot", "8M", "--cold", "8M"])
        for name, (start, end) in regions.items():
            assert not [m for m in maps if m[1] == start], f"{name}: a VMA right below"
            assert (start, end, "rw-p") in maps
    regions, maps = mappings_while_ready(["--hot", "8M", "--cold", "8M",
                                          "--small-vma-below", "256K"])
    start, end = regions["hot"]
    assert (start, start + (256 << 10), "rw-p") in maps
    assert (start + (256 << 10), end, "rw-p") in maps
