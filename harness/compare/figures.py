"""The figures a comparison of kernels looks at, taken from judged runs.

Every expectation gives the numbers the judge measured (harness.checks):
how long a `reaches` took, how far a `converges` mean was from its target
and how much it spread, the worst sample of a `stays`. Each figure says
which way is better, so a comparison can tell a regression from an
improvement.
"""

from dataclasses import dataclass
from typing import List, Optional

from harness.verdict import Verdict


@dataclass(frozen=True)
class Figure:
    name: str               # "<expectation>: <what>"
    value: Optional[float]  # None: this run never produced it (never reached)
    better: str             # "lower" or "higher"
    unit: str = ""


def run_figures(scenario, result) -> List[Figure]:
    """The figures of one judged run (a report.ScenarioResult) of `scenario`."""
    expectations = {e.name: e for e in scenario.expect}
    figures = []
    for check in result.checks:
        expectation = expectations.get(check.name)
        if expectation is not None and expectation.should == "pass":
            figures += _check_figures(check, expectation, result.units.get(check.metric, ""))
    for extra in scenario.figures:
        figures.append(Figure(extra.name, _extra_value(extra, result.series.get(extra.metric)),
                              extra.better, result.units.get(extra.metric, "")))
    return figures


def _extra_value(extra, series) -> Optional[float]:
    """A scenario's own figure from its metric's samples; None without any."""
    from harness.checks import readable_pairs
    values = [v for t, v in readable_pairs(series, extra.delta) if t >= extra.after] \
        if series is not None else []
    if not values:
        return None
    if extra.take == "mean":
        return sum(values) / len(values)
    return {"last": values[-1], "max": max(values), "min": min(values)}[extra.take]


def _check_figures(check, expectation, unit: str) -> List[Figure]:
    n = check.numbers
    if check.kind == "reaches":
        # A run that never reached counts as the window's end: the slowest
        # outcome, still ranked, instead of a value left out.
        reached = n.get("reached_at", n.get("within"))
        return [Figure(f"{check.name}: time to reach", reached, "lower", "s")]
    if check.kind == "converges" and "mean" in n:
        spread = 100.0 * n["stdev"] / abs(n["mean"]) if n["mean"] else None
        return [Figure(f"{check.name}: error of the mean", abs(n["error_pct"]), "lower", "%"),
                Figure(f"{check.name}: relative spread", spread, "lower", "%")]
    if check.kind == "stays" and "worst" in n:
        better = "higher" if expectation.stays.at_least is not None else "lower"
        return [Figure(f"{check.name}: worst sample", n["worst"], better, unit)]
    return []


def figure_names(scenario) -> dict:
    """{figure name: which way is better} that runs of `scenario` can give."""
    return figure_names_of(scenario.expect, scenario.figures)


def figure_names_of(expectations, extra_figures) -> dict:
    names = {}
    for e in expectations:
        if e.should != "pass":
            continue
        if e.kind == "reaches":
            names[f"{e.name}: time to reach"] = "lower"
        elif e.kind == "converges":
            names[f"{e.name}: error of the mean"] = "lower"
            names[f"{e.name}: relative spread"] = "lower"
        elif e.kind == "stays":
            names[f"{e.name}: worst sample"] = "higher" if e.stays.at_least is not None \
                else "lower"
    names.update({extra.name: extra.better for extra in extra_figures})
    return names


def passed(result) -> bool:
    return result.verdict == Verdict.PASS
