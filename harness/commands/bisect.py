"""`damon-harness bisect`: the first patch of a series that breaks a scenario,
a figure, a KUnit case or a selftest."""

import json
import sys

from harness.commands.argtypes import integer
from harness.commands.build import fragments_from
from harness.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bisect", help="find the first patch of a series that makes a test go bad",
        description="Build prefixes of a patch series (incrementally) and test each, "
                    "binary search, until the first bad patch is found. Exit status: 0 "
                    "found, 2 bad input (including a good end that is not good).")
    parser.add_argument("--patches", metavar="DIR|MBOX", action="append", required=True,
                        help="the series to bisect")
    parser.add_argument("--base-patches", metavar="DIR|MBOX", action="append", default=[],
                        help="patches every step has under the series")
    parser.add_argument("--source", metavar="PATH|TARBALL")
    parser.add_argument("--config", metavar="FRAGMENT", action="append", default=None)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--scenario", metavar="SCENARIO", help="good = the scenario PASSes")
    what.add_argument("--kunit", metavar="CASE", help="good = this KUnit case PASSes")
    what.add_argument("--selftest", metavar="NAME", help="good = this selftest PASSes")
    parser.add_argument("--figure", metavar="NAME",
                        help="with --scenario: judge this figure instead of the verdict")
    parser.add_argument("--worse-than", type=float, metavar="X",
                        help="with --figure: bad when the figure's median is worse than X")
    parser.add_argument("--repeat", type=integer(1, 25, "runs"), default=None, metavar="N",
                        help="runs per step, the majority decides (default: 3 for a "
                             "scenario, 1 for KUnit and selftests)")
    parser.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")
    parser.add_argument("--out", metavar="DIR")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harness import bisect as hbisect
    from harness.kernel import patches as kpatches
    from harness.kernel.build import validate_build_inputs
    from harness.paths import checked_out, run_dir_for
    fragments = fragments_from(args.config)
    validate_build_inputs(args.source, args.base_patches + args.patches, fragments)
    series = kpatches.load_all(args.patches)
    judge_maker = _criterion(args, fragments)
    out = run_dir_for(checked_out(args.out), "bisect")
    judge = judge_maker(series, out)
    result = hbisect.bisect(series, judge)
    (out / "bisect.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    print(f"first bad patch: {result.first_bad}/{len(series)} {result.patch}")
    print(f"how sure: {hbisect.confidence(result)}")
    print(f"reports: {out}", file=sys.stderr)
    return 0


def _criterion(args, fragments):
    """Check the criterion's inputs; a factory of the per-step judge."""
    from harness import bisect_judges as judges
    if args.scenario:
        return judges.scenario_judge(args, fragments)
    if args.figure or args.worse_than is not None:
        raise InputError("--figure", "--figure and --worse-than only apply with --scenario")
    if args.kunit:
        return judges.kunit_judge(args)
    return judges.selftest_judge(args)
