"""`damon-harness judge RUN_DIR`: judge a finished run again, without a boot."""

from pathlib import Path

from harness.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "judge", help="judge finished runs again from their directories (no boot)",
        description="Re-judge run directories (or a suite directory) from their saved "
                    "samples. With --expect, judge the samples against other "
                    "expectations. Exit status as for run.")
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="a scenario's run directory, or a suite's reports directory")
    parser.add_argument("--expect", metavar="FILE",
                        help="take the expectations from FILE (a scenario, or a YAML file "
                             "holding just expect:)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harness import engine, judge, report
    expect = Path(args.expect) if args.expect else None
    if expect is not None and not expect.is_file():
        raise InputError("--expect", f"no such file: {args.expect}")
    dirs = [d for spec in args.run_dirs for d in judge.run_dirs(Path(spec))]
    judged = [(d, judge.judge_dir(d, expect)) for d in dirs]
    results = []
    for d, (result, recorded) in judged:
        print(report.summary_line(result))
        for c in result.checks:
            print(f"  {c.verdict:<5} {c.name}: {c.summary}")
        if expect is None:
            diff = judge.differences(result, recorded)
            print("  same verdicts and numbers as the run" if not diff
                  else "  differs from the run: " + "; ".join(diff))
        results.append(result)
    return engine.exit_code(results)
