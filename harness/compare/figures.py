"""The figures a comparison of kernels looks at, taken from judged runs.

Every expectation gives the numbers the judge measured (harness.checks):
how long a `reaches` took, how far a `converges` mean was from its target
and how much it spread, the worst sample of a `stays`. Each figure says
which way is better, so a comparison can tell a regression from an
improvement.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional

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
        # outcome, still ranked, instead of a value left out. After a step,
        # the time counts from the step's end.
        reached = n["reached_at"] - n.get("since", 0.0) if "reached_at" in n \
            else n.get("within")
        return [Figure(f"{check.name}: time to reach", reached, "lower", "s")]
    if check.kind == "converges" and "mean" in n:
        spread = 100.0 * n["stdev"] / abs(n["mean"]) if n["mean"] else None
        return [Figure(f"{check.name}: error of the mean", abs(n["error_pct"]), "lower", "%"),
                Figure(f"{check.name}: relative spread", spread, "lower", "%")]
    if check.kind == "stays" and "worst" in n:
        better = "higher" if expectation.stays.at_least is not None else "lower"
        return [Figure(f"{check.name}: worst sample", n["worst"], better, unit)]
    return []


@dataclass(frozen=True)
class FigureKind:
    """What a figure name stands for, before any run gave it a value."""
    better: str             # "lower" or "higher"
    metric: str             # the metric its values come from
    drawn: Optional[str]    # a published number for it is drawn as a "time"
    #                         (on the time axis), a "level" (on the metric's), or not


def figure_names(scenario) -> Dict[str, FigureKind]:
    """{figure name: its kind} that runs of `scenario` can give."""
    return figure_names_of(scenario.expect, scenario.figures)


def figure_names_of(expectations, extra_figures) -> Dict[str, FigureKind]:
    names = {}
    for e in expectations:
        if e.should != "pass":
            continue
        if e.kind == "reaches":
            names[f"{e.name}: time to reach"] = FigureKind("lower", e.metric, "time")
        elif e.kind == "converges":
            names[f"{e.name}: error of the mean"] = FigureKind("lower", e.metric, None)
            names[f"{e.name}: relative spread"] = FigureKind("lower", e.metric, None)
        elif e.kind == "stays":
            better = "higher" if e.stays.at_least is not None else "lower"
            names[f"{e.name}: worst sample"] = FigureKind(better, e.metric, None)
    names.update({extra.name: FigureKind(extra.better, extra.metric, "level")
                  for extra in extra_figures})
    return names


MiB = float(1 << 20)


def shown(value: Optional[float], unit: str) -> str:
    """A figure's value for a report: sizes in MiB, 3 significant digits."""
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value / MiB:.1f} MiB"
    return f"{value:.3g}" + ("" if unit in ("", "count") else f" {unit}")


def passed(result) -> bool:
    return result.verdict == Verdict.PASS
