"""Module-scoped guests for the end-to-end tests that share one boot."""

from contextlib import ExitStack

import pytest

from harness.kernel.build import build_kernel
from harness.paths import new_run_dir
from harness.topology import load_topology
from harness.vm.machine import boot

HUGEPAGE_SERIES = "kernel-patches/damon-hugepage"
HUGEPAGE_FRAGMENTS = ("base", "guest", "damon", "damon-hugepage")


@pytest.fixture(scope="session")
def hugepage_kernel():
    """7.3 + our DAMON_HUGEPAGE series + its fragment (a cache hit when built)."""
    from harness.paths import REPO_ROOT
    return build_kernel(patches=[str(REPO_ROOT / HUGEPAGE_SERIES)],
                        fragments=HUGEPAGE_FRAGMENTS)


@pytest.fixture(scope="module")
def hugepage_guest(hugepage_kernel):
    with ExitStack() as stack:
        vm = stack.enter_context(boot(load_topology("two-node"), kernel=hugepage_kernel,
                                      run_dir=new_run_dir("test-damon-hugepage")))
        yield vm
