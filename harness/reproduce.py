"""Reproductions of results published on a mailing list: scenarios with a
`reference:` block, run (repeatedly, where theirs is a mean) and set beside
the published numbers, with a verdict per comparison and its reason."""

from __future__ import annotations

import json
import statistics
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from harness.compare.figures import MiB, shown
from harness.errors import InputError
from harness.paths import REPO_ROOT
from harness.reference import (DIFFERS, NOT_COMPARABLE, REPRODUCED, Reference,
                               judge_reference)

REPRODUCTION_DIR = REPO_ROOT / "tests" / "reproductions"


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


@dataclass
class Experiment:
    """A reproduction: one scenario, or one per condition, and the reference."""
    name: str
    description: str
    reference: Reference
    variants: Dict[str, object]     # condition ("" when there are none) -> Scenario
    path: str
    document: Optional[dict] = None  # the whole YAML, when it extends another file


def load(paths: Sequence[Path], check_kernel: bool = True) -> List[Experiment]:
    """Every reproduction, validated whole (each condition as a scenario of its
    own, the reference against all their figures) before anything runs."""
    return [load_one(Path(p), check_kernel) for p in paths]


def load_one(path: Path, check_kernel: bool = True, name: str = "") -> Experiment:
    from harness import conditions
    from harness.scenario import parse_scenario
    from harness.schema import At, Context, model
    from harness.yamlfile import load_yaml
    raw = load_yaml(path, path.name)
    at = At(path.name)
    document = conditions.extended(raw, path, at) \
        if isinstance(raw, dict) and "extends" in raw else None
    if not isinstance(raw, dict) or (document or raw).get("reference") is None:
        raise at.error("reference: a reproduction needs a reference: block (what was "
                       "published, and where)")
    raw = {**(document or raw), "name": raw.get("name") or name or path.stem}
    if "conditions" not in raw:
        sc = parse_scenario(raw, path.name, str(path), check_kernel=check_kernel)
        sc.derived = document is not None
        return Experiment(sc.name, sc.description, sc.reference, {"": sc}, str(path), document)
    variants = {cond: parse_scenario(doc, f"{path.name} [{cond}]", str(path),
                                     check_kernel=check_kernel)
                for cond, doc in conditions.variants(raw, at)}
    for cond, sc in variants.items():
        sc.condition, sc.derived = cond, True
    ctx = Context(base_dir=path.parent)
    ctx.extra["figure_names"] = conditions.figure_names(variants)
    ref = model(Reference)(raw["reference"], at / "reference", ctx)
    first = next(iter(variants.values()))
    return Experiment(raw["name"], first.description, ref, variants, str(path), document)


# ------------------------------------------------------- saved runs

SAVED, KERNEL = "reproduction.yaml", "kernel.txt"


def kernel_line(kernel) -> str:
    """A kernel in one line: release, where it came from, patches, fragments."""
    origin = kernel.origin or {}
    source = origin.get("source")
    where = (source.get("origin") if isinstance(source, dict) else None) \
        or origin.get("package") or kernel.image.name
    line = f"{kernel.release or '?'} ({where}"
    if "patches" in origin:
        line += f"; {len(origin['patches'])} patches"
    fragments = [Path(f.get("path", "")).stem for f in origin.get("fragments", [])
                 if isinstance(f, dict)]
    return line + (f"; fragments {' '.join(fragments)})" if fragments else ")")


def run_dir_name(cond: str, i: int | str) -> str:
    return f"{cond + '-' if cond else ''}run-{i}"


def save_inputs(exp: Experiment, out: Path, kernel: str) -> None:
    """The reproduction file and the kernel, beside its runs, before they
    start: what --report-only needs to report them again."""
    import shutil
    out.mkdir(parents=True, exist_ok=True)
    if exp.document is None:
        shutil.copyfile(exp.path, out / SAVED)
    else:
        import yaml
        (out / SAVED).write_text(f"# {exp.path} with what it extends\n"
                                 + yaml.safe_dump(exp.document, sort_keys=False))
    (out / KERNEL).write_text(kernel + "\n")


def saved_dirs(path: Path) -> List[Path]:
    """The reproductions saved under `path` (one, or a reproduce run's all)."""
    if (path / SAVED).is_file():
        return [path]
    found = sorted(d for d in path.iterdir() if (d / SAVED).is_file()) if path.is_dir() else []
    if not found:
        raise InputError(f"--report-only {path}", f"no reproduction here (no {SAVED})")
    return found


def rejudge(out: Path, echo=print) -> Tuple[Reproduction, str]:
    """A saved reproduction judged again from its runs' saved samples; runs
    that never finished are left out, and said so."""
    from harness import judge as offline
    exp = load_one(out / SAVED, check_kernel=False, name=out.name)
    results = {cond: [result for _, result in
                      offline.numbered_runs(out, run_dir_name(cond, ""), echo)]
               for cond in exp.variants}
    kernel = (out / KERNEL).read_text().strip() if (out / KERNEL).is_file() else "unknown"
    return judge(exp, results), kernel


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


def measured(exp: Experiment, results: Dict[str, Sequence]) -> Dict[str, Measured]:
    """{published name: our figure's values over the runs} for the mapping;
    results: {condition: judged runs}."""
    from harness.compare.figures import run_figures
    from harness.conditions import prefixed
    per_run = {cond: [{prefixed(cond, f.name): f for f in run_figures(exp.variants[cond], r)}
                      for r in runs] for cond, runs in results.items()}
    out = {}
    for theirs, ours in exp.reference.mapping.items():
        m = Measured(ours, "")
        for cond, figure_sets in per_run.items():
            if not cond or ours.startswith(f"{cond}: "):
                m.runs += len(figure_sets)
            for figures in figure_sets:
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
    experiment: Experiment
    results: Dict[str, list]        # condition -> judged runs
    figures: Dict[str, Measured]
    outcomes: list

    @property
    def verdict(self) -> str:
        return overall([o.verdict for o in self.outcomes])

    def all_results(self) -> list:
        return [r for runs in self.results.values() for r in runs]


def judge(exp: Experiment, results: Dict[str, Sequence]) -> Reproduction:
    figures = measured(exp, results)
    outcomes = judge_reference(exp.reference, {k: m.median for k, m in figures.items()})
    return Reproduction(exp, {c: list(r) for c, r in results.items()}, figures, outcomes)


# ------------------------------------------------------------------ reports

def _theirs(p) -> str:
    return f"{p.value:g} {p.unit}" + (f" ± {p.spread:g}" if p.spread is not None else "")


def _detail(p) -> str:
    """What else was published with a number: its samples and condition."""
    parts = [f"{p.samples} samples"] if p.samples else []
    return "; ".join(parts + ([p.condition] if p.condition else []))


def comparison_label(c) -> str:
    return f"{c.kind} of {', '.join(c.of)}"


def _runs_line(rep: Reproduction) -> str:
    parts = []
    for cond, runs in rep.results.items():
        verdicts = " ".join(str(r.verdict) for r in runs)
        parts.append(f"{cond + ': ' if cond else ''}{len(runs)} ({verdicts})")
    return "; ".join(parts)


def text(rep: Reproduction, kernel: str) -> str:
    """The report, as it would be pasted into a reply on the list."""
    exp, ref = rep.experiment, rep.experiment.reference
    src = ref.source
    wrap = textwrap.TextWrapper(width=78, initial_indent="  ", subsequent_indent="  ")
    lines = [f"Reproduction: {exp.name}: {exp.description}",
             f"Source: {', '.join(src.authors)}, {src.date}, {src.list}"]
    if src.subject:
        lines.append(f"  \"{src.subject}\"")
    lines.append(f"  Message-ID: <{src.message_id}>")
    if src.url:
        lines.append(f"  {src.url}")
    lines += ["Their setup:", wrap.fill(ref.setup), "Ours, and how it maps onto theirs:",
              wrap.fill(ref.scale), f"Kernel: {kernel}", f"Runs: {_runs_line(rep)}"]
    lines += [f"Ran on: {_ran_on(rep)}", ""] if _ran_on(rep) else [""]
    header = f"{'published':<24} {'theirs':<28} ours: median (lowest..highest, runs)"
    lines += [header, "-" * len(header)]
    for name, p in ref.published.items():
        m = rep.figures.get(name)
        ours = "(not mapped)" if m is None else _spread(m)
        lines.append(f"{name:<24} {_theirs(p):<28} {ours}")
        if _detail(p):
            lines.append(f"  {_detail(p)}")
    lines += ["", f"{'comparison':<36} {'verdict':<15} why", "-" * 78]
    for o in rep.outcomes:
        label = comparison_label(o.comparison)
        if len(label) > 36:         # a long label gets a line of its own
            lines.append(label)
            label = ""
        lines.append(f"{label:<36} {o.verdict:<15} {o.reason}")
        if o.comparison.note and o.verdict != REPRODUCED:
            lines.append(textwrap.fill(o.comparison.note, width=78, initial_indent=" " * 4 +
                                       "note: ", subsequent_indent=" " * 10))
    lines += ["", f"reproduce {exp.name}: {rep.verdict}"]
    return "\n".join(lines) + "\n"


def _spread(m: Measured) -> str:
    if not m.values:
        return f"- (no run of {m.runs} gave it)"
    return (f"{shown(m.median, m.unit)} ({shown(min(m.values), m.unit)}.."
            f"{shown(max(m.values), m.unit)}, {len(m.values)} of {m.runs})")


def _ran_on(rep: Reproduction) -> str:
    from harness.runner import how_ran
    return how_ran(r.run_dir for runs in rep.results.values() for r in runs if r.run_dir)


def to_dict(rep: Reproduction, kernel: str) -> dict:
    from dataclasses import asdict
    exp, ref = rep.experiment, rep.experiment.reference
    return {"name": exp.name, "verdict": rep.verdict, "kernel": kernel, "runner": _ran_on(rep),
            "source": asdict(ref.source), "setup": ref.setup, "scale": ref.scale,
            "scale_factor": ref.scale_factor,
            "runs": {cond: [{"verdict": str(r.verdict), "run_dir": r.run_dir} for r in runs]
                     for cond, runs in rep.results.items()},
            "published": {name: {**asdict(p), "ours": asdict(rep.figures[name])
                                 if name in rep.figures else None,
                                 "ours_median": rep.figures[name].median
                                 if name in rep.figures else None}
                          for name, p in ref.published.items()},
            "comparisons": [{"kind": o.comparison.kind, "of": o.comparison.of,
                             "verdict": o.verdict, "reason": o.reason,
                             "note": o.comparison.note}
                            for o in rep.outcomes]}


def write(rep: Reproduction, kernel: str, out: Path) -> str:
    """report.txt, report.json and the plot in `out`; returns the text."""
    body = text(rep, kernel)
    (out / "report.txt").write_text(body)
    (out / "report.json").write_text(json.dumps(to_dict(rep, kernel), indent=2,
                                                default=str) + "\n")
    plot(rep, out / f"{rep.experiment.name}.png")
    return body


def _draw_level(ax, p, factor: float, name: str) -> None:
    """A published level dashed, its spread as a band, its series as points;
    `factor` takes the published unit to the panel's."""
    from harness.reference import TO_BASE
    factor *= TO_BASE.get(p.unit, 1.0)
    ax.axhline(p.value * factor, ls="--", color="black", lw=1)
    ax.annotate(f"published: {name}", xy=(0, p.value * factor), fontsize=7, va="bottom")
    if p.spread:
        ax.axhspan((p.value - p.spread) * factor, (p.value + p.spread) * factor,
                   color="grey", alpha=0.15)
    if p.points:
        ax.plot([t for t, _ in p.points], [v * factor for _, v in p.points], "kx", ms=5)


COLORS = ("tab:green", "tab:blue", "tab:orange", "tab:red", "tab:purple", "tab:brown")


def plot(rep: Reproduction, path: Path):
    """One panel per metric behind a mapped figure: every run of each
    condition, their median, each published level (times the scale factor)
    dashed and each published time to reach dotted."""
    from harness.compare.report import _panel, save_panels
    from harness.reference import theirs_in_base_units
    exp, ref = rep.experiment, rep.experiment.reference
    from harness import conditions
    kinds = conditions.figure_names(exp.variants)
    panels: Dict[str, List[tuple]] = {}
    for theirs, ours in ref.mapping.items():
        panels.setdefault(kinds[ours].metric, []).append((theirs, kinds[ours].drawn))
    runs = {cond or "ours": [r for r in rs if r.series] for cond, rs in rep.results.items()}
    first = next((r for rs in runs.values() for r in rs), None)
    if first is None:
        return None
    sides = tuple(zip(runs, COLORS))

    def draw(ax, metric):
        unit = first.units.get(metric)
        _panel(ax, metric, runs, unit, sides=sides)
        div = MiB if unit == "bytes" else 1.0
        for name, kind in panels[metric]:
            theirs = theirs_in_base_units(ref.published[name]) * ref.scale_factor
            if kind == "level":
                _draw_level(ax, ref.published[name], ref.scale_factor / div, name)
            elif kind == "time":
                ax.axvline(theirs, ls=":", color="black", lw=1)
                ax.annotate(f"published: {name}", xy=(theirs, 0), fontsize=7, rotation=90,
                            va="bottom")
    return save_panels(list(panels), path,
                       f"{exp.name}: our runs and the published numbers (dashed)", draw)
