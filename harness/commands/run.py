"""`damon-harness run`: run scenario files and judge them; exit status for CI."""

from pathlib import Path

from harness.commands.argtypes import integer
from harness.commands.vmargs import (add_retries_argument, add_runner_arguments,
                                     add_scenario_run_arguments, kernel_override, runner_for)
from harness.errors import InputError
from harness.paths import REPO_ROOT

SCENARIO_DIR = REPO_ROOT / "tests" / "scenarios"
DEFAULT_SUITE = ("collapse", "hint-path", "migration", "memcg-convergence", "damon-hugepage",
                 "monitoring-accuracy", "monitoring-adaptation", "monitoring-overhead")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run scenarios (default: the built-in suite) and report verdicts",
        description="Validate every scenario, then boot and run each one. Exit status: "
                    "0 all PASS (or FLAKY), 1 a FAIL, 3 ERROR, 4 CRASH, 5 HANG, 6 BOOT_FAIL, 2 bad input.")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help="scenario YAML files or built-in names "
                             f"(default: {' '.join(DEFAULT_SUITE)})")
    add_scenario_run_arguments(parser, "scenario")
    parser.add_argument("--kernels", metavar="K1,K2,...",
                        help="run every scenario on each of these kernels and report one "
                             "table: debian:VERSION (6.1, 6.12, 7.2, 7.3; built from Debian's "
                             "source with the default fragments), default (each scenario's "
                             "own), or a kernel image")
    parser.add_argument("--out", metavar="DIR", help="where the suite's reports go")
    parser.add_argument("--repeat", type=integer(1, 1000, "repeats"), default=1, metavar="N",
                        help="run each scenario N times, repeat by repeat")
    add_retries_argument(parser)
    add_runner_arguments(parser)
    parser.set_defaults(func=run)


def scenario_paths(names) -> list:
    paths = []
    for name in names or DEFAULT_SUITE:
        builtin = SCENARIO_DIR / f"{name}.yaml"
        paths.append(str(builtin if not Path(name).exists() and builtin.exists() else name))
    return paths


def run(args) -> int:
    from harness import engine
    from harness.paths import check_output_dir
    from harness.commands.kernels import kernels_for, parse_kernels
    if args.kernels and args.kernel:
        raise InputError("--kernels", "takes the kernels itself; leave out --kernel")
    items = parse_kernels(args.kernels) if args.kernels else None
    kernel = kernel_override(args)
    out = Path(args.out) if args.out else None
    if out is not None:
        check_output_dir(out, "--out")
    paths = scenario_paths(args.scenarios)
    scenarios = engine.load_suite(paths, kernel)
    runner = runner_for(args)
    kernels = kernels_for(items) if items else None
    results = engine.run_suite(paths, out_dir=out, kernel=kernel, accel=args.accel,
                               repeat=args.repeat, runner=runner,
                               scenarios=scenarios, retries=args.retries, kernels=kernels)
    return engine.exit_code(results)
