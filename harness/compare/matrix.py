"""Run scenarios on two kernels, repeatedly and interleaved, keep every run,
and hand the judged runs to the analysis."""

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from harness.compare import analysis, report, selftests
from harness.errors import InputError
from harness.kernel.artifact import Kernel, user_kernel
from harness.kernel.build import build_kernel, validate_build_inputs
from harness.runner import how_ran

SIDES = ("base", "patched")


@dataclass
class Outcome:
    call: str
    rows: List[analysis.Row]
    text: str


def validate_side(name: str, spec: dict, own_flags: Sequence[str] = ()) -> None:
    """own_flags: the flags (--source, --config) this side got a value of its
    own for; an error about one names the side's flag, --patched-source."""
    if spec["kernel"]:
        user_kernel(spec["kernel"], flag=f"--{name}-kernel")
        return
    try:
        validate_build_inputs(spec["source"], spec["patches"], spec["fragments"])
    except InputError as error:
        if error.where not in own_flags:
            raise
        raise InputError(f"--{name}-{error.where[2:]}", error.message) from None


def kernel_of(spec: dict) -> Kernel:
    if spec["kernel"]:
        return user_kernel(spec["kernel"])
    return build_kernel(source=spec["source"], patches=spec["patches"],
                        fragments=spec["fragments"])


def describe(spec: dict) -> str:
    if spec["kernel"]:
        return spec["kernel"]
    patches = " ".join(Path(p).name for p in spec["patches"]) or "no patches"
    return f"{spec['source'] or 'Debian linux-source-7.3'} + {patches}"


INPUTS = "compare-inputs.json"


def compare(scenarios: Sequence, kernels: Dict[str, Kernel], specs: Dict[str, dict],
            repeat: int, threshold: float, out: Path, runner, echo=print,
            timing: dict = None, test_fragments: Optional[Dict[str, Sequence[str]]] = None
            ) -> Outcome:
    """test_fragments: also run DAMON's selftests and KUnit on each side's
    test kernel, built with that side's fragments."""
    tasks = matrix_tasks(scenarios, kernels, repeat, out)
    inputs = {"sides": {name: describe(spec) for name, spec in specs.items()},
              "repeat": repeat, "scenarios": [sc.name for sc in scenarios],
              "kernels": {k: v.describe() for k, v in kernels.items()}}
    (out / INPUTS).write_text(json.dumps(inputs, indent=2, default=str) + "\n")
    started = time.monotonic()
    runs = run_all(tasks, scenarios, runner, echo)
    if test_fragments is not None:
        runner.run(selftests.tasks({side: specs[side] for side in SIDES}, test_fragments, out),
                   echo=echo)
    timing = {**(timing or {}), "runs_s": round(time.monotonic() - started, 1),
              "run_wall_s": {f"{side}/{name}": [round(r.wall_time, 1) for r in rs]
                             for (side, name), rs in runs.items()}}
    inputs["timing"] = timing
    (out / INPUTS).write_text(json.dumps(inputs, indent=2, default=str) + "\n")
    return report_runs(scenarios, runs, inputs, threshold, out)


def report_runs(scenarios: Sequence, runs: Dict, inputs: dict, threshold: float,
                out: Path) -> Outcome:
    """Analyse judged runs ({(side, scenario name): [result]}) and write the
    reports; shared by a live comparison and --report-only."""
    rows = []
    for sc in scenarios:
        rows += analysis.analyse(sc, runs[("base", sc.name)], runs[("patched", sc.name)],
                                 threshold)
        report.plot(sc.name, {side: runs[(side, sc.name)] for side in SIDES},
                    out / f"{sc.name}.png")
    rows += selftests.rows(out)
    ran = how_ran(r.run_dir for results in runs.values() for r in results if r.run_dir)
    text = report.table(rows, inputs["sides"], inputs["repeat"], threshold, ran)
    call = analysis.overall(rows)
    text += f"\ncompare: {call}\n"
    (out / "compare.txt").write_text(text)
    report.write_json(rows, out / "compare.json",
                      {**inputs, "runner": ran, "call": call, "threshold_pct": threshold})
    return Outcome(call, rows, text)


def rejudge(out: Path, echo=print):
    """(scenarios, runs, inputs) of a comparison directory, every run judged
    again from its saved samples; runs that never finished are left out."""
    from harness import judge
    try:
        inputs = _saved_inputs(out)
        names = list(inputs["scenarios"])
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"--report-only {out}", f"not a comparison directory (no valid "
                                                 f"{INPUTS})") from None
    scenarios, runs = {}, {}
    for side in SIDES:
        for name in names:
            judged = judge.numbered_runs(out / side, f"{name}-", echo)
            runs[(side, name)] = [result for _, result in judged]
            if judged:
                scenarios.setdefault(name, judge.load_run(judged[0][0]))
    missing = [n for n in names if n not in scenarios]
    if missing:
        raise InputError(f"--report-only {out}", f"no finished run of {', '.join(missing)}")
    return [scenarios[n] for n in names], runs, inputs


def _saved_inputs(out: Path) -> dict:
    """compare-inputs.json; for a comparison made before it existed, the
    same facts from its compare.json."""
    if (out / INPUTS).is_file() or not (out / "compare.json").is_file():
        return json.loads((out / INPUTS).read_text())
    old = json.loads((out / "compare.json").read_text())
    names = [row["scenario"] for row in old["rows"] if row["figure"] == "pass rate"]
    return {"sides": old["sides"], "repeat": old["repeat"], "scenarios": names,
            "kernels": old.get("kernels", {}), "timing": old.get("timing", {})}


def matrix_tasks(scenarios, kernels, repeat: int, out: Path):
    """A B A B ...: each repeat runs every scenario on base, then on patched,
    so drift on the host falls on both kernels alike."""
    from harness.runner import interleaved
    cells = [((side, sc.name), sc, kernels[side], side) for side in SIDES for sc in scenarios]
    return interleaved(cells, repeat, lambda key, rep: out / key[0] / f"{key[1]}-{rep}")


def run_all(tasks, scenarios, runner, echo) -> Dict:
    def mark_side(task, _result):
        (task.run_dir / "compare-side.json").write_text(json.dumps({"side": task.key[0],
                                                                    "repeat": task.repeat}))
    runs = runner.run(tasks, echo=echo, after=mark_side)
    return {(side, sc.name): runs.get((side, sc.name), []) for side in SIDES
            for sc in scenarios}
