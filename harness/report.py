"""Reports of scenario runs: JUnit XML, a JSON summary, one PNG plot per
scenario, and one terminal line per scenario."""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from harness.checks import CheckResult
from harness.rundir import Series
from harness.verdict import Verdict

MiB = float(1 << 20)


@dataclass
class ScenarioResult:
    """One scenario's outcome as the engine (or the offline judge) hands it
    to the reports."""
    name: str
    verdict: Verdict
    checks: List[CheckResult] = field(default_factory=list)
    series: Dict[str, Series] = field(default_factory=dict)
    units: Dict[str, str] = field(default_factory=dict)        # metric -> bytes|count
    delta_metrics: List[str] = field(default_factory=list)     # plotted as increases
    message: str = ""               # why, for ERROR/CRASH/HANG/BOOT_FAIL
    excerpt: str = ""               # console lines around a crash
    wall_time: float = 0.0
    timings: Dict[str, float] = field(default_factory=dict)   # boot, setup, settle, sampling
    run_dir: Optional[str] = None
    path: str = ""                  # the scenario file
    guest_state: Dict[str, str] = field(default_factory=dict)  # e.g. numa_balancing before/after
    attempts: List[dict] = field(default_factory=list)  # earlier attempts (run --retries)
    kernel_label: str = ""          # run --kernels: which of the kernels it ran on


def with_attempts(final: "ScenarioResult", earlier: Sequence["ScenarioResult"]) -> "ScenarioResult":
    """The last attempt's result, with what each earlier one gave; one that
    PASSes only after a FAIL is FLAKY."""
    if not earlier:
        return final
    final.attempts = [{"attempt": n, "verdict": r.verdict, "why": _deciding(r),
                       "run_dir": r.run_dir} for n, r in enumerate(earlier, 1)]
    if final.verdict == Verdict.PASS:
        final.verdict = Verdict.FLAKY
        final.message = (f"passed on attempt {len(earlier) + 1} only; "
                         + "; ".join(f"attempt {a['attempt']}: {a['verdict']} {a['why']}"
                                     for a in final.attempts))
    return final


def new_result(sc, run_dir: Optional[Path] = None) -> ScenarioResult:
    """An ERROR result for scenario `sc` until a verdict replaces it."""
    return ScenarioResult(
        name=sc.name, verdict=Verdict.ERROR, path=sc.path,
        run_dir=str(run_dir) if run_dir else None,
        units={n: m.unit for n, m in sc.sample.metrics.items()},
        delta_metrics=sorted({e.metric for e in sc.expect if e.delta}))


# ------------------------------------------------------------------ terminal

def _deciding(result: ScenarioResult) -> str:
    if result.verdict == Verdict.FLAKY:
        return result.message
    if result.verdict not in (Verdict.PASS, Verdict.FAIL) or not result.checks:
        return result.message or "no checks were judged"
    bad = [c for c in result.checks if c.verdict != Verdict.PASS]
    pick = bad[0] if bad else result.checks[0]
    expected = " (expected to fail)" if pick.should == "fail" else ""
    return f"{pick.name}{expected}: {pick.summary}"


def progress(line: str) -> None:
    """A progress line as it happens, also when stdout is a file or a pipe."""
    print(line, flush=True)


def summary_line(result: ScenarioResult) -> str:
    ok = sum(1 for c in result.checks if c.verdict == Verdict.PASS)
    return (f"{result.verdict:<9} {result.name:<28} {ok}/{len(result.checks)} checks "
            f"{result.wall_time:6.1f} s  {_deciding(result)}")


def summary_table(results: Sequence[ScenarioResult]) -> str:
    lines = [summary_line(r) for r in results]
    counts: Dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    total = sum(r.wall_time for r in results)
    tally = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    lines.append(f"{len(results)} scenarios: {tally}; wall time {total:.1f} s")
    lines += timing_lines(results)
    lines += compare_reach_times(results)
    return "\n".join(lines)


def matrix(results: Sequence[ScenarioResult]) -> Dict[str, Dict[str, List[str]]]:
    """{scenario: {kernel: [verdict of each run]}}."""
    out: Dict[str, Dict[str, List[str]]] = {}
    for r in results:
        out.setdefault(r.name, {}).setdefault(r.kernel_label, []).append(str(r.verdict))
    return out


def matrix_table(results: Sequence[ScenarioResult]) -> str:
    """Scenario x kernel, each cell its runs' verdicts; then why each SKIP
    and each run that did not pass."""
    cells = matrix(results)
    kernels = list(dict.fromkeys(r.kernel_label for r in results))
    width = max(12, *(len(k) + 2 for k in kernels))
    lines = [f"{'scenario':<30}" + "".join(f"{k:<{width}}" for k in kernels)]
    for name, row in cells.items():
        lines.append(f"{name[:29]:<30}" + "".join(
            f"{'/'.join(dict.fromkeys(row.get(k, ['-']))):<{width}}" for k in kernels))
    why = [f"  {r.name} on {r.kernel_label}: {r.verdict}: {_deciding(r)}" for r in results
           if r.verdict != Verdict.PASS]
    return "\n".join(lines + (["why:"] + why if why else []))


TIMING_PARTS = ("boot", "setup", "settle", "sampling")


def timing_lines(results: Sequence[ScenarioResult]) -> List[str]:
    """Where the wall time went: boot, setup, settling (part of sampling
    before the converges window), the rest of sampling, and other (reports,
    artefacts, teardown)."""
    totals = {k: 0.0 for k in TIMING_PARTS + ("other",)}
    for r in results:
        t = r.timings
        parts = {"boot": t.get("boot", 0.0), "setup": t.get("setup", 0.0),
                 "settle": t.get("settle", 0.0),
                 "sampling": t.get("sampling", 0.0) - t.get("settle", 0.0)}
        parts["other"] = max(0.0, r.wall_time - sum(parts.values()))
        for k, v in parts.items():
            totals[k] += v
    return ["time: " + ", ".join(f"{k} {v:.1f} s" for k, v in totals.items())]


def compare_reach_times(results: Sequence[ScenarioResult]) -> List[str]:
    """For expectations with the same name in several scenarios (e.g. 'hot
    region becomes huge' in collapse and hint-path), how the times compare."""
    reached: Dict[str, List[tuple]] = {}
    for r in results:
        for c in r.checks:
            if c.kind == "reaches" and c.should == "pass" and "reached_at" in c.numbers:
                reached.setdefault(c.name, []).append((c.numbers["reached_at"], r.name))
    lines = []
    for name, times in sorted(reached.items()):
        if len(times) < 2:
            continue
        times.sort()
        base_t, base = times[0]
        for t, scen in times[1:]:
            ratio = f"{t / base_t:.1f}x" if base_t > 0 else "n/a"
            lines.append(f"'{name}': {scen} at {t:.1f} s vs {base} at {base_t:.1f} s "
                         f"({ratio} slower)")
    return lines


# --------------------------------------------------------------------- JSON

def _clean_number(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    return x


def result_dict(result: ScenarioResult) -> dict:
    return {
        "name": result.name, "verdict": result.verdict, "path": result.path,
        "message": result.message, "wall_time": result.wall_time,
        "timings": result.timings, "run_dir": result.run_dir,
        "guest_state": result.guest_state, "attempts": result.attempts,
        **({"kernel": result.kernel_label} if result.kernel_label else {}),
        "checks": [{"name": c.name, "metric": c.metric, "kind": c.kind,
                    "should": c.should, "met": c.met, "verdict": c.verdict,
                    "summary": c.summary,
                    "numbers": {k: _clean_number(v) for k, v in c.numbers.items()}}
                   for c in result.checks],
    }


def json_summary(results: Sequence[ScenarioResult], path: Path) -> Path:
    from harness.runner import how_ran
    runner = how_ran(r.run_dir for r in results if r.run_dir)
    data = {"scenarios": [result_dict(r) for r in results],
            "comparisons": compare_reach_times(results),
            "verdicts": {r.name: r.verdict for r in results},
            **({"matrix": matrix(results)} if any(r.kernel_label for r in results) else {}),
            **({"runner": runner} if runner else {})}
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
    return Path(path)


def kcidb_json(results: Sequence[ScenarioResult], path: Path) -> Path:
    from harness import kcidb
    doc = kcidb.Document()
    kcidb.add_scenarios(doc, results)
    return doc.write(path)


# -------------------------------------------------------------------- JUnit

def junit_xml(results: Sequence[ScenarioResult], path: Path,
              suite: str = "damon-harness") -> Path:
    from junit_xml import TestSuite, to_xml_report_string
    cases = [_junit_case(r) for r in results]
    xml = to_xml_report_string([TestSuite(suite, cases)])
    Path(path).write_text(xml)
    return Path(path)


def _junit_case(r: ScenarioResult):
    from junit_xml import TestCase
    out = "\n".join(f"{c.verdict} {c.name}: {c.summary}" for c in r.checks)
    if r.run_dir:
        out += f"\nartefacts: {r.run_dir}"
    classname = f"scenarios.{r.kernel_label}" if r.kernel_label else "scenarios"
    case = TestCase(r.name, classname=classname, elapsed_sec=r.wall_time,
                    stdout=out, file=r.path or None)
    if r.attempts:
        out += "".join(f"\nattempt {a['attempt']}: {a['verdict']} {a['why']} ({a['run_dir']})"
                       for a in r.attempts)
        case.stdout = out
    if r.verdict == Verdict.FLAKY:
        case.status = str(r.verdict)    # passed, but only on a retry: not a PASS
    elif r.verdict == Verdict.SKIP:
        case.add_skipped_info(message=r.message)
    elif r.verdict == Verdict.FAIL:
        case.add_failure_info(message=_deciding(r), output=out)
    elif r.verdict != Verdict.PASS:
        case.add_error_info(message=f"{r.verdict}: {r.message}",
                            output=r.excerpt or out, error_type=str(r.verdict))
    return case


# -------------------------------------------------------------------- plots

def plot(result: ScenarioResult, path: Path) -> Optional[Path]:
    """One panel per checked metric: the series, each check's bound, target
    and tolerance band, and its time window."""
    metrics = [m for m in dict.fromkeys(c.metric for c in result.checks)
               if m in result.series]
    if not metrics:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(metrics), 1, figsize=(8, 2.6 * len(metrics)),
                             squeeze=False, sharex=True)
    for ax, metric in zip(axes[:, 0], metrics):
        _panel(ax, result, metric)
    axes[-1, 0].set_xlabel("seconds since DAMON was turned on")
    fig.suptitle(f"{result.name}: {result.verdict}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def _scale(result: ScenarioResult, metric: str):
    return (MiB, "MiB") if result.units.get(metric) == "bytes" else (1.0, "")


def _panel(ax, result: ScenarioResult, metric: str) -> None:
    s = result.series[metric]
    div, unit = _scale(result, metric)
    pairs = [(t, v) for t, v in zip(s.times, s.values) if v is not None]
    delta = metric in result.delta_metrics
    base = pairs[0][1] if (delta and pairs) else 0.0
    ax.plot([t for t, _ in pairs], [(v - base) / div for _, v in pairs],
            marker=".", label=metric + (" (increase)" if delta else ""))
    tmax = max(s.times) if s.times else 1.0
    for c in result.checks:
        if c.metric == metric:
            _draw_check(ax, c, div, tmax)
    ax.set_ylabel(f"{metric} {unit}".strip())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _draw_check(ax, c: CheckResult, div: float, tmax: float) -> None:
    b = c.band
    if c.kind == "converges" and "target" in b:
        ax.axhline(b["target"] / div, color="green", ls="--", lw=1, label=f"target ({c.name})")
        ax.fill_between([b["from"], tmax], b["lower"] / div, b["upper"] / div,
                        color="green", alpha=0.15, label="tolerance")
        if "mean" in c.numbers:
            ax.hlines(c.numbers["mean"] / div, b["from"], tmax, color="black", lw=1,
                      label=f"mean = {c.numbers['mean'] / div:.1f}")
    elif "bound" in b:
        color = "red" if c.kind == "stays" else "orange"
        ax.axhline(b["bound"] / div, color=color, ls="--", lw=1, label=f"{c.kind}: {c.name}")
        if "until" in b:
            ax.axvline(b["until"], color=color, ls=":", lw=1)
        if "reached_at" in c.numbers:
            ax.axvline(c.numbers["reached_at"], color="gray", ls="-", lw=0.8)


# -------------------------------------------------------------- all at once

def write_reports(results: Sequence[ScenarioResult], out_dir: Path) -> Dict[str, Path]:
    """junit.xml and summary.json in out_dir. A scenario's plot is drawn
    once, by the run, in its run directory; one without a run directory
    gets it drawn here."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"junit": junit_xml(results, out_dir / "junit.xml"),
             "json": json_summary(results, out_dir / "summary.json")}
    paths["kcidb"] = kcidb_json(results, out_dir / "kcidb.json")
    if any(r.kernel_label for r in results):    # run --kernels: the table for a mail
        paths["matrix"] = out_dir / "matrix.txt"
        paths["matrix"].write_text(matrix_table(results) + "\n")
    for r in results:
        png = Path(r.run_dir) / f"{r.name}.png" if r.run_dir else plot(
            r, out_dir / f"{r.name}.png")
        if png and Path(png).exists():
            paths[f"plot:{r.name}"] = Path(png)
    return paths
