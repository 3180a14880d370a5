"""DAMON_HUGEPAGE built as a loadable module (issue 4: it must build "both
built-in and as a module").

The kernel is 7.3 + our series with DAMON_HUGEPAGE=m; its modules tree is
attached to the guest. The test loads the module, proves it collapses the
watched process's hot memory, then unloads it while its kdamond runs: the
exit path must stop every kdamond and leave nothing on the console.
"""

import pytest

from harness.paths import new_run_dir
from harness.topology import load_topology
from harness.vm.machine import boot
from tests.e2e.hugepage_helpers import (
    PARAMS, collapse_verdict, console_problems, kdamond_threads, kill, kmemleak_clear,
    kmemleak_leaks, ok, param,
    prepare_guest, set_param, sh, start_hot)

pytestmark = pytest.mark.vm
MODULE = "damon_hugepage"


@pytest.fixture(scope="module")
def module_guest(hugepage_module_kernel, hot_binary):
    with boot(load_topology("two-node"), kernel=hugepage_module_kernel,
              run_dir=new_run_dir("test-damon-hugepage-module")) as vm:
        prepare_guest(vm, hot_binary)
        yield vm


def test_kernel_has_it_as_a_module(hugepage_module_kernel):
    config = (hugepage_module_kernel.image.parent / "config").read_text()
    assert "CONFIG_DAMON_HUGEPAGE=m" in config.splitlines()
    assert hugepage_module_kernel.modules_dir is not None
    found = list(hugepage_module_kernel.modules_dir.rglob(f"{MODULE}.ko*"))
    assert found, f"no {MODULE}.ko in {hugepage_module_kernel.modules_dir}"


def test_load_collapse_unload_reload(module_guest):
    g = module_guest
    before = console_problems(g)
    kmemleak_clear(g)
    assert sh(g, f"test -e /sys/module/{MODULE}").exit_code != 0, "loaded before modprobe"
    ok(g, f"modprobe {MODULE}")
    assert param(g, "enabled") == "N"

    hot = start_hot(g)
    try:
        assert set_param(g, "monitored_pids", hot).exit_code == 0
        assert set_param(g, "enabled", "Y").exit_code == 0
        assert kdamond_threads(g) == 1
        passed, detail = collapse_verdict(g, [hot], [])
        assert passed, detail

        # Unloading while the kdamond runs stops it; nothing is left behind.
        ok(g, f"rmmod {MODULE}")
        assert sh(g, f"test -e /sys/module/{MODULE}").exit_code != 0
        assert kdamond_threads(g) == 0
    finally:
        kill(g, hot)

    # A fresh load starts from the defaults, not the old state.
    ok(g, f"modprobe {MODULE}")
    assert param(g, "enabled") == "N"
    assert param(g, "monitored_pids") == ""
    assert sh(g, f"test -d {PARAMS}").exit_code == 0
    ok(g, f"rmmod {MODULE}")
    assert console_problems(g) == before
    leaks = kmemleak_leaks(g)
    assert not leaks, "\n".join(leaks)
