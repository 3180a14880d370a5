"""Reproductions of results published on a mailing list: scenarios with a
`reference:` block, run (repeatedly, where theirs is a mean) and set beside
the published numbers, with a verdict per comparison and its reason."""

import json
import statistics
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from harness.errors import InputError
from harness.paths import REPO_ROOT
from harness.reference import DIFFERS, NOT_COMPARABLE, REPRODUCED, judge_reference

REPRODUCTION_DIR = REPO_ROOT / "tests" / "reproductions"
MiB = float(1 << 20)


def available() -> Dict[str, Path]:
    """{name: file} of the reproductions shipped with the harness."""
    return {p.stem: p for p in sorted(REPRODUCTION_DIR.glob("*.yaml"))}


def paths_for(names: Sequence[str]) -> List[Path]:
    """Files for the names given (a shipped name or a scenario file); all shipped
    ones when none is given."""
    known = available()
    if not names:
        return list(known.values())
    paths = []
    for name in names:
        if Path(name).is_file():
            paths.append(Path(name))
        elif name in known:
            paths.append(known[name])
        else:
            raise InputError("reproduce", f"no reproduction {name!r} (known: "
                                          f"{', '.join(known) or 'none'})")
    return paths


def load(paths: Sequence[Path], check_kernel: bool = True) -> list:
    """The scenarios, each validated and refused unless it has a reference."""
    from harness.scenario import load_scenario
    scenarios = []
    for path in paths:
        sc = load_scenario(str(path), check_kernel=check_kernel)
        if sc.reference is None:
            raise InputError(f"{path}: reference", "a reproduction needs a reference: block "
                                                   "(what was published, and where)")
        scenarios.append(sc)
    return scenarios


# ------------------------------------------------------------------ figures

@dataclass
class Measured:
    """Our values of one figure, one per run that gave it."""
    figure: str
    unit: str
    values: List[float] = field(default_factory=list)
    runs: int = 0

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.values) if self.values else None


def measured(sc, results: Sequence) -> Dict[str, Measured]:
    """{published name: our figure's values over the runs} for the mapping."""
    from harness.compare.figures import run_figures
    per_run = [{f.name: f for f in run_figures(sc, r)} for r in results]
    out = {}
    for theirs, ours in sc.reference.mapping.items():
        m = Measured(ours, "", runs=len(results))
        for figures in per_run:
            figure = figures.get(ours)
            if figure is not None and figure.value is not None:
                m.values.append(figure.value)
                m.unit = figure.unit
        out[theirs] = m
    return out


def overall(verdicts: Sequence[str]) -> str:
    if DIFFERS in verdicts:
        return DIFFERS
    return NOT_COMPARABLE if NOT_COMPARABLE in verdicts else REPRODUCED


@dataclass
class Reproduction:
    scenario: object
    results: list
    figures: Dict[str, Measured]
    outcomes: list

    @property
    def verdict(self) -> str:
        return overall([o.verdict for o in self.outcomes])


def judge(sc, results: Sequence) -> Reproduction:
    figures = measured(sc, results)
    outcomes = judge_reference(sc.reference, {k: m.median for k, m in figures.items()})
    return Reproduction(sc, list(results), figures, outcomes)


# ------------------------------------------------------------------ reports

def _ours(value: Optional[float], unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value / MiB:.1f} MiB"
    return f"{value:.3g}{'' if unit in ('', 'count') else ' ' + unit}"


def _theirs(p) -> str:
    spread = f" (sd {p.spread:g})" if p.spread is not None else ""
    samples = f", {p.samples} samples" if p.samples else ""
    return f"{p.value:g} {p.unit}{spread}{samples}"


def comparison_label(c) -> str:
    return f"{c.kind} of {', '.join(c.of)}"


def text(rep: Reproduction, kernel: str) -> str:
    """The report, as it would be pasted into a reply on the list."""
    sc, ref = rep.scenario, rep.scenario.reference
    src = ref.source
    wrap = textwrap.TextWrapper(width=78, initial_indent="  ", subsequent_indent="  ")
    verdicts = " ".join(str(r.verdict) for r in rep.results)
    lines = [f"Reproduction: {sc.name}: {sc.description}",
             f"Source: {', '.join(src.authors)}, {src.date}, {src.list}"]
    if src.subject:
        lines.append(f"  \"{src.subject}\"")
    lines.append(f"  Message-ID: <{src.message_id}>")
    if src.url:
        lines.append(f"  {src.url}")
    lines += ["Their setup:", wrap.fill(ref.setup), "Ours, and how it maps onto theirs:",
              wrap.fill(ref.scale), f"Kernel: {kernel}",
              f"Runs: {len(rep.results)} ({verdicts})", ""]
    header = f"{'published':<30} {'theirs':<26} ours: median (lowest..highest, runs)"
    lines += [header, "-" * len(header)]
    for name, p in ref.published.items():
        m = rep.figures.get(name)
        ours = "(not mapped)" if m is None else _spread(m)
        cond = f" [{p.condition}]" if p.condition else ""
        lines.append(f"{(name + cond)[:30]:<30} {_theirs(p)[:26]:<26} {ours}")
    lines += ["", f"{'comparison':<36} {'verdict':<15} why", "-" * 78]
    for o in rep.outcomes:
        lines.append(f"{comparison_label(o.comparison)[:36]:<36} {o.verdict:<15} {o.reason}")
    lines += ["", f"reproduce {sc.name}: {rep.verdict}"]
    return "\n".join(lines) + "\n"


def _spread(m: Measured) -> str:
    if not m.values:
        return f"- (no run of {m.runs} gave it)"
    return (f"{_ours(m.median, m.unit)} ({_ours(min(m.values), m.unit)}.."
            f"{_ours(max(m.values), m.unit)}, {len(m.values)} of {m.runs})")


def to_dict(rep: Reproduction, kernel: str) -> dict:
    from dataclasses import asdict
    ref = rep.scenario.reference
    return {"name": rep.scenario.name, "verdict": rep.verdict, "kernel": kernel,
            "source": asdict(ref.source), "setup": ref.setup, "scale": ref.scale,
            "scale_factor": ref.scale_factor,
            "runs": [{"verdict": str(r.verdict), "run_dir": r.run_dir} for r in rep.results],
            "published": {name: {**asdict(p), "ours": asdict(rep.figures[name])
                                 if name in rep.figures else None,
                                 "ours_median": rep.figures[name].median
                                 if name in rep.figures else None}
                          for name, p in ref.published.items()},
            "comparisons": [{"kind": o.comparison.kind, "of": o.comparison.of,
                             "verdict": o.verdict, "reason": o.reason}
                            for o in rep.outcomes]}


def write(rep: Reproduction, kernel: str, out: Path) -> str:
    """report.txt, report.json and the plot in `out`; returns the text."""
    body = text(rep, kernel)
    (out / "report.txt").write_text(body)
    (out / "report.json").write_text(json.dumps(to_dict(rep, kernel), indent=2,
                                                default=str) + "\n")
    plot(rep, out / f"{rep.scenario.name}.png")
    return body


def _figure_metrics(sc) -> Dict[str, str]:
    """{our figure name: the metric it is read from}."""
    from harness.compare.figures import figure_names_of
    metrics = {}
    for e in sc.expect:
        for name in figure_names_of([e], []):
            metrics[name] = e.metric
    metrics.update({f.name: f.metric for f in sc.figures})
    return metrics


def plot(rep: Reproduction, path: Path):
    """One panel per metric behind a mapped figure: every run, their median,
    and each published number (times the scale factor) as a dashed line."""
    from harness.compare.report import _panel
    from harness.reference import theirs_in_base_units
    sc, ref = rep.scenario, rep.scenario.reference
    figure_metric = _figure_metrics(sc)
    panels: Dict[str, List[str]] = {}
    for theirs, ours in ref.mapping.items():
        panels.setdefault(figure_metric[ours], []).append(theirs)
    results = [r for r in rep.results if r.series]
    if not results:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), squeeze=False,
                             sharex=True)
    for ax, (metric, names) in zip(axes[:, 0], panels.items()):
        unit = results[0].units.get(metric)
        _panel(ax, metric, {"ours": results}, unit, sides=(("ours", "tab:green"),))
        div = MiB if unit == "bytes" else 1.0
        for name in names:
            p = ref.published[name]
            level = theirs_in_base_units(p) * ref.scale_factor / div
            ax.axhline(level, ls="--", color="black", lw=1)
            ax.annotate(f"published: {name}", xy=(0, level), fontsize=7, va="bottom")
    axes[-1, 0].set_xlabel("seconds since DAMON was turned on")
    fig.suptitle(f"{sc.name}: our runs (green) and the published numbers (dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
