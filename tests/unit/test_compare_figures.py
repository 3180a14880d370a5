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