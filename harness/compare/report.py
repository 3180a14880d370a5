"""A comparison's reports: a plain-text table for a mail, JSON, and one plot
per scenario with both kernels' runs overlaid."""

import json
import statistics
from pathlib import Path
from typing import Dict, List, Sequence

from harness.compare.analysis import Row
from harness.compare.figures import MiB, shown
from harness.compare.stats import ALPHA, could_show

def table(rows: Sequence[Row], sides: Dict[str, str], repeat: int, threshold: float,
          runner: str = "") -> str:
    lines = [f"base:    {sides['base']}", f"patched: {sides['patched']}",
             f"{repeat} runs per kernel, interleaved; a change is called when p < {ALPHA:g} "
             f"(Mann-Whitney U) and it is at least {threshold:g} % of the base median; "
             f"CI: 95 % bootstrap of the difference of medians."]
    lines += [f"runs: {runner}"] if runner else []
    lines.append("")
    header = (f"{'scenario':<20} {'figure':<44} {'base':>11} {'patched':>11} {'change':>8} "
              f"{'p':>7}  call")
    lines += [header, "-" * len(header)]
    for r in rows:
        c = r.call
        change = f"{c.change_pct:+.0f}%" if c.change_pct is not None else "-"
        if r.unit == "status":
            base, patched = r.base[0], r.patched[0]
        elif r.figure == "pass rate":
            base = f"{sum(r.base)}/{len(r.base)}"
            patched = f"{sum(r.patched)}/{len(r.patched)}"
        else:
            base, patched = shown(c.base_median, r.unit), shown(c.patched_median, r.unit)
        p = f"{c.p_value:.3g}" if c.p_value is not None else "-"
        lines.append(f"{r.scenario[:20]:<20} {r.figure[:44]:<44} {base:>11} {patched:>11} "
                     f"{change:>8} {p:>7}  {c.call}")
    lines += ["", "why:"] + [f"  {r.scenario}: {r.figure}: {r.call.reason}" for r in rows
                             if r.call.call != "NO CHANGE" or r.figure == "pass rate"]
    spreads = [_spread_line(r) for r in rows if r.unit != "status" and r.figure != "pass rate"]
    if spreads:
        lines += ["", "spread (lowest .. highest run) and, for NO CHANGE, the smallest change "
                      "these runs could show:"] + spreads
    return "\n".join(lines) + "\n"


def _spread_line(r: Row) -> str:
    parts = []
    for side, values in (("base", r.base), ("patched", r.patched)):
        known = [v for v in values if v is not None]
        parts.append(f"{side} {shown(min(known), r.unit)} .. {shown(max(known), r.unit)}"
                     if known else f"{side} -")
    if r.call.detectable is not None:
        parts.append(f"could show {could_show(r.call, lambda v: shown(v, r.unit))}")
    return f"  {r.scenario}: {r.figure}: {'; '.join(parts)}"


def write_json(rows: Sequence[Row], path: Path, extra: dict) -> Path:
    path.write_text(json.dumps({**extra, "rows": [r.to_dict() for r in rows]}, indent=2,
                               default=str) + "\n")
    return path


def plot(scenario_name: str, runs: Dict[str, list], path: Path):
    """One panel per checked metric: every run thin, each kernel's median bold."""
    first = next((r for side in runs.values() for r in side if r.series), None)
    if first is None:
        return None
    metrics = [m for m in dict.fromkeys(c.metric for c in first.checks) if m in first.series]
    return save_panels(metrics, path, f"{scenario_name}: base (blue) and patched (orange)",
                       lambda ax, metric: _panel(ax, metric, runs, first.units.get(metric)))


def save_panels(keys, path: Path, title: str, draw):
    """A PNG of one panel per key, stacked on one time axis; draw(ax, key)
    fills each."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 2.6 * len(keys)), squeeze=False,
                             sharex=True)
    for ax, key in zip(axes[:, 0], keys):
        draw(ax, key)
    axes[-1, 0].set_xlabel("seconds since DAMON was turned on")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


SIDE_COLORS = (("base", "tab:blue"), ("patched", "tab:orange"))


def _panel(ax, metric: str, runs: Dict[str, list], unit: str, sides=SIDE_COLORS) -> None:
    """Every run of each side thin, the side's median bold."""
    div = MiB if unit == "bytes" else 1.0
    for side, color in sides:
        curves = [r.series[metric] for r in runs.get(side, []) if metric in r.series]
        for s in curves:
            ax.plot(s.times, [v / div if v is not None else None for v in s.values],
                    color=color, lw=0.6, alpha=0.5)
        times, medians = _median_curve(curves)
        if times:
            ax.plot(times, [m / div for m in medians], color=color, lw=2.2, label=side)
    ax.set_ylabel(f"{metric}{' MiB' if unit == 'bytes' else ''}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _median_curve(curves) -> (List[float], List[float]):
    """Median across runs at each sample index (runs sample on one schedule)."""
    if not curves:
        return [], []
    n = min(len(s.times) for s in curves)
    times, medians = [], []
    for i in range(n):
        values = [s.values[i] for s in curves if s.values[i] is not None]
        if values:
            times.append(statistics.median(s.times[i] for s in curves))
            medians.append(statistics.median(values))
    return times, medians
