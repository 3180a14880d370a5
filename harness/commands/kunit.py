"""`damon-harness kunit`: DAMON's KUnit suites, read from a booting kernel's console."""

import time

from harness.paths import run_dir_for
from harness.selftests.command import add_kernel_arguments, prepared, report

DEADLINE_S = {"kvm": 60, "tcg": 240}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "kunit", help="boot a kernel with DAMON's KUnit suites built in and report each case",
        description="Build (cached) a kernel with DAMON's KUnit suites, boot it, and read the "
                    "KTAP they print on the console; the VM stops as soon as the plan is "
                    "complete. Exit status: 0 no failure, 1 a failure, 4 a crash, 2 bad input.")
    add_kernel_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from harness.image import guest_image
    from harness.selftests import kernel as skernel
    from harness.selftests import runner
    from harness.topology import load_topology
    from harness.vm.accel import choose_accel
    from harness.vm.machine import VM

    test_kernel, out = prepared(args, (), False, True)
    skernel.check_kernel(test_kernel, (), False, True)
    image = guest_image()
    run_dir = run_dir_for(out, "kunit")
    vm = VM(load_topology("two-node"), test_kernel.kernel, image, run_dir, args.accel)
    accel = choose_accel(test_kernel.kernel.image, args.accel)
    started = time.monotonic()
    results = runner.watch_kunit(vm, test_kernel.tools, DEADLINE_S[accel])
    return report(results, run_dir, "kunit", {
        "kernel": test_kernel.kernel.describe(), "tree": test_kernel.tools.tree,
        "timing": {"accel": accel, "build_s": test_kernel.build_s,
                   "boot_to_plan_complete_s": round(time.monotonic() - started, 1)}})
