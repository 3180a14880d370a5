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
                    "binary search, until the first bad patch is found; or bisect a git "
                    "range (--good/--bad) of a tree with git bisect run. Exit status: 0 "
                    "found, 2 bad input (including a good end that is not good).")
    parser.add_argument("--patches", metavar="DIR|MBOX", action="append", default=[],
                        help="the series to bisect")
    parser.add_argument("--good", metavar="REV",
                        help="with --bad: bisect this git range of --source instead of a "
                             "series (through git bisect run, in a clone)")
    parser.add_argument("--bad", metavar="REV", help="the range's bad end")
    parser.add_argument("--base-patches", metavar="DIR|MBOX", action="append", default=[],
                        help="patches every step has under the series")
    parser.add_argument("--source", metavar="PATH|TARBALL")
    parser.add_argument("--config", metavar="FRAGMENT", action="append", default=None,
                        help="config fragment (default: base guest damon; with --kunit or "
                             "--selftest, the test kernel's: those and kunit debuginfo and "
                             "the selftests' own config); +NAME adds to the defaults")
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
    if args.good or args.bad:
        return run_range(args)
    if not args.patches:
        raise InputError("--patches", "give the series to bisect (or --good/--bad for a "
                                      "git range)")
    from harness import bisect as hbisect
    from harness.bisect_judges import series_inputs
    from harness.kernel import patches as kpatches
    from harness.kernel.build import validate_build_inputs
    from harness.paths import checked_out, run_dir_for
    validate_build_inputs(args.source, args.base_patches + args.patches, step_fragments(args))
    series = kpatches.load_all(args.patches)
    judge_maker = criterion_for(args)
    out = run_dir_for(checked_out(args.out), "bisect")
    judge = judge_maker(series_inputs(args, series, out), out)
    from harness.report import progress
    result = hbisect.bisect(series, judge, echo=progress)
    (out / "bisect.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    print(f"first bad patch: {result.first_bad}/{len(series)} {result.patch}")
    print(f"how sure: {hbisect.confidence(result)}")
    print(f"reports: {out}", file=sys.stderr)
    return 0


def run_range(args) -> int:
    """A git range: both ends tested here, the rest by `git bisect run`."""
    from harness import bisect as hbisect
    from harness import gitbisect
    from harness.kernel.build import validate_build_inputs
    from harness.paths import checked_out, run_dir_for
    if not (args.good and args.bad):
        raise InputError("--good" if not args.good else "--bad", "a git range needs both "
                                                                 "--good and --bad")
    if args.patches:
        raise InputError("--patches", "bisect either a series or a git range, not both")
    good, bad = gitbisect.check_range(args.source, args.good, args.bad)
    validate_build_inputs(args.source, args.base_patches, step_fragments(args))
    judge_maker = criterion_for(args)
    out = run_dir_for(checked_out(args.out), "bisect")
    clone = gitbisect.clone_for(args.source, good, bad)
    judge = judge_maker(lambda key: (str(clone), list(args.base_patches)), out)
    ends = []

    def step(commit: str):
        gitbisect.checkout(clone, commit)
        ends.append(judge(commit))
        print(f"bisect: {gitbisect.subject(clone, commit)}: "
              f"{'good' if ends[-1].good else 'bad'}", file=sys.stderr)
        return ends[-1]

    hbisect.require_ends(step, (good, f"--good {args.good}"), (bad, f"--bad {args.bad}"))
    gitbisect.save_request(out, args, clone)
    first_bad, log = gitbisect.run(clone, good, bad, out)
    steps = ends + gitbisect.load_steps(out)
    result = hbisect.Bisection(first_bad, gitbisect.subject(clone, first_bad), steps)
    (out / "bisect.json").write_text(json.dumps({**result.to_dict(), "git_log": log},
                                                indent=2) + "\n")
    print(f"first bad commit: {result.patch}")
    print(f"how sure: {hbisect.confidence(result)}")
    print(f"reports: {out}", file=sys.stderr)
    return 0


def step_fragments(args) -> tuple:
    """Each step's config fragments: --config, else the defaults of the kernel
    the criterion runs on (a KUnit case or a selftest needs the test kernel)."""
    if args.scenario:
        return fragments_from(args.config)
    from harness.selftests.kernel import TEST_FRAGMENTS
    return fragments_from(args.config, TEST_FRAGMENTS)


def criterion_for(args):
    return _criterion(args, step_fragments(args))


def _criterion(args, fragments):
    """Check the criterion's inputs; a factory of the per-step judge."""
    from harness import bisect_judges as judges
    if args.scenario:
        return judges.scenario_judge(args, fragments)
    if args.figure or args.worse_than is not None:
        raise InputError("--figure", "--figure and --worse-than only apply with --scenario")
    if args.kunit:
        return judges.kunit_judge(args, fragments)
    return judges.selftest_judge(args, fragments)
