"""DAMON's timed selftests (see test_damon_selftests.py's TIMED): each
sleeps and then checks what DAMON did meanwhile, so their guest runs with
the host's cores to itself. A file of their own, so that pytest-xdist can
give the shared guests of test_damon_selftests.py to one lane while this
waits for its turn to run alone."""

import pytest

from tests.e2e.test_damon_selftests import TIMED, check_selftest, check_tree_and_ran, harness, \
    only

pytestmark = [pytest.mark.vm, pytest.mark.built_kernel]


@pytest.fixture(scope="module")
def timed_run(tmp_path_factory, shared_kernel_args):
    # --retries 1: these time DAMON (damos_quota.py needed a second attempt
    # once, alone, on 2026-12-04); a retry is reported with both attempts.
    return harness("selftests", "--retries", "1", *shared_kernel_args(), *only(TIMED),
                   out=tmp_path_factory.mktemp("selftests-timed"))


@pytest.mark.parametrize("name", TIMED)
def test_selftest(timed_run, record_property, name):
    check_selftest(timed_run, record_property, name)


def test_every_timed_test_ran(timed_run):
    check_tree_and_ran(timed_run, TIMED)
