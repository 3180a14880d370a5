"""`damon-harness compare`: two kernels, repeated runs, and a statistical call
per scenario and figure."""

import argparse
import sys
import time
from pathlib import Path

from harness.commands.build import fragments_from
from harness.errors import InputError

CORE_SCENARIOS = ("collapse", "hint-path", "migration", "memcg-convergence")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare a patched kernel with its base over repeated runs",
        description="Build (or take) a base and a patched kernel, run the scenarios on "
                    "both N times, interleaved, and call each figure REGRESSION, "
                    "IMPROVEMENT, NO CHANGE or NOT ENOUGH DATA. Exit status: 0 no "
                    "regression, 1 a regression, 2 bad input.")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"scenario files or built-in names (default: "
                             f"{' '.join(CORE_SCENARIOS)})")
    parser.add_argument("--patches", metavar="DIR|MBOX", action="append", default=[],
                        help="the patched kernel's series, on top of the base's")
    parser.add_argument("--base-patches", metavar="DIR|MBOX", action="append", default=[],
                        help="patches both kernels have (default: none)")
    parser.add_argument("--source", metavar="PATH|TARBALL",
                        help="kernel tree for both (default: Debian's linux-source-7.3)")
    parser.add_argument("--config", metavar="FRAGMENT", action="append", default=None,
                        help="config fragments for both; +NAME adds to the defaults")
    parser.add_argument("--base-kernel", metavar="PATH", help="take this base kernel image")
    parser.add_argument("--patched-kernel", metavar="PATH",
                        help="take this patched kernel image")
    parser.add_argument("--repeat", type=_count, default=5, metavar="N",
                        help="runs per kernel and scenario (default 5)")
    parser.add_argument("--threshold", type=_percent, default=10.0, metavar="PCT",
                        help="smallest change of a median to call (default 10)")
    parser.add_argument("--allow-same", action="store_true",
                        help="allow both sides to be one kernel (to measure the noise)")
    parser.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")
    parser.add_argument("--out", metavar="DIR", help="where runs and reports go")
    parser.set_defaults(func=run)


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"not a number of runs from 1 to 100: {text}")
    return int(text)


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"not a percentage above 0: {text}")
    return value


def side_specs(args) -> dict:
    """What each side is, as the user gave it; refused when they are equal."""
    fragments = fragments_from(args.config)
    base = {"kernel": args.base_kernel, "source": args.source,
            "patches": list(args.base_patches), "fragments": fragments}
    patched = {"kernel": args.patched_kernel, "source": args.source,
               "patches": list(args.base_patches) + list(args.patches), "fragments": fragments}
    if base == patched and not args.allow_same:
        raise InputError("--patches", "both sides would be the same kernel: give --patches, "
                                      "--patched-kernel, or --allow-same to measure the noise")
    return {"base": base, "patched": patched}


def run(args) -> int:
    from harness.commands.run import scenario_paths
    from harness.compare import matrix
    from harness.paths import check_output_dir, check_results_dir, new_run_dir
    from harness.scenario import load_scenario
    specs = side_specs(args)
    for name, spec in specs.items():
        matrix.validate_side(name, spec)
    scenarios = [load_scenario(p, check_kernel=False)
                 for p in scenario_paths(args.scenarios or CORE_SCENARIOS)]
    out = Path(args.out) if args.out else None
    if out is not None:
        check_output_dir(out, "--out")
    check_results_dir()
    out = out or new_run_dir("compare")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    kernels = {name: matrix.kernel_of(spec) for name, spec in specs.items()}
    build_s = round(time.monotonic() - started, 1)
    from harness.kernel.needs import check_kernel
    for name, kernel in kernels.items():
        check_kernel(scenarios, kernel, f"--{name}-kernel" if specs[name]["kernel"]
                     else "--config")
    outcome = matrix.compare(scenarios, kernels, specs, args.repeat, args.threshold, out,
                             args.accel, echo=print, timing={"build_s": build_s})
    print(outcome.text, end="")
    print(f"reports: {out}", file=sys.stderr)
    return 1 if outcome.call == "REGRESSION" else 0
