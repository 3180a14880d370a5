"""`damon-harness selftests`: the kernel's own DAMON selftests, in a guest."""

import sys

from harness.commands.argtypes import integer
from harness.commands.vmargs import add_append_argument
from harness.paths import run_dir_for
from harness.selftests.command import add_kernel_arguments, prepared, said


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
                             "default: their own, times 8 under TCG")
    parser.add_argument("--retries", type=integer(0, 10, "retries"), default=0, metavar="N",
                        help="run a test that FAILs or TIMEs OUT up to N more times in the "
                             "same guest; every attempt is reported (default 0)")
    add_append_argument(parser)
    parser.add_argument("--image", default="selftests",
                        help="guest image recipe (default: selftests, with Python and drgn)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harness.runner import LocalRunner, Task
    from harness.selftests import kernel as skernel
    from harness.selftests.work import SelftestsWork
    test_kernel, out = prepared(args, args.test, True, args.kunit)
    tests = args.test or test_kernel.tools.selftests
    skernel.check_kernel(test_kernel, tests, True, args.kunit)
    work = SelftestsWork(test_kernel, tests, args.retries, args.kunit, args.panic_on_warn,
                         args.timeout, args.image, cmdline=args.append)
    task = Task("selftests", work, test_kernel.kernel, run_dir_for(out, "selftests"), 1, 1)
    # stdout is the block to paste into a mail; how it ran goes beside it
    [done] = LocalRunner(args.accel).run([task], echo=_to_stderr)["selftests"]
    return said(done.results, task.run_dir, work.name)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
