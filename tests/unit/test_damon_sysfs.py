"""The DAMON tree as ordered sysfs writes."""

import subprocess
from pathlib import Path

import pytest

from harness import damon_sysfs as ds
from harness.rundir import RunFacts
from harness.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
A = ds.ADMIN
CTX = f"{A}/kdamonds/0/contexts/0"


def collapse_writes():
    sc = load_scenario(SCENARIOS / "collapse.yaml")
    res = RunFacts(pids={"toucher": 4242})
    return sc, ds.writes(sc.damon, res)


def index(writes, path):
    return [p for p, _ in writes].index(path)


def test_vaddr_tree_order_and_values():
    sc, w = collapse_writes()
    d = dict(w)
    assert w[0] == (f"{A}/kdamonds/nr_kdamonds", "1")
    assert d[f"{CTX}/operations"] == "vaddr"
    assert d[f"{CTX}/targets/0/pid_target"] == "4242"
    assert d[f"{CTX}/monitoring_attrs/intervals/update_us"] == "1000000"
    assert d[f"{CTX}/schemes/0/action"] == "collapse"
    assert index(w, f"{A}/kdamonds/0/contexts/nr_contexts") < index(w, f"{CTX}/operations")
    assert index(w, f"{CTX}/targets/nr_targets") < index(w, f"{CTX}/targets/0/pid_target")
    assert index(w, f"{CTX}/schemes/nr_schemes") < index(w, f"{CTX}/schemes/0/action")
    assert d[f"{A}/kdamonds/0/refresh_ms"] == "1000"


def test_all_six_access_pattern_bounds_are_written():
    _, w = collapse_writes()
    d = dict(w)
    base = f"{CTX}/schemes/0/access_pattern"
    for name in ("sz", "nr_accesses", "age"):
        for end in ("min", "max"):
            assert f"{base}/{name}/{end}" in d
    assert d[f"{base}/sz/min"] == str(2 << 20)
    assert d[f"{base}/sz/max"] == str((1 << 64) - 1)
    assert d[f"{base}/nr_accesses/min"] == "2"


def test_start_and_stop():
    sc, _ = collapse_writes()
    assert ds.start_writes(sc.damon) == [(f"{A}/kdamonds/0/state", "on")]
    assert ds.stop_writes(sc.damon) == [(f"{A}/kdamonds/0/state", "off")]


def test_paddr_goals_filters_and_node_ranges():
    sc = load_scenario(SCENARIOS / "memcg-convergence.yaml")
    res = RunFacts(node_ranges={0: [(0, 1 << 30)], 1: [(1 << 30, 2 << 30)]})
    d = dict(ds.writes(sc.damon, res))
    t = f"{CTX}/targets/0"
    assert f"{t}/pid_target" not in d
    assert d[f"{t}/regions/nr_regions"] == "2"
    assert d[f"{t}/regions/1/start"] == str(1 << 30)
    assert d[f"{t}/regions/1/end"] == str(2 << 30)
    s0 = f"{CTX}/schemes/0"
    assert d[f"{s0}/target_nid"] == "0"
    assert d[f"{s0}/quotas/bytes"] == str(8 << 20)
    assert d[f"{s0}/quotas/goal_tuner"] == "temporal"
    assert d[f"{s0}/quotas/goals/nr_goals"] == "1"
    assert d[f"{s0}/quotas/goals/0/target_metric"] == "node_memcg_used_bp"
    assert d[f"{s0}/quotas/goals/0/target_value"] == "1000"
    assert d[f"{s0}/quotas/goals/0/nid"] == "0"
    assert d[f"{s0}/quotas/goals/0/path"] == "/a"
    assert d[f"{s0}/ops_filters/nr_filters"] == "1"
    assert d[f"{s0}/ops_filters/0/type"] == "memcg"
    assert d[f"{s0}/ops_filters/0/memcg_path"] == "/a"
    assert d[f"{s0}/ops_filters/0/allow"] == "Y"
    assert f"{s0}/core_filters/nr_filters" not in d
    assert d[f"{CTX}/schemes/3/quotas/goals/0/path"] == "/b"
    assert d[f"{CTX}/schemes/3/quotas/goals/0/target_metric"] == "node_memcg_free_bp"


def test_paddr_node_without_ranges_is_an_error():
    sc = load_scenario(SCENARIOS / "memcg-convergence.yaml")
    with pytest.raises(ValueError):
        ds.writes(sc.damon, RunFacts(node_ranges={0: [(0, 1)]}))


def test_module_writes_and_enable_last():
    from harness.scenario import DamonSetup, ModuleSetup
    setup = DamonSetup(module=ModuleSetup("damon_lru_sort", {"hot_thres_access_freq": "500"}))
    assert ds.writes(setup, RunFacts()) == [
        ("/sys/module/damon_lru_sort/parameters/hot_thres_access_freq", "500")]
    assert ds.start_writes(setup) == [("/sys/module/damon_lru_sort/parameters/enabled", "Y")]


def test_module_workloads_become_monitored_pids():
    sc = load_scenario(SCENARIOS / "damon-hugepage.yaml")
    writes = ds.writes(sc.damon, RunFacts(pids={"toucher": 321}))
    assert writes == [("/sys/module/damon_hugepage/parameters/monitored_pids", "321")]
    control = load_scenario(SCENARIOS / "damon-hugepage-nopid-control.yaml")
    assert ds.writes(control.damon, RunFacts()) == []


def test_scheme_dir():
    sc = load_scenario(SCENARIOS / "memcg-convergence.yaml")
    assert ds.scheme_dir(sc.damon, "cold_b") == f"{CTX}/schemes/3"


def test_node_ranges_parse_and_merge():
    text = ("block_size 8000000\n"
            "node 0 block 0\nnode 0 block 1\nnode 0 block 3\n"
            "node 1 block 8\nnode 1 block 9\n")
    size = 0x8000000
    assert ds.parse_node_ranges(text) == {
        0: [(0, 2 * size), (3 * size, 4 * size)],
        1: [(8 * size, 10 * size)],
    }
    with pytest.raises(ValueError):
        ds.parse_node_ranges("node 0 block 1\n")


def test_node_ranges_without_memory_blocks_come_from_the_boot_lines():
    """A kernel without MEMORY_HOTPLUG has no memory-block sysfs; these
    lines are from a 7.3 built with the default fragments, on two 1 GiB nodes."""
    text = ("Initmem setup node 0 [mem 0x0000000000001000-0x000000003fffffff]\n"
            "Initmem setup node 1 [mem 0x0000000040000000-0x000000007ffd6fff]\n")
    assert ds.parse_node_ranges(text) == {0: [(0x1000, 0x40000000)],
                                          1: [(0x40000000, 0x7ffd7000)]}


def test_script_writes_in_order_and_stops_at_failure(tmp_path):
    ok = tmp_path / "a"
    missing = tmp_path / "no" / "b"
    after = tmp_path / "c"
    text = ds.script([(str(ok), "1 2"), (str(missing), "x"), (str(after), "y")])
    proc = subprocess.run(["sh", "-c", text], capture_output=True, text=True)
    assert proc.returncode == 1
    assert ok.read_text() == "1 2\n"
    assert not after.exists()
    assert "damon write failed" in proc.stderr and "/no/b" in proc.stderr


def test_a_file_an_older_kernel_lacks_is_written_only_when_it_must_be(tmp_path):
    """apply_interval_us left at 0 is not written where the file is absent
    (6.1); any other value is written whatever (in sysfs, a missing file
    then fails the write; here the write creates it)."""
    for tree in ("old", "new", "other"):
        (tmp_path / tree).mkdir()
    (tmp_path / "new" / "apply_interval_us").write_text("")
    for tree, value in (("old", "0"), ("new", "0"), ("other", "5000")):
        text = ds.script([(str(tmp_path / tree / "apply_interval_us"), value)])
        assert subprocess.run(["sh", "-c", text]).returncode == 0
    assert not (tmp_path / "old" / "apply_interval_us").exists()
    assert (tmp_path / "new" / "apply_interval_us").read_text() == "0\n"
    assert (tmp_path / "other" / "apply_interval_us").read_text() == "5000\n"
    # refresh_ms: any value is skipped where the file is absent (the damos
    # metric then asks for fresh stats itself).
    text = ds.script([(str(tmp_path / "old" / "refresh_ms"), "1000")])
    assert subprocess.run(["sh", "-c", text]).returncode == 0
    assert not (tmp_path / "old" / "refresh_ms").exists()


def test_disable_others_script_is_valid_shell():
    script = ds.disable_others_script()
    assert "damon_stat" in script and "enabled" in script
    proc = subprocess.run(["sh", "-n", "-c", script])
    assert proc.returncode == 0
    assert subprocess.run(["sh", "-n", "-c", ds.node_ranges_command([0, 1])]).returncode == 0


def test_fvaddr_regions_named_high_to_low_are_written_in_address_order():
    """hotcold maps its cold region 4 TiB below the hot one, so [hot, cold]
    is high to low; DAMON refuses such a target with EINVAL at state=on (the
    hotcold-tiering reproduction's first fvaddr run)."""
    from harness import reproduce
    [exp] = reproduce.load([reproduce.available()["hotcold-tiering"]], check_kernel=False)
    sc = exp.variants[""]
    regions = {w: {"hot": (0x7f0000000000, 0x7f0000300000),
                   "cold": (0x7b0000000000, 0x7b0000500000)} for w in sc.workloads}
    res = RunFacts(pids={w: 100 + i for i, w in enumerate(sc.workloads)}, regions=regions)
    d = dict(ds.writes(sc.damon, res))
    starts = [int(d[f"{CTX}/targets/0/regions/{i}/start"]) for i in range(2)]
    assert starts == sorted(starts) == [0x7b0000000000, 0x7f0000000000]
