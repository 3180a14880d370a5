"""DAMON's selftests (and the KUnit cases the kernel ran at boot) on one
test kernel, in one guest, as a runner's work (harness.runner.Work): the
`selftests` command and a comparison's test kernels run through a runner
like the scenarios do."""

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Hashable, List, Optional, Sequence, Tuple

from harness.selftests import results as sresults
from harness.selftests.results import Status, TestResult
from harness.selftests.tree import SUITE

TOPOLOGY = "two-node"


@dataclass
class SelftestsRun:
    """A selftests run's result: every test's, and what the reports add."""
    results: List[TestResult]
    extra: dict = field(default_factory=dict)


@dataclass
class SelftestsWork:
    test_kernel: object             # harness.selftests.kernel.TestKernel
    tests: Sequence[str]
    retries: int = 0
    kunit: bool = False
    panic_on_warn: bool = False
    timeout: Optional[int] = None
    image: str = "selftests"
    name: str = "selftests"         # the label of its reports and progress line
    cmdline: Sequence[str] = ()     # kernel parameters after the harness's own

    def vm_size(self) -> Tuple[int, int]:
        from harness.topology import load_topology
        topo = load_topology(TOPOLOGY)
        return topo.vcpus, topo.memory

    def identity(self) -> bytes:
        return json.dumps({"tests": list(self.tests), "retries": self.retries,
                           "kunit": self.kunit, "panic_on_warn": self.panic_on_warn,
                           "timeout": self.timeout, "image": self.image,
                           "cmdline": list(self.cmdline),
                           "tree": self.test_kernel.tools.tree}, sort_keys=True,
                          default=str).encode()

    def kernel_key(self) -> Hashable:
        return str(self.test_kernel.kernel.image)

    def kernel(self):
        return self.test_kernel.kernel

    def run(self, kernel, accel: str, run_dir: Path) -> SelftestsRun:
        tools = self.test_kernel.tools.install
        if not tools.is_dir():      # only the kernel is shipped to another host
            return self.lost(run_dir, f"the selftests' build is not on this host ({tools}): "
                                      f"run it on the host that built them, or share the cache")
        test_kernel = replace(self.test_kernel, kernel=kernel or self.test_kernel.kernel)
        results, extra = run_suite(test_kernel, run_dir, accel, self.tests, self.retries,
                                   self.kunit, self.panic_on_warn, self.timeout, self.image,
                                   self.cmdline)
        sresults.write_reports(results, run_dir, self.name, extra)
        return SelftestsRun(results, extra)

    def judged(self, run_dir: Path) -> Optional[SelftestsRun]:
        try:
            data = json.loads((run_dir / "results.json").read_text())
        except (OSError, ValueError):
            return None
        extra = {k: v for k, v in data.items() if k not in ("summary", "counts", "tests")}
        return SelftestsRun([TestResult.from_dict(t) for t in data["tests"]], extra)

    def lost(self, run_dir: Path, why: str) -> SelftestsRun:
        results = not_run("selftest", SUITE, self.tests, why)
        sresults.write_reports(results, run_dir, self.name, {})
        return SelftestsRun(results)

    def summary_line(self, result: SelftestsRun) -> str:
        return sresults.summary_line(self.name, result.results)


def not_run(kind: str, suite: str, names: Sequence[str], reason: str) -> List[TestResult]:
    return [TestResult(kind, suite, name, Status.NOTRUN, reason, "", n)
            for n, name in enumerate(names, 1)]


def run_suite(test_kernel, run_dir, accel_choice: str, tests, retries: int, kunit: bool,
              panic_on_warn: bool = False, timeout=None, image_name: str = "selftests",
              cmdline: Sequence[str] = ()):
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
             "in_tree": list(tools.selftests),     # what was not chosen is not lost
             "cmdline": list(cmdline),
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
        with boot(load_topology(TOPOLOGY), test_kernel.kernel, image, run_dir,
                  accel, extra["cmdline"]) as vm:
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
