"""Reports: JUnit XML, JSON summary, PNG plot, terminal lines."""

import json
import xml.etree.ElementTree as ET

from harness import checks, report, rundir
from harness.rundir import Series
from harness.scenario import Converges, Expectation, Quantity, Reaches, Stays

MiB = 1 << 20
T = [float(t) for t in range(0, 61, 2)]


def _collapse_result(hot_step=4, name="collapse", verdict=None) -> report.ScenarioResult:
    hot = [min(i * hot_step, 64) * MiB for i in range(len(T))]
    fa = [10.0] * len(T)
    e1 = Expectation("hot_thp", "hot region becomes huge",
                     reaches=Reaches(at_least=Quantity(0.5, True), within=30.0))
    e2 = Expectation("fa", "no THP at fault time",
                     stays=Stays(at_most=Quantity(0), delta=True))
    c1 = checks.judge(e1, Series(T, hot), reference=64 * MiB)
    c2 = checks.judge(e2, Series(T, fa))
    res = report.ScenarioResult(
        name=name, verdict=verdict or checks.scenario_verdict([c1, c2]), checks=[c1, c2],
        series={"hot_thp": Series(T, hot), "fa": Series(T, fa)},
        units={"hot_thp": "bytes", "fa": "count"}, delta_metrics=["fa"], wall_time=42.0)
    return res


def _converge_result() -> report.ScenarioResult:
    vals = [min(t * 3, 100) * MiB for t in T]
    e = Expectation("a_node0", "a converges",
                    converges=Converges(target=Quantity(100.0 * MiB),
                                        tolerance=Quantity(0.15, True), settle=40.0,
                                        samples=10))
    c = checks.judge(e, Series(T, vals))
    return report.ScenarioResult(name="memcg", verdict=checks.scenario_verdict([c]),
                                 checks=[c], series={"a_node0": Series(T, vals)},
                                 units={"a_node0": "bytes"}, wall_time=90.0)


def test_summary_line_pass_and_fail():
    ok = _collapse_result()
    assert ok.verdict == "PASS"
    line = report.summary_line(ok)
    assert line.startswith("PASS") and "2/2 checks" in line and "\n" not in line
    bad = _collapse_result(hot_step=1, name="slow")
    assert bad.verdict == "FAIL"
    line = report.summary_line(bad)
    assert line.startswith("FAIL") and "hot region becomes huge" in line and "never >=" in line


def test_summary_line_crash_uses_message():
    r = report.ScenarioResult(name="x", verdict="CRASH", message="BUG: kernel NULL pointer")
    assert "BUG: kernel NULL pointer" in report.summary_line(r)


def test_compare_reach_times():
    fast = _collapse_result(hot_step=8, name="collapse")
    slow = _collapse_result(hot_step=3, name="hint-path")
    lines = report.compare_reach_times([fast, slow])
    assert len(lines) == 1
    assert "hint-path at 22.0 s vs collapse at 8.0 s (2.8x slower)" in lines[0]
    assert lines[0] in report.summary_table([fast, slow])


def test_junit_xml(tmp_path):
    results = [_collapse_result(), _collapse_result(hot_step=1, name="slow"),
               report.ScenarioResult(name="boom", verdict="CRASH", message="oops",
                                     excerpt="[  1.0] BUG: oops")]
    path = report.junit_xml(results, tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"collapse", "slow", "boom"}
    assert cases["collapse"].find("failure") is None
    assert "never >=" in cases["slow"].find("failure").get("message")
    err = cases["boom"].find("error")
    assert err.get("message") == "CRASH: oops" and err.get("type") == "CRASH"


def test_json_summary(tmp_path):
    results = [_collapse_result(), _converge_result()]
    data = json.loads(report.json_summary(results, tmp_path / "s.json").read_text())
    assert data["verdicts"] == {"collapse": "PASS", "memcg": "PASS"}
    conv = data["scenarios"][1]["checks"][0]
    assert conv["numbers"]["samples"] == 10 and conv["numbers"]["stdev"] == 0
    rundir.save_samples(tmp_path, results[0].series, results[0].units)
    assert rundir.load_samples(tmp_path) == results[0].series


def test_plots_are_pngs(tmp_path):
    for r in (_collapse_result(), _converge_result()):
        path = report.plot(r, tmp_path / f"{r.name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = report.ScenarioResult(name="e", verdict="BOOT_FAIL")
    assert report.plot(empty, tmp_path / "e.png") is None


def test_write_reports_draws_no_plot_a_run_already_drew(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    r = _converge_result()
    r.run_dir = str(run)
    report.plot(r, run / "memcg.png")
    drawn = (run / "memcg.png").stat().st_mtime_ns
    paths = report.write_reports([r, _collapse_result()], tmp_path / "out")
    assert paths["junit"].exists() and paths["json"].exists()
    assert paths["plot:memcg"] == run / "memcg.png"
    assert (run / "memcg.png").stat().st_mtime_ns == drawn
    assert paths["plot:collapse"] == tmp_path / "out" / "collapse.png"


def test_timing_lines():
    r = _collapse_result()
    r.timings = {"boot": 10.0, "setup": 5.0, "settle": 0.0, "sampling": 20.0}
    (line,) = report.timing_lines([r, r])
    assert line == "time: boot 20.0 s, setup 10.0 s, settle 0.0 s, sampling 40.0 s, other 14.0 s"
