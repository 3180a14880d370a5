"""A comparison's analysis and report on runs captured from real guests: the
same runs on both sides change nothing; the same runs made slower are a
regression with the numbers that show it."""

import copy
import json
from pathlib import Path

from harness import judge
from harness.compare import analysis, report, stats

RUN = Path(__file__).parent.parent / "data" / "runs" / "collapse"


def collapse_runs(n: int, slower: float = 1.0, jitter: float = 0.02):
    result, _ = judge.judge_dir(RUN)
    runs = []
    for i in range(n):
        run = copy.deepcopy(result)
        for check in run.checks:
            if "reached_at" in check.numbers:
                check.numbers["reached_at"] *= slower * (1 + jitter * i)
        runs.append(run)
    return judge.load_run(RUN), runs


def test_the_same_runs_on_both_sides_are_no_change():
    sc, runs = collapse_runs(5)
    rows = analysis.analyse(sc, runs, copy.deepcopy(runs))
    assert {r.call.call for r in rows} == {stats.NO_CHANGE}
    assert analysis.overall(rows) == stats.NO_CHANGE


def test_runs_four_times_slower_are_a_regression_of_the_time_to_reach():
    sc, base = collapse_runs(5)
    _, patched = collapse_runs(5, slower=4.0)
    rows = analysis.analyse(sc, base, patched)
    slow = [r for r in rows if r.call.call == stats.REGRESSION]
    assert slow and all(r.figure.endswith("time to reach") for r in slow)
    assert next(r for r in rows if r.figure == "pass rate").call.call == stats.NO_CHANGE
    assert analysis.overall(rows) == stats.REGRESSION
    text = report.table(rows, {"base": "A", "patched": "B"}, 5, 10.0)
    assert "REGRESSION" in text and "time to reach" in text and "p < 0.05" in text


def test_the_json_report_keeps_every_value(tmp_path):
    sc, base = collapse_runs(4)
    rows = analysis.analyse(sc, base, copy.deepcopy(base))
    data = json.loads(report.write_json(rows, tmp_path / "c.json", {"call": "x"}).read_text())
    assert len(data["rows"]) == len(rows) and len(data["rows"][1]["base"]) == 4


def test_the_overlay_plot_is_drawn(tmp_path):
    sc, base = collapse_runs(2)
    path = report.plot(sc.name, {"base": base, "patched": copy.deepcopy(base)},
                       tmp_path / "p.png")
    assert path.stat().st_size > 1000


def comparison_dir(tmp_path: Path, runs_a_side: int) -> Path:
    """A comparison directory as `compare` leaves it, from one captured run."""
    import shutil
    out = tmp_path / "cmp"
    for side in ("base", "patched"):
        for rep in range(1, runs_a_side + 1):
            shutil.copytree(RUN, out / side / f"collapse-{rep}")
    (out / "patched" / f"collapse-{runs_a_side + 1}").mkdir()    # interrupted: no result
    (out / "compare-inputs.json").write_text(json.dumps(
        {"sides": {"base": "A", "patched": "B"}, "repeat": runs_a_side,
         "scenarios": ["collapse"], "kernels": {}}))
    return out


def test_report_only_judges_the_saved_runs_again_and_skips_unfinished_ones(tmp_path):
    from harness.compare import matrix
    out = comparison_dir(tmp_path, 4)
    skipped = []
    scenarios, runs, inputs = matrix.rejudge(out, echo=skipped.append)
    assert [sc.name for sc in scenarios] == ["collapse"]
    assert len(runs[("base", "collapse")]) == len(runs[("patched", "collapse")]) == 4
    assert len(skipped) == 1 and "collapse-5" in skipped[0]
    outcome = matrix.report_runs(scenarios, runs, inputs, 10.0, out)
    assert outcome.call == stats.NO_CHANGE
    assert json.loads((out / "compare.json").read_text())["call"] == stats.NO_CHANGE
    assert "compare: NO CHANGE" in (out / "compare.txt").read_text()


def test_report_only_reads_an_older_comparison_from_its_compare_json(tmp_path):
    from harness.compare import matrix
    out = comparison_dir(tmp_path, 4)
    inputs = json.loads((out / "compare-inputs.json").read_text())
    scenarios, runs, _ = matrix.rejudge(out, echo=lambda m: None)
    matrix.report_runs(scenarios, runs, inputs, 10.0, out)
    (out / "compare-inputs.json").unlink()
    scenarios, runs, again = matrix.rejudge(out, echo=lambda m: None)
    assert again["scenarios"] == ["collapse"] and again["sides"] == inputs["sides"]


def test_the_table_gives_each_figures_spread_and_what_no_change_could_have_shown():
    sc, base = collapse_runs(5)
    _, patched = collapse_runs(5, jitter=0.03)
    text = report.table(analysis.analyse(sc, base, patched), {"base": "A", "patched": "B"},
                        5, 10.0)
    spread = text.split("spread (lowest .. highest run)")[1]
    line = next(l for l in spread.splitlines() if "hot region becomes huge: time to reach" in l)
    assert " .. " in line and "could show" in line


def test_a_zero_base_median_could_show_a_size_not_a_percentage():
    row = analysis.Row("memcg", "stray pages: worst sample", "bytes", "lower",
                       [0.0] * 5, [0.0, 0.0, 4096.0 * 256, 0.0, 0.0])
    row.call = stats.compare(row.base, row.patched, "lower", resolution=4096.0)
    line = report._spread_line(row)
    assert "could show 1.0 MiB" in line and "%" not in line
