"""Figures for comparing kernels, from runs captured from real guests."""

from pathlib import Path

import pytest

from harness import judge
from harness.compare.figures import run_figures

RUNS = Path(__file__).parent.parent / "data" / "runs"


def figures_of(name: str):
    result, _ = judge.judge_dir(RUNS / name)
    return {f.name: f for f in run_figures(judge.load_run(RUNS / name), result)}, result


def test_a_reaches_gives_its_time_to_reach():
    figures, result = figures_of("collapse")
    reach = next(c for c in result.checks if c.kind == "reaches" and c.should == "pass")
    figure = figures[f"{reach.name}: time to reach"]
    assert figure.value == reach.numbers["reached_at"] and figure.better == "lower"


def test_a_converges_gives_its_error_and_spread():
    figures, result = figures_of("memcg-convergence")
    check = next(c for c in result.checks if c.kind == "converges")
    error = figures[f"{check.name}: error of the mean"]
    spread = figures[f"{check.name}: relative spread"]
    assert error.value == pytest.approx(abs(check.numbers["error_pct"]))
    assert spread.value == pytest.approx(100 * check.numbers["stdev"] / check.numbers["mean"])


def test_a_stays_gives_its_worst_sample_and_which_way_is_better():
    seen = 0
    for name in ("migration", "hint-path", "damon-hugepage"):
        figures, result = figures_of(name)
        for check in (c for c in result.checks if c.kind == "stays" and c.should == "pass"):
            figure = figures[f"{check.name}: worst sample"]
            assert figure.value == check.numbers["worst"]
            assert figure.better in ("lower", "higher")
            seen += 1
    assert seen

def test_a_scenario_names_its_own_figures_from_the_samples():
    from harness import judge
    from harness.compare.figures import figure_names
    from harness.scenario import parse_scenario
    import yaml
    result, _ = judge.judge_dir(RUNS / "collapse")
    raw = yaml.safe_load((RUNS / "collapse" / "scenario.yaml").read_text())
    raw["figures"] = [{"name": "hot at the end", "metric": "hot_thp", "better": "higher"},
                      {"name": "hot peak late", "metric": "hot_thp", "take": "max",
                       "after": "20s", "better": "higher"},
                      {"name": "collapses", "metric": "thp_collapse_alloc", "delta": True,
                       "take": "max", "better": "higher"}]
    sc = parse_scenario(raw, check_kernel=False)
    found = {f.name: f.value for f in run_figures(sc, result)}
    series = result.series["hot_thp"]
    hot = [v for v in series.values if v is not None]
    late = [v for t, v in zip(series.times, series.values) if v is not None and t >= 20]
    collapses = [v for v in result.series["thp_collapse_alloc"].values if v is not None]
    assert found["hot at the end"] == hot[-1]
    assert found["hot peak late"] == max(late)
    assert found["collapses"] == max(collapses) - collapses[0]
    assert figure_names(sc)["hot at the end"].better == "higher"
