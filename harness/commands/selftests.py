"""`damon-harness selftests`: the kernel's own DAMON selftests, in a guest."""

import time

from harness.commands.argtypes import integer
from harness.paths import run_dir_for
from harness.selftests.command import add_kernel_arguments, not_run, prepared, report
from harness.selftests.tree import SUITE


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "selftests", help="run the kernel's DAMON selftests (and KUnit) in a guest",
        description="Build a kernel and DAMON's selftests from one tree (cached), boot it, "
                    "run each selftest under the kselftest runner and report PASS, FAIL, "
                    "SKIP, TIMEOUT, CRASH or NOT RUN per test. Exit status: 0 no failure, "
                    "1 a failure, 4 a crash, 2 bad input.")
    add_kernel_arguments(parser)
    parser.add_argument("--test", metavar="NAME", action="append", default=[],
                        help="run only this selftest (e.g. sysfs.py); may be repeated")
    parser.add_argument("--kunit", action="store_true",
                        help="also report the KUnit cases the kernel ran at boot")
    parser.add_argument("--panic-on-warn", action="store_true",
                        help="set kernel.panic_on_warn before the tests")
    parser.add_argument("--timeout", type=integer(1, 86400, "seconds"), metavar="S",
                        help="per-test timeout instead of the tests' own (kselftest's -o); "
                             "default: their own, times 4 under TCG")
    parser.add_argument("--retries", type=integer(0, 10, "retries"), default=0, metavar="N",
                        help="run a test that FAILs or TIMEs OUT up to N more times in the "
                             "same guest; every attempt is reported (default 0)")
    parser.add_argument("--image", default="selftests",
                        help="guest image recipe (default: selftests, with Python and drgn)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harness.selftests import kernel as skernel
    test_kernel, out = prepared(args, args.test, True, args.kunit)
    tests = args.test or test_kernel.tools.selftests
    skernel.check_kernel(test_kernel, tests, True, args.kunit)
    run_dir = run_dir_for(out, "selftests")
    results, extra = run_suite(test_kernel, run_dir, args.accel, tests, args.retries,
                               args.kunit, args.panic_on_warn, args.timeout, args.image)
    return report(results, run_dir, "selftests", extra)


def run_suite(test_kernel, run_dir, accel_choice: str, tests, retries: int, kunit: bool,
              panic_on_warn: bool = False, timeout=None, image_name: str = "selftests"):
    """(results, report extras) of the selftests (and the KUnit cases the
    kernel ran at boot) on one test kernel, in one guest."""
    from harness.image import guest_image
    from harness.selftests import runner
    from harness.vm.accel import choose_accel
    tools = test_kernel.tools
    image = guest_image(image_name)
    accel = choose_accel(test_kernel.kernel.image, accel_choice)
    timeout = runner.effective_timeout(tools, timeout, accel)
    extra = {"kernel": test_kernel.kernel.describe(), "tree": tools.tree,
             "timing": {"accel": accel, "build_s": test_kernel.build_s,
                        "per_test_timeout_s": runner.per_test_timeout(tools, timeout)}}
    results = _run_in_guest(test_kernel, image, run_dir, accel, timeout, tests, retries,
                            panic_on_warn, extra)
    if kunit:
        results += runner.kunit_from_console(tools, _console(run_dir))
    return results, extra


def _run_in_guest(test_kernel, image, run_dir, accel, timeout, tests, retries, panic_on_warn,
                  extra):
    """Boot, prepare, install and run; every test gets a result even when
    the guest never boots."""
    from harness.selftests import runner
    from harness.topology import load_topology
    from harness.verdict import RunEnded
    from harness.vm.machine import boot

    timing = extra["timing"]
    started = time.monotonic()
    try:
        with boot(load_topology("two-node"), test_kernel.kernel, image, run_dir,
                  accel) as vm:
            timing["boot_s"] = round(time.monotonic() - started, 1)
            extra["guest"] = runner.prepare_guest(vm, panic_on_warn).split()
            began = time.monotonic()
            runner.install(vm, test_kernel.tools, test_kernel.vmlinux, run_dir)
            timing["install_s"] = round(time.monotonic() - began, 1)
            began = time.monotonic()
            results = runner.run_with_retries(vm, test_kernel.tools, tests, timeout, run_dir,
                                              retries)
            timing["tests_s"] = round(time.monotonic() - began, 1)
            runner.keep_dmesg(vm, run_dir)
            return results
    except RunEnded as ended:
        (run_dir / "crash-excerpt.txt").write_text(ended.excerpt or "")
        return not_run("selftest", SUITE, tests, f"{ended.verdict.value}: {ended.message}")


def _console(run_dir) -> str:
    path = run_dir / "console.log"
    return path.read_text(errors="replace") if path.is_file() else ""
