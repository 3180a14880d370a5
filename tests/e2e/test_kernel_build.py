"""Build a kernel from Debian's source, a series and fragments (a cache hit
when one exists) and boot it: make test's shared kernel (tests/e2e/conftest.py).

The result boots in the harness's guest (two NUMA nodes, sshd) and exposes
DAMON's sysfs interface. The default fragments alone are never compiled in
make test (the shared kernel has them all, and more); every fragment set is
generated and checked here without compiling, in seconds.
"""

import pytest

from harness.kernel import config as kconfig
from harness.kernel.build import check_kernel_config
from harness.paths import REPO_ROOT

# First in make test: it builds the shared kernel while the other lane runs
# the unit tests and the guests of Debian's kernel.
pytestmark = [pytest.mark.vm, pytest.mark.starts_early]
may_share = pytest.mark.may_share_cores

SERIES = str(REPO_ROOT / "kernel-patches/damon-hugepage")
# Fragment sets CI never compiles (debug) or compiles elsewhere: each must at
# least hold on 7.3 after olddefconfig. Together they name every fragment.
CONFIG_SETS = {
    "defaults": ((), kconfig.DEFAULT_FRAGMENTS),
    "debug": ((), (*kconfig.DEFAULT_FRAGMENTS, "debug.config")),
    "hugepage-debug": ((SERIES,), (*kconfig.DEFAULT_FRAGMENTS, "damon-hugepage.config",
                                   "debug.config")),
    "hugepage-module": ((SERIES,), (*kconfig.DEFAULT_FRAGMENTS, "damon-hugepage.config",
                                    "kmemleak.config", "damon-hugepage-module.config")),
    # The selftests' default test kernel (make test runs them on the shared kernel).
    "test-kernel": ((), (*kconfig.DEFAULT_FRAGMENTS, "kunit.config", "debuginfo.config")),
}


@pytest.fixture(scope="module")
def kernel(shared_kernel):
    return shared_kernel


@may_share
def test_requested_options_hold(kernel, shared_kernel_spec):
    built = kconfig.parse((kernel.image.parent / "config").read_text(), strict=False)
    for name in shared_kernel_spec.configs:
        marked: set = set()
        requested = kconfig.parse(kconfig.resolve_fragment(name).read_text(), if_in_tree=marked)
        assert unmet(requested, marked, built) == []


@may_share
def test_boots_in_the_guest_with_damon_sysfs(kernel, boot_vm):
    vm = boot_vm("two-node", kernel=kernel)
    assert vm.run("uname -r", check=True).stdout.strip() == kernel.release
    nodes = vm.run("ls -d /sys/devices/system/node/node[0-9]*", check=True).stdout.split()
    assert len(nodes) == 2
    assert vm.run("test -d /sys/kernel/mm/damon/admin/kdamonds").ok


@may_share
def test_config_sets_name_every_fragment():
    named = {name for _, fragments in CONFIG_SETS.values() for name in fragments}
    on_disk = {path.name for path in kconfig.CONFIGS_DIR.glob("*.config")}
    assert on_disk <= named, f"fragments no test checks: {sorted(on_disk - named)}"


@may_share
@pytest.mark.parametrize("name", sorted(CONFIG_SETS))
def test_fragments_hold_without_compiling(name):
    patches, fragments = CONFIG_SETS[name]
    config = check_kernel_config(patches=patches, fragments=fragments)
    built = kconfig.parse(config.read_text(), strict=False)
    marked: set = set()
    requested = kconfig.merge((kconfig.resolve_fragment(f) for f in fragments), marked)
    assert unmet(requested, marked, built) == []


def unmet(requested, marked, built):
    """Every option that did not hold but one marked '# if in tree' that the
    tree has no such option for (it is then nowhere in the .config)."""
    return [m for m in kconfig.mismatches(requested, built)
            if not (m[0] in marked and m[0] not in built)]


@may_share
def test_a_paddr_memcg_scenario_runs_on_the_built_kernel(kernel):
    """The default fragments have no MEMORY_HOTPLUG, so no memory-block
    sysfs: paddr targets must find each node's range another way (issue 12's
    first defect: this ended in ERROR). memcg-wrong-node-control sets up the
    same paddr targets as memcg-convergence and is timing_free: its verdict
    holds with the host's cores shared."""
    from harness.engine import run_scenario
    from harness.paths import new_run_dir
    from harness.report import summary_line
    from harness.scenario import load_scenario
    sc = load_scenario(REPO_ROOT / "tests" / "scenarios" / "memcg-wrong-node-control.yaml")
    assert sc.timing_free and sc.damon.kdamonds[0].contexts[0].operations == "paddr"
    result = run_scenario(sc, kernel=kernel, run_dir=new_run_dir("test-memcg-built"))
    assert result.verdict == "PASS", summary_line(result)
