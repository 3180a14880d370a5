"""Build the default kernel (a cache hit when one exists) and boot it.

The result boots in the harness's guest (two NUMA nodes, sshd) and exposes
DAMON's sysfs interface.
"""

import pytest

from harness.kernel import config as kconfig
from harness.kernel.build import build_kernel

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def kernel():
    return build_kernel()


def test_requested_options_hold(kernel):
    built = kconfig.parse((kernel.image.parent / "config").read_text(), strict=False)
    for name in kconfig.DEFAULT_FRAGMENTS:
        requested = kconfig.parse(kconfig.resolve_fragment(name).read_text())
        assert kconfig.mismatches(requested, built) == []


def test_boots_in_the_guest_with_damon_sysfs(kernel, boot_vm):
    vm = boot_vm("two-node", kernel=kernel)
    assert vm.run("uname -r", check=True).stdout.strip() == kernel.release
    nodes = vm.run("ls -d /sys/devices/system/node/node[0-9]*", check=True).stdout.split()
    assert len(nodes) == 2
    assert vm.run("test -d /sys/kernel/mm/damon/admin/kdamonds").ok
