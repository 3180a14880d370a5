"""`damon-harness compare`: two kernels, repeated runs, and a statistical call
per scenario and figure."""

import sys
import time
from pathlib import Path

from harness.commands.argtypes import flags_given, integer, positive_number
from harness.commands.build import fragments_from
from harness.commands.vmargs import add_runner_arguments, runner_for
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
                        help=f"scenario files or built-in names, or reproductions (every "
                             f"condition of one is a scenario here) (default: "
                             f"{' '.join(CORE_SCENARIOS)})")
    parser.add_argument("--patches", metavar="DIR|MBOX", action="append", default=[],
                        help="the patched kernel's series, on top of the base's")
    parser.add_argument("--base-patches", metavar="DIR|MBOX", action="append", default=[],
                        help="patches both kernels have (default: none)")
    parser.add_argument("--source", metavar="PATH|TARBALL|debian:VERSION",
                        help="kernel tree for both (default: debian:7.3, Debian's "
                             "linux-source-7.3)")
    parser.add_argument("--config", metavar="FRAGMENT", action="append", default=None,
                        help="config fragments for both; +NAME adds to the defaults")
    parser.add_argument("--patched-source", metavar="PATH|TARBALL|debian:VERSION",
                        help="the patched kernel's tree, when it is another (default: --source)")
    parser.add_argument("--patched-config", metavar="FRAGMENT", action="append", default=None,
                        help="the patched kernel's fragments, when they differ; +NAME adds to "
                             "--config's")
    parser.add_argument("--base-kernel", metavar="PATH", help="take this base kernel image")
    parser.add_argument("--patched-kernel", metavar="PATH",
                        help="take this patched kernel image")
    parser.add_argument("--repeat", type=integer(1, 100, "runs"), default=5, metavar="N",
                        help="runs per kernel and scenario (default 5)")
    parser.add_argument("--threshold", type=positive_number(1000, "a percentage"), default=10.0, metavar="PCT",
                        help="smallest change of a median to call (default 10)")
    parser.add_argument("--allow-same", action="store_true",
                        help="allow both sides to be one kernel (to measure the noise)")
    parser.add_argument("--selftests", action="store_true",
                        help="also run DAMON's selftests and KUnit cases on each side's test "
                             "kernel; a test that passes on base only is a regression")
    parser.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")
    add_runner_arguments(parser)
    parser.add_argument("--out", metavar="DIR", help="where runs and reports go")
    parser.add_argument("--report-only", metavar="DIR",
                        help="judge a comparison's saved runs again and rewrite its reports "
                             "(no build, no boot; --threshold may change)")
    parser.set_defaults(func=run, parser=parser)


def side_specs(args) -> dict:
    """What each side is, as the user gave it; refused when they are equal."""
    fragments = fragments_from(args.config)
    base = {"kernel": args.base_kernel, "source": args.source,
            "patches": list(args.base_patches), "fragments": fragments}
    patched = {"kernel": args.patched_kernel, "source": args.patched_source or args.source,
               "patches": list(args.base_patches) + list(args.patches),
               "fragments": fragments_from(args.patched_config, fragments)}
    if base == patched and not args.allow_same:
        raise InputError("--patches", "both sides would be the same kernel: give --patches, "
                                      "--patched-kernel, or --allow-same to measure the noise")
    return {"base": base, "patched": patched}


def _checked_test_inputs(args, specs) -> dict:
    """Each side's test kernel fragments, once both sides are known to be
    buildable into test kernels."""
    from harness.selftests.kernel import TEST_FRAGMENTS, validate
    for name, spec in specs.items():
        if spec["kernel"]:
            raise InputError("--selftests", f"needs both kernels built from a tree: the tests "
                                            f"come from it, and --{name}-kernel has none")
    shared = fragments_from(args.config, TEST_FRAGMENTS)
    fragments = {"base": shared, "patched": fragments_from(args.patched_config, shared)}
    for name, spec in specs.items():
        validate(spec["source"], spec["patches"], fragments[name], None, None, ())
    return fragments


def dir_kind(specs: dict, scenario_names, repeat: int) -> str:
    """compare-LABEL-DIGEST: what the patched side adds, and a digest of
    every input, so a comparison's directory says what it compared."""
    import hashlib
    import json
    import re
    patched = specs["patched"]
    label = (Path(patched["kernel"]).parent.name if patched["kernel"] else
             "+".join(Path(p).stem for p in patched["patches"][len(specs["base"]["patches"]):])
             or "same")
    label = re.sub(r"[^A-Za-z0-9._+-]+", "-", label)[:40]
    digest = hashlib.sha256(json.dumps([specs, list(scenario_names), repeat], sort_keys=True,
                                       default=str).encode()).hexdigest()[:8]
    return f"compare-{label}-{digest}"


def report_only(args) -> int:
    from harness.compare import matrix
    given = flags_given(args.parser, args, keep={"report_only", "threshold", "accel"})
    if given:
        raise InputError("--report-only", f"takes the runs as they are; {given[0]} cannot "
                                          f"change them")
    out = Path(args.report_only)
    if not out.is_dir():
        raise InputError(f"--report-only {out}", "no such directory")
    scenarios, runs, inputs = matrix.rejudge(out, echo=lambda m: print(m, file=sys.stderr))
    outcome = matrix.report_runs(scenarios, runs, inputs, args.threshold, out)
    print(outcome.text, end="")
    print(f"reports: {out}", file=sys.stderr)
    return 1 if outcome.call == "REGRESSION" else 0


def comparable(names) -> list:
    """The scenarios to compare: a scenario is itself; a reproduction (a
    shipped name, or a file with conditions or extends:) is every condition
    of it, each a scenario with its own name."""
    from harness import reproduce
    from harness.commands.run import scenario_paths
    from harness.scenario import load_scenario
    shipped = reproduce.available()
    scenarios = []
    for name, path in zip(names, scenario_paths(names)):
        if name in shipped or _is_reproduction(Path(path)):
            experiment = reproduce.load_one(Path(shipped.get(name, path)), check_kernel=False)
            scenarios += experiment.variants.values()
        else:
            scenarios.append(load_scenario(path, check_kernel=False))
    return scenarios


def _is_reproduction(path: Path) -> bool:
    from harness.yamlfile import load_yaml
    if not path.is_file():
        return False
    raw = load_yaml(path, path.name)
    return isinstance(raw, dict) and ("conditions" in raw or "extends" in raw)


def run(args) -> int:
    if args.report_only:
        return report_only(args)
    from harness.compare import matrix
    from harness.paths import checked_out, run_dir_for
    specs = side_specs(args)
    own = [flag for flag, value in (("--source", args.patched_source),
                                    ("--config", args.patched_config)) if value]
    matrix.validate_side("patched", specs["patched"], own)
    matrix.validate_side("base", specs["base"])
    test_fragments = _checked_test_inputs(args, specs) if args.selftests else None
    scenarios = comparable(args.scenarios or CORE_SCENARIOS)
    runner = runner_for(args)
    out = run_dir_for(checked_out(args.out),
                      dir_kind(specs, [sc.name for sc in scenarios], args.repeat))
    started = time.monotonic()
    kernels = {name: matrix.kernel_of(spec) for name, spec in specs.items()}
    build_s = round(time.monotonic() - started, 1)
    from harness.kernel.needs import check_kernel
    from harness.report import progress
    for name, kernel in kernels.items():
        check_kernel(scenarios, kernel, f"--{name}-kernel" if specs[name]["kernel"]
                     else "--config")
    outcome = matrix.compare(scenarios, kernels, specs, args.repeat, args.threshold, out,
                             runner, echo=progress, timing={"build_s": build_s},
                             test_fragments=test_fragments)
    print(outcome.text, end="")
    print(f"reports: {out}", file=sys.stderr)
    return 1 if outcome.call == "REGRESSION" else 0
