"""How often each scenario passes, with no rerun, and how much its figures spread.

Usage: python benchmarks/stability_bench.py [--runs N] [--out DIR]
                                             [--also RUN_DIR ...] [SCENARIO ...]
Default: the four core scenarios, 20 runs each, repeat by repeat (each
round runs every scenario once), on the kernel each scenario names. A run
that FAILs stays a FAIL: nothing is retried. Prints one line per scenario
(passes of runs) and, per figure, its median and its range over the runs.
--also counts earlier runs too (judged again from their directories), each
only if it ran the scenario as its file says now (the same scenario.yaml, comments
aside).
Exit status 0 only when every run passed.
"""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness import engine  # noqa: E402
from harness.commands.run import scenario_paths  # noqa: E402
from harness.compare.figures import run_figures, shown  # noqa: E402
from harness.commands.argtypes import integer  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.verdict import Verdict  # noqa: E402

CORE = ("collapse", "hint-path", "migration", "memcg-convergence")


def figure_lines(scenario, results) -> list:
    values: dict = {}
    for result in results:
        for fig in run_figures(scenario, result):
            values.setdefault((fig.name, fig.unit), []).append(fig.value)
    lines = []
    for (name, unit), got in values.items():
        known = [v for v in got if v is not None]
        if not known:
            lines.append(f"    {name}: never")
            continue
        never = f", {len(got) - len(known)} never" if len(known) < len(got) else ""
        lines.append(f"    {name}: median {shown(statistics.median(known), unit)}, "
                     f"{shown(min(known), unit)} .. {shown(max(known), unit)}{never}")
    return lines


def earlier_runs(dirs, paths) -> list:
    """Finished runs among `dirs` of the scenarios as their files say now
    (what they hold, not their comments)."""
    import yaml
    from harness import judge, rundir
    wanted = [yaml.safe_load(Path(p).read_text()) for p in paths]   # comments aside
    found = []
    for run_dir in dirs:
        saved = run_dir / rundir.SCENARIO
        if (run_dir / rundir.RESULT).is_file() and saved.is_file() \
                and yaml.safe_load(saved.read_text()) in wanted:
            found.append(judge.judge_dir(run_dir)[0])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=integer(0, 1000, "runs"), default=20)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--also", type=Path, nargs="*", default=[], metavar="RUN_DIR")
    parser.add_argument("scenarios", nargs="*", default=list(CORE))
    args = parser.parse_args()
    paths = scenario_paths(args.scenarios)
    try:        # bad input: one line and exit 2, before anything boots
        scenarios = engine.load_suite(paths)
    except HarnessError as exc:
        print(f"stability_bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    out = args.out or Path(tempfile.mkdtemp(prefix="stability-"))
    earlier = earlier_runs(args.also, paths)
    results = engine.run_suite(paths, out_dir=out, repeat=args.runs, echo=lambda *_: None,
                               scenarios=scenarios) if args.runs else []
    results = earlier + results
    every_pass = True
    print(f"{args.runs} new runs of each scenario and {len(earlier)} earlier ones, no reruns; "
          f"new runs in {out}")
    for scenario in scenarios:
        mine = [r for r in results if r.name == scenario.name]
        passed = sum(r.verdict == Verdict.PASS for r in mine)
        every_pass &= passed == len(mine)
        others = ", ".join(f"{r.verdict} ({r.run_dir})" for r in mine
                           if r.verdict != Verdict.PASS)
        print(f"{scenario.name:<32} {passed:>3}/{len(mine)} PASS"
              + (f"; {others}" if others else ""))
        for line in figure_lines(scenario, mine):
            print(line)
    return 0 if every_pass else 1


if __name__ == "__main__":
    raise SystemExit(main())
