"""From repeated runs of two kernels to calls per scenario and figure."""

from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from harness.compare import stats
from harness.compare.figures import passed, run_figures


@dataclass
class Row:
    scenario: str
    figure: str
    unit: str
    better: str
    base: List = field(default_factory=list)       # one value per run (None: none)
    patched: List = field(default_factory=list)
    call: stats.Call = None

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "figure": self.figure, "unit": self.unit,
                "better": self.better, "base": self.base, "patched": self.patched,
                **self.call.to_dict()}


def analyse(scenario, base_runs: Sequence, patched_runs: Sequence,
            threshold_pct: float = stats.THRESHOLD_PCT) -> List[Row]:
    """One row for the pass rate, then one per figure the runs produced."""
    rows = [Row(scenario.name, "pass rate", "", "higher",
                [passed(r) for r in base_runs], [passed(r) for r in patched_runs])]
    rows[0].call = stats.compare_pass_rates(rows[0].base, rows[0].patched)
    for name, meta in _figure_names(scenario, list(base_runs) + list(patched_runs)).items():
        row = Row(scenario.name, name, meta.unit, meta.better,
                  _values(scenario, base_runs, name), _values(scenario, patched_runs, name))
        row.call = stats.compare(row.base, row.patched, row.better, threshold_pct,
                                 resolution=resolution(scenario, meta.unit))
        rows.append(row)
    return rows


# The smallest difference of medians a figure's measurement can tell, by unit.
# A percentage (a converges' error or spread, from tens of samples) is read
# to one point: without that floor a spread of 0.07 % against 0.03 % on
# flat series was called a 52 % change (self-comparison 3).
RESOLUTION = {"%": 1.0, "bytes": 4096.0, "count": 1.0}


def resolution(scenario, unit: str) -> float:
    """A time to reach is known to one sample interval."""
    if unit == "s":
        return scenario.sample.interval
    return RESOLUTION.get(unit, 0.0)


def _figure_names(scenario, runs) -> Dict[str, object]:
    names = {}
    for run in runs:
        for figure in run_figures(scenario, run):
            names.setdefault(figure.name, figure)
    return names


def _values(scenario, runs, name: str) -> List:
    out = []
    for run in runs:
        found = {f.name: f.value for f in run_figures(scenario, run)}
        out.append(found.get(name))
    return out


def overall(rows: Sequence[Row]) -> str:
    calls = {row.call.call for row in rows}
    for call in (stats.REGRESSION, stats.IMPROVEMENT, stats.NO_CHANGE):
        if call in calls:
            return call
    return stats.NOT_ENOUGH
