"""Build the default kernel (a cache hit when one exists) and boot it.

The boot uses a busybox initramfs and no disk, so it checks only what the
build owns: the kernel starts under QEMU (TCG), sees two NUMA nodes, and
exposes DAMON's sysfs interface. The full guest (rootfs, sshd) is the VM
layer's test.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.kernel import config as kconfig
from harness.kernel.build import build_kernel

pytestmark = pytest.mark.vm

INIT = """#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox ls /sys/devices/system/node/ | /bin/busybox grep -c '^node' | \\
    /bin/busybox sed 's/^/NODES=/'
[ -d /sys/kernel/mm/damon/admin ] && echo DAMON_ADMIN_OK
/bin/busybox poweroff -f
"""


@pytest.fixture(scope="module")
def kernel():
    return build_kernel()


def test_requested_options_hold(kernel):
    built = kconfig.parse((kernel.image.parent / "config").read_text(), strict=False)
    for name in kconfig.DEFAULT_FRAGMENTS:
        requested = kconfig.parse(kconfig.resolve_fragment(name).read_text())
        assert kconfig.mismatches(requested, built) == []


def initramfs(dest: Path) -> Path:
    busybox = shutil.which("busybox")
    if not busybox:
        pytest.skip("busybox-static is not installed")
    root = dest / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy(busybox, root / "bin" / "busybox")
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    image = dest / "initramfs.cpio"
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True).stdout
    with open(image, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files.encode(),
                       stdout=out, check=True)
    return image


def test_boots_with_damon_sysfs(kernel, tmp_path):
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", "1G", "-smp", "2", "-nographic",
            "-no-reboot", "-kernel", str(kernel.image), "-initrd", str(initramfs(tmp_path)),
            "-object", "memory-backend-ram,id=m0,size=512M",
            "-object", "memory-backend-ram,id=m1,size=512M",
            "-numa", "node,nodeid=0,cpus=0,memdev=m0", "-numa", "node,nodeid=1,cpus=1,memdev=m1",
            "-append", "console=ttyS0 panic=-1 rdinit=/init"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    console = proc.stdout
    assert "Linux version" in console, console[-2000:]
    assert "NODES=2" in console, console[-2000:]
    assert "DAMON_ADMIN_OK" in console, console[-2000:]
