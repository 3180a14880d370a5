"""Units of work: a matrix laid out A B A B, run by the local runner, with
the results grouped by cell in repeat order."""

from pathlib import Path

from harness.runner import LocalRunner, interleaved


def test_interleaved_runs_every_cell_once_per_repeat_in_turn():
    cells = [("base", "sc", None, "base"), ("patched", "sc", None, "patched")]
    tasks = interleaved(cells, 3, lambda key, rep: Path(f"/o/{key}-{rep}"))
    assert [(t.key, t.repeat) for t in tasks] == [
        ("base", 1), ("patched", 1), ("base", 2), ("patched", 2), ("base", 3), ("patched", 3)]
    assert tasks[3].run_dir == Path("/o/patched-2") and tasks[3].repeats == 3


class FakeResult:
    def __init__(self, name):
        self.name, self.verdict, self.checks, self.wall_time = name, "PASS", [], 1.0


def test_the_local_runner_groups_results_by_cell_and_says_how_it_ran(monkeypatch, tmp_path):
    """Its line is said first and kept in every run's task.json, where each
    report reads it (how_ran)."""
    from harness.runner import how_ran
    ran = []

    def run_scenario(sc, kernel=None, accel="auto", run_dir=None):
        ran.append((sc.name, run_dir.name, accel))
        return FakeResult(sc.name)
    monkeypatch.setattr("harness.engine.run_scenario", run_scenario)
    monkeypatch.setattr("harness.report.summary_line", lambda r: r.name)
    sa, sb = _scenario("collapse"), _scenario("migration")
    cells = [("a", sa, None, "A"), ("b", sb, None, "")]
    tasks = interleaved(cells, 2, lambda key, rep: tmp_path / f"{key}{rep}")
    after, lines = [], []
    results = LocalRunner("tcg").run(tasks, echo=lines.append,
                                     after=lambda t, r: after.append(t.run_dir.name))
    assert [r.name for r in results["a"]] == ["collapse"] * 2 and len(results["b"]) == 2
    assert [d for _, d, _ in ran] == ["a1", "b1", "a2", "b2"] == after
    assert ran[0][2] == "tcg"
    assert lines[0].startswith("local: 1 job(s) at once, guests of 2 vCPUs")
    assert lines[1:] == ["[1/2 A] collapse", "[1/2] migration", "[2/2 A] collapse",
                         "[2/2] migration"]
    assert how_ran(t.run_dir for t in tasks) == lines[0]
    assert how_ran([tmp_path / "nosuch"]) == ""


# ------------------------------------------------------------ parallel, shipping

def test_results_that_arrive_out_of_order_are_grouped_in_task_order(tmp_path, monkeypatch):
    from harness.runner import Collected
    monkeypatch.setattr("harness.report.summary_line", lambda r: r.name)
    tasks = interleaved([("a", "sa", None, ""), ("b", "sb", None, "")], 2,
                        lambda key, rep: tmp_path / f"{key}{rep}")
    lines = []
    collected = Collected(tasks, lines.append, None)
    for task in reversed(tasks):
        collected.add(task, FakeResult(task.run_dir.name))
    assert {k: [r.name for r in rs] for k, rs in collected.by_cell().items()} == \
        {"a": ["a1", "a2"], "b": ["b1", "b2"]}
    assert lines == ["[2/2] b2", "[2/2] a2", "[1/2] b1", "[1/2] a1"]


def _scenario(name: str):
    from harness.scenario import load_scenario
    from harness.commands.run import scenario_paths
    return load_scenario(scenario_paths([name])[0], check_kernel=False)


def _task_of(scenario_name: str, tmp_path):
    return interleaved([("k", _scenario(scenario_name), None, "")], 1,
                       lambda key, rep: tmp_path / "r")[0]


def test_jobs_default_to_what_the_cores_hold_and_the_report_says_when_vms_share(
        tmp_path, monkeypatch):
    from harness import runner
    task = _task_of("collapse", tmp_path)       # two nodes, 2 vCPUs, 2 GiB
    assert task.vm_size == (2, 2 << 30)
    monkeypatch.setattr(runner, "host_cores", lambda: 2)
    assert runner.default_jobs([task]) == 1
    monkeypatch.setattr(runner, "host_cores", lambda: 16)
    monkeypatch.setenv("DAMON_HARNESS_MAX_GUEST_MEMORY", "6G")
    assert runner.default_jobs([task]) == 3     # memory, not cores, is the limit
    assert "SHARED" in runner.sharing_line(2, [task], 2)
    again = _task_of("collapse", tmp_path)
    assert task.inputs() == again.inputs() and task.inputs()["kernel"] == "default"
    assert _task_of("migration", tmp_path).inputs()["work"] != task.inputs()["work"]
    assert "no VM shared" in runner.sharing_line(8, [task], 16)


def _fake_kernel(root: Path):
    from harness.kernel.artifact import Kernel
    (root / "mods" / "7.0.0" / "kernel").mkdir(parents=True)
    (root / "bzImage").write_bytes(b"\x00image" * 1000)
    (root / "mods" / "7.0.0" / "modules.dep").write_text("kernel/a.ko:\n")
    (root / "mods" / "7.0.0" / "kernel" / "a.ko").write_bytes(b"\x7fELF module")
    return Kernel(root / "bzImage", root / "mods", "7.0.0", {"kind": "test"})


def test_a_shipped_kernel_unpacks_once_per_host_under_its_content_id(tmp_path, monkeypatch):
    from harness.kernel import shipping
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path / "cache"))
    kernel = _fake_kernel(tmp_path / "client")
    ident, blob = shipping.kernel_id(kernel), shipping.pack(kernel)
    assert shipping.unpacked(kernel, ident, blob) == kernel      # same files here: used as is
    import shutil
    shutil.rmtree(tmp_path / "client")                             # another host lacks them
    there = shipping.unpacked(kernel, ident, blob)
    assert there.image.read_bytes() == b"\x00image" * 1000
    assert (there.modules_dir / "7.0.0" / "kernel" / "a.ko").read_bytes() == b"\x7fELF module"
    assert there.release == "7.0.0" and shipping.kernel_id(there) == ident
    assert shipping.unpacked(kernel, ident, b"not read again") == there


def test_a_kernel_id_changes_with_any_file(tmp_path):
    from harness.kernel import shipping
    kernel = _fake_kernel(tmp_path)
    before = shipping.kernel_id(kernel)
    (tmp_path / "mods" / "7.0.0" / "modules.dep").write_text("kernel/b.ko:\n")
    assert shipping.kernel_id(kernel) != before


def test_a_kernel_id_is_read_again_when_a_file_changes_but_not_its_size(tmp_path):
    """The id is remembered per process by each file's size and mtime."""
    import os
    from harness.kernel import shipping
    kernel = _fake_kernel(tmp_path)
    before = shipping.kernel_id(kernel)
    assert shipping.kernel_id(kernel) == before
    image = kernel.image
    stat = image.stat()
    image.write_bytes(b"\x01" + image.read_bytes()[1:])
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert shipping.kernel_id(kernel) != before


# ------------------------------------------------------------------ retries

def test_a_fail_that_passes_on_a_retry_is_flaky_and_every_attempt_is_kept(tmp_path, monkeypatch):
    import json
    import xml.etree.ElementTree as ET
    from harness import engine, report
    from harness.checks import CheckResult
    from harness.verdict import Verdict
    script = {"collapse": ["FAIL", "PASS"], "migration": ["FAIL", "FAIL", "FAIL"],
              "hint-path": ["PASS"]}
    ran = []

    def run_scenario(sc, kernel=None, accel="auto", run_dir=None):
        ran.append(run_dir.name)
        verdict = Verdict(script[sc.name].pop(0))
        check = CheckResult(name="hot region becomes huge", metric="hot", kind="reaches",
                            should="pass", met=verdict == Verdict.PASS,
                            summary=f"{verdict} here")
        return report.ScenarioResult(sc.name, verdict, checks=[check], run_dir=str(run_dir))
    monkeypatch.setattr("harness.engine.run_scenario", run_scenario)
    monkeypatch.setenv("DAMON_HARNESS_RESULTS", str(tmp_path / "results"))
    scenarios = [_scenario(n) for n in script]
    lines = []
    results = engine.run_suite([], out_dir=tmp_path / "out", echo=lines.append,
                               scenarios=scenarios, retries=2)
    assert [r.verdict for r in results] == [Verdict.FLAKY, Verdict.FAIL, Verdict.PASS]
    assert len(ran) == 6 and sum(name.endswith("-attempt2") for name in ran) == 2
    assert [a["verdict"] for a in results[0].attempts] == ["FAIL"]
    assert results[0].run_dir.endswith("-attempt2")
    assert results[0].attempts[0]["run_dir"] == results[0].run_dir[:-len("-attempt2")]
    assert [a["attempt"] for a in results[1].attempts] == [1, 2]
    assert results[2].attempts == []
    assert "passed on attempt 2 only; attempt 1: FAIL" in report.summary_line(results[0])
    assert engine.exit_code([results[0], results[2]]) == 0
    assert engine.exit_code(results) == 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["verdicts"] == {"collapse": "FLAKY", "migration": "FAIL", "hint-path": "PASS"}
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "out" / "junit.xml").iter("testcase")}
    assert cases["collapse"].get("status") == "FLAKY" and cases["collapse"].find("failure") is None
    assert "attempt 1: FAIL" in cases["collapse"].find("system-out").text
    assert any("1 FLAKY" in line for line in lines)


def test_no_retry_unless_asked(tmp_path, monkeypatch):
    from harness import engine, report
    from harness.verdict import Verdict
    monkeypatch.setattr("harness.engine.run_scenario", lambda sc, kernel=None, accel="auto",
                        run_dir=None: report.ScenarioResult(sc.name, Verdict.FAIL,
                                                            run_dir=str(run_dir)))
    monkeypatch.setenv("DAMON_HARNESS_RESULTS", str(tmp_path / "results"))
    results = engine.run_suite([], out_dir=tmp_path / "out", echo=lambda line: None,
                               scenarios=[_scenario("collapse")])
    assert [(r.verdict, r.attempts) for r in results] == [(Verdict.FAIL, [])]
