"""Module-scoped guests for the end-to-end tests that share one boot."""

from contextlib import ExitStack

import pytest

from harness.paths import new_run_dir
from harness.topology import load_topology
from harness.vm.machine import boot

HUGEPAGE_SERIES = "kernel-patches/damon-hugepage"
# kmemleak, so that "no leak" in the tests is a finding and not a given.
HUGEPAGE_FRAGMENTS = ("base", "guest", "damon", "damon-hugepage", "kmemleak")
# The same series with DAMON_HUGEPAGE=m: it must build and work as a module too.
HUGEPAGE_MODULE_FRAGMENTS = HUGEPAGE_FRAGMENTS + ("damon-hugepage-module",)


@pytest.fixture(scope="session")
def hugepage_kernel(kernel_build):
    """7.3 + our DAMON_HUGEPAGE series + its fragment (a cache hit when built)."""
    from harness.paths import REPO_ROOT
    return kernel_build(patches=[str(REPO_ROOT / HUGEPAGE_SERIES)],
                        fragments=HUGEPAGE_FRAGMENTS)


@pytest.fixture(scope="session")
def hugepage_module_kernel(kernel_build):
    """As hugepage_kernel, with DAMON_HUGEPAGE=m (a modules tree comes with it)."""
    from harness.paths import REPO_ROOT
    return kernel_build(patches=[str(REPO_ROOT / HUGEPAGE_SERIES)],
                        fragments=HUGEPAGE_MODULE_FRAGMENTS)


@pytest.fixture(scope="session")
def hot_binary():
    """The harness's hotcold toucher, built statically on the host."""
    from harness.workloads.build import build
    return build("hotcold")


@pytest.fixture(scope="module")
def hugepage_guest(hugepage_kernel):
    with ExitStack() as stack:
        vm = stack.enter_context(boot(load_topology("two-node"), kernel=hugepage_kernel,
                                      run_dir=new_run_dir("test-damon-hugepage")))
        yield vm
