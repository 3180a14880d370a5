"""Parsers on text written by hand from the documented formats."""

from pathlib import Path

import pytest

from harness import metrics as mx
from harness.rundir import RunFacts
from harness.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

HOT = (0x7f0000000000, 0x7f0004000000)     # 64 MiB
COLD = (0x7f0004200000, 0x7f0008200000)

SMAPS = """\
00400000-004af000 r-xp 00000000 fe:00 123                                /root/hotcold
Size:                700 kB
Rss:                 300 kB
AnonHugePages:         0 kB
VmFlags: rd ex mr mw me
7f0000000000-7f0002000000 rw-p 00000000 00:00 0
Size:              32768 kB
KernelPageSize:        4 kB
Rss:               32768 kB
Anonymous:         32768 kB
AnonHugePages:     30720 kB
THPeligible:           1
VmFlags: rd wr mr mw me ac hg
7f0002000000-7f0004000000 rw-p 00000000 00:00 0
Size:              32768 kB
Rss:               32768 kB
AnonHugePages:      2048 kB
VmFlags: rd wr mr mw me ac
7f0004000000-7f0004200000 ---p 00000000 00:00 0
Size:               2048 kB
Rss:                   0 kB
AnonHugePages:         0 kB
VmFlags: mr mw me
7f0004200000-7f0008200000 rw-p 00000000 00:00 0
Size:              65536 kB
Rss:               65536 kB
AnonHugePages:         0 kB
VmFlags: rd wr mr mw me ac
"""

VMSTAT = """\
nr_free_pages 200000
pgmigrate_success 16384
pgmigrate_fail 0
thp_fault_alloc 3
thp_collapse_alloc 16
numa_hint_faults 0
"""

NUMA_MAPS = """\
00400000 default file=/root/hotcold mapped=75 N0=75 kernelpagesize_kB=4
7f0000000000 default anon=8192 dirty=8192 active=0 N0=7000 N1=1192 kernelpagesize_kB=4
7f0002000000 default anon=8192 dirty=8192 N1=8192 kernelpagesize_kB=4
7f0004000000 default
7f0004200000 bind:1 anon=16384 dirty=16384 N1=16384 kernelpagesize_kB=4
7ffd1000000 default stack anon=3 dirty=3 N0=3 kernelpagesize_kB=4
"""

NUMA_STAT = """\
anon N0=104857600 N1=130023424
file N0=4096 N1=0
kernel_stack N0=16384 N1=0
active_anon N0=0 N1=0
"""

NODE_MEMINFO = """\
Node 0 MemTotal:        1030732 kB
Node 0 MemFree:          600000 kB
Node 0 MemUsed:          430732 kB
Node 0 AnonHugePages:     30720 kB
Node 0 HugePages_Total:     0
"""

DAMOS = """\
stats/nr_applied:4
stats/nr_tried:9
stats/qt_exceeds:2
stats/sz_applied:8388608
stats/sz_ops_filter_passed:0
stats/sz_tried:16777216
quotas/effective_bytes:33554432
"""


def test_smaps_sums_every_piece_of_a_split_region():
    vmas = mx.parse_smaps(SMAPS)
    assert len(vmas) == 5
    assert vmas[1].fields["AnonHugePages"] == 30720 * 1024
    assert mx.smaps_field(vmas, *HOT) == 32 << 20
    assert mx.smaps_field(vmas, *COLD) == 0
    assert mx.smaps_field(vmas, 0x10000, 0x20000) is None      # nothing mapped there
    assert mx.smaps_field(vmas, *HOT, name="Rss") == 64 << 20


def test_vmstat():
    v = mx.parse_vmstat(VMSTAT)
    assert v["thp_collapse_alloc"] == 16
    assert v["pgmigrate_success"] == 16384


def test_numa_maps_pages_per_node_for_a_region():
    vmas = mx.parse_numa_maps(NUMA_MAPS)
    assert vmas[1].pages == {0: 7000, 1: 1192}
    assert vmas[3].pages == {}
    assert vmas[4].policy == "bind:1"
    assert mx.numa_node_bytes(vmas, *HOT, node=0) == 7000 * 4096
    assert mx.numa_node_bytes(vmas, *HOT, node=1) == (1192 + 8192) * 4096
    assert mx.numa_node_bytes(vmas, *COLD, node=1) == 64 << 20


def test_memcg_numa_stat():
    s = mx.parse_memcg_numa_stat(NUMA_STAT)
    assert s["anon"] == {0: 100 << 20, 1: 124 << 20}
    assert s["file"][0] == 4096


def test_node_meminfo():
    m = mx.parse_node_meminfo(NODE_MEMINFO)
    assert m["MemTotal"] == 1030732 * 1024
    assert m["HugePages_Total"] == 0
    m2 = mx.parse_node_meminfo("Node 1 MemTotal: 100 kB\nNode 1 MemFree: 40 kB\n")
    assert m2["MemUsed"] == 60 * 1024


def test_damos_stats():
    s = mx.parse_damos_stats(DAMOS)
    assert s["sz_applied"] == 8 << 20
    assert s["qt_exceeds"] == 2
    assert s["effective_bytes"] == 32 << 20


def test_region_lines_and_pid():
    out = ("region name=hot start=0x7f0000000000 end=0x7f0004000000 size=67108864\n"
           "region name=cold start=0x7f0004200000 end=0x7f0008200000 size=67108864\n"
           "ready pid=321\nphase name=hot seconds=0\n")
    assert mx.parse_region_lines(out) == {"hot": HOT, "cold": COLD}
    assert mx.parse_ready_pid(out) == 321
    assert mx.parse_ready_pid("nothing\n") is None


def section(key, body):
    return f"{mx.SECTION} {key}\n{body}"


def test_sample_command_and_parse_round_trip():
    sc = load_scenario(SCENARIOS / "collapse.yaml")
    ctx = RunFacts(pids={"toucher": 77}, regions={"toucher": {"hot": HOT, "cold": COLD}},
                           scheme_dirs={"collapse_hot": "/sys/x/schemes/0"})
    cmd = mx.sample_command(sc.sample.metrics.values(), ctx)
    assert cmd.count("cat /proc/77/smaps") == 1          # hot and cold share one read
    assert cmd.count("cat /proc/vmstat") == 1
    assert "cd /sys/x/schemes/0" in cmd
    text = (section("uptime", "123.45 200.00\n") + section("smaps toucher", SMAPS)
            + section("vmstat", VMSTAT) + section("damos collapse_hot", DAMOS))
    values = mx.parse_sample(text, sc.sample.metrics.values(), ctx)
    assert values == {"hot_thp": 32 << 20, "cold_thp": 0, "thp_fault_alloc": 3,
                      "thp_collapse_alloc": 16, "applied": 8 << 20}
    assert mx.sample_uptime(text) == pytest.approx(123.45)


def test_unreadable_source_gives_none():
    sc = load_scenario(SCENARIOS / "collapse.yaml")
    ctx = RunFacts(pids={"toucher": 77}, regions={"toucher": {"hot": HOT, "cold": COLD}},
                           scheme_dirs={"collapse_hot": "/sys/x"})
    text = section("smaps toucher", "cat: /proc/77/smaps: No such file or directory\n")
    values = mx.parse_sample(text, sc.sample.metrics.values(), ctx)
    assert values["hot_thp"] is None and values["thp_fault_alloc"] is None


def test_memcg_and_file_metrics():
    sc = load_scenario(SCENARIOS / "memcg-convergence.yaml")
    ctx = RunFacts(pids={}, regions={},
                           scheme_dirs={n: f"/d/{n}" for n in ("hot_a", "hot_b")})
    text = (section("memcg_numa a", NUMA_STAT) + section("memcg_numa b", "anon N0=5 N1=6\n")
            + section("damos hot_a", DAMOS) + section("damos hot_b", "quotas/effective_bytes:0\n")
            + section("vmstat", VMSTAT))
    v = mx.parse_sample(text, sc.sample.metrics.values(), ctx)
    assert v["a_node0"] == 100 << 20 and v["b_node0"] == 5
    assert v["a_quota"] == 32 << 20 and v["b_quota"] == 0
    sc2 = load_scenario(SCENARIOS / "migration.yaml")
    ctx2 = RunFacts(pids={"promote": 1, "demote": 2},
                            regions={"promote": {"hot": HOT, "cold": COLD},
                                     "demote": {"hot": HOT, "cold": COLD}})
    text2 = (section("numa_maps promote", NUMA_MAPS) + section("numa_maps demote", NUMA_MAPS)
             + section("vmstat", VMSTAT) + section("file /proc/sys/kernel/numa_balancing", "0\n"))
    v2 = mx.parse_sample(text2, sc2.sample.metrics.values(), ctx2)
    assert v2["hot_on_node0"] == 7000 * 4096
    assert v2["cold_on_node1"] == 64 << 20
    assert v2["numa_balancing"] == 0


def test_real_hotcold_on_this_host(tmp_path, monkeypatch):
    """Builds hotcold, runs it here for a moment, and reads its regions back
    from this kernel's own smaps and numa_maps."""
    import shutil
    import subprocess
    if not shutil.which("gcc"):
        pytest.skip("no gcc")
    from harness.workloads.build import build
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path))
    binary = build("hotcold")
    proc = subprocess.Popen([str(binary), "--hot", "8M", "--cold", "4M", "--madvise",
                             "nohugepage", "--phases", "hot:5"],
                            stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        regions = mx.parse_region_lines("".join(lines))
        pid = mx.parse_ready_pid("".join(lines))
        assert pid == proc.pid
        smaps = mx.parse_smaps(Path(f"/proc/{pid}/smaps").read_text())
        hot, cold = regions["hot"], regions["cold"]
        assert hot[0] % (2 << 20) == 0 and hot[1] - hot[0] == 8 << 20
        assert [(v.start, v.end) for v in mx.overlapping(smaps, *hot)] == [hot]
        assert [(v.start, v.end) for v in mx.overlapping(smaps, *cold)] == [cold]
        assert mx.smaps_field(smaps, *hot, name="Rss") == 8 << 20
        assert mx.smaps_field(smaps, *hot) == 0          # nohugepage
        numa = Path(f"/proc/{pid}/numa_maps")
        if numa.exists():
            vmas = mx.parse_numa_maps(numa.read_text())
            total = sum(mx.numa_node_bytes(vmas, *cold, node=n) for n in range(8))
            assert total == 4 << 20
    finally:
        proc.kill()
        proc.wait()


def test_a_kretprobe_counts_the_calls_that_returned_the_value():
    sc = load_scenario(SCENARIOS / "collapse-small-vma-finding.yaml")
    metrics = sc.sample.metrics
    ctx = RunFacts(pids={"toucher": 77}, regions={"toucher": {"hot": HOT, "cold": COLD}},
                   scheme_dirs={"collapse_hot": "/sys/x/schemes/0"})
    cmd = mx.sample_command(metrics.values(), ctx)
    assert cmd.count("r:kprobes/harness_madvise_collapse madvise_collapse ret=$retval:s32") == 2
    assert "' harness_madvise_collapse: .* ret=-22$'" in cmd
    last = ("kdamond.0-251 [001] ..... 31.2: harness_madvise_collapse: "
            "(madvise_vma_behavior+0x3c/0x5b0 <- madvise_collapse) ret=-22")
    text = (section("kretprobe madvise_collapse -22", f"17\n{last}\n")
            + section("kretprobe madvise_collapse 0", "0\n"))
    values = mx.parse_sample(text, [metrics["collapse_einval"], metrics["collapse_ok"]], ctx)
    assert values == {"collapse_einval": 17, "collapse_ok": 0}


# ------------------------------------------------------------ DAMON's own view

KDAMOND_CPU = """\
52.50 96.10
100
251 (kdamond.0) S 2 0 0 0 -1 2129984 0 0 0 0 35 265 0 0 20 0 1 0 2250 0 0 18446744073709551615
"""


def test_kdamond_cpu_is_its_time_on_a_cpu_over_its_lifetime():
    sc = load_scenario(SCENARIOS / "monitoring-accuracy.yaml")
    share = sc.sample.metrics["kdamond_share"]
    assert share.unit == "%"
    # 3.00 s of CPU (35 + 265 ticks at 100 Hz) in the 30 s since it started at 22.5 s
    assert mx.parse_sample(section("kdamond_cpu", KDAMOND_CPU), [share], RunFacts()) == \
        {"kdamond_share": pytest.approx(10.0)}
    seconds = mx.Metric("s", "kdamond_cpu", field="seconds")
    assert seconds.kind.value(seconds, KDAMOND_CPU, RunFacts()) == pytest.approx(3.0)
    assert seconds.kind.value(seconds, "52.50 96.10\n100\n", RunFacts()) == 0.0


TWO_KDAMONDS = """\
52.50 96.10
100
251 (kdamond.0) S 2 0 0 0 -1 2129984 0 0 0 0 10 40 0 0 20 0 1 0 2250 0 0 18446744073709551615
262 (kdamond.1) S 2 0 0 0 -1 2129984 0 0 0 0 30 120 0 0 20 0 1 0 2250 0 0 18446744073709551615
300 (kdamond.2) S 2 0 0 0 -1 2129984 0 0 0 0 99 99 0 0 20 0 1 0 2250 0 0 18446744073709551615
sysfs kdamond 0 pid 262
sysfs kdamond 1 pid 251
"""


def test_one_kdamonds_cpu_share_is_found_by_its_sysfs_pid_and_set_against_another():
    # sysfs kdamond 0 is thread 262 (1.5 s of CPU in 30 s: 5 %), 1 is 251 (0.5 s)
    one = mx.Metric("one", "kdamond_cpu", field="share", kdamond=0)
    ratio = mx.Metric("ratio", "kdamond_cpu", field="share", kdamond=0, relative_to=1)
    assert one.kind.value(one, TWO_KDAMONDS, RunFacts()) == pytest.approx(5.0)
    assert ratio.kind.value(ratio, TWO_KDAMONDS, RunFacts()) == pytest.approx(3.0)
    assert ratio.unit == "x" and one.unit == "%"
    gone = TWO_KDAMONDS.replace("sysfs kdamond 1 pid 251", "sysfs kdamond 1 pid -1")
    assert ratio.kind.value(ratio, gone, RunFacts()) is None
    every = mx.Metric("all", "kdamond_cpu", field="seconds")
    assert every.kind.value(every, TWO_KDAMONDS, RunFacts()) == pytest.approx(0.5 + 1.5 + 1.98)


def test_workload_rate_is_rounds_over_seconds_of_its_last_progress_line():
    rate = mx.Metric("rate", "workload_rate", workload="toucher")
    out = ("ready pid=7\nphase name=hot seconds=0\nprogress rounds=0 seconds=0.000\n"
           "progress rounds=150 seconds=1.001\nprogress rounds=300 seconds=2.000\n")
    assert rate.kind.section(rate, RunFacts())[1].endswith("/tmp/workload-toucher.out | tail -n 1")
    assert rate.kind.value(rate, out, RunFacts()) == pytest.approx(150.0)
    assert rate.kind.value(rate, "progress rounds=0 seconds=0.000\n", RunFacts()) is None
    assert rate.kind.value(rate, "ready pid=7\n", RunFacts()) is None
    assert rate.unit == "rounds/s"


TRIED = "".join(f"{i}/{k}:{v}\n" for i, (start, end, acc) in enumerate([
    (HOT[0], HOT[0] + (16 << 20), 20),          # a quarter of hot, accessed
    (HOT[0] + (16 << 20), HOT[1] - (8 << 20), 0),
    (HOT[1] - (8 << 20), COLD[0] + (2 << 20), 3),   # spans the end of hot and 2 MiB of cold
    (COLD[0] + (2 << 20), COLD[1], 0)]) for k, v in
    (("start", start), ("end", end), ("nr_accesses", acc), ("age", 4)))


def test_damon_seen_counts_a_regions_bytes_that_damon_reports_accessed():
    sc = load_scenario(SCENARIOS / "monitoring-accuracy.yaml")
    metrics = sc.sample.metrics
    ctx = RunFacts(pids={"toucher": 77}, regions={"toucher": {"hot": HOT, "cold": COLD}},
                   scheme_dirs={"watch": "/sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/"
                                         "schemes/0"})
    cmd = mx.sample_command(metrics.values(), ctx)
    assert cmd.count("echo update_schemes_tried_regions > "
                     "/sys/kernel/mm/damon/admin/kdamonds/0/state") == 1
    values = mx.parse_sample(section("damon_seen watch", TRIED),
                             [metrics["hot_seen"], metrics["cold_seen"]], ctx)
    assert values == {"hot_seen": (16 << 20) + (8 << 20), "cold_seen": 2 << 20}
    # 16 MiB at 20 and 8 MiB at 3 over 64 MiB
    assert mx.parse_sample(section("damon_seen watch", TRIED), [metrics["hot_accesses"]],
                           ctx) == {"hot_accesses": pytest.approx((16 * 20 + 8 * 3) / 64)}
    assert mx.parse_sample(section("damon_seen watch", TRIED), [metrics["regions"]], ctx) == \
        {"regions": 4}
    strict = mx.Metric("x", "damon_seen", workload="toucher", region="hot", scheme="watch",
                       min_accesses=5)
    assert strict.kind.value(strict, TRIED, ctx) == 16 << 20
    off = "bash: echo: write error: Invalid argument\n"
    assert strict.kind.value(strict, off, ctx) is None
