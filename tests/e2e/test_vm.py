"""The VM layer end to end: real QEMU, real kernel, real guest."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness.guest.numa import VIEW_SCRIPT, parse_view
from harness.hashing import file_sha256
from harness.image import guest_image
from harness.paths import REPO_ROOT
from harness.topology import load_topology
from harness.verdict import RunEnded, Verdict

# booting, the console and how a run ends: no verdict here depends on timing
pytestmark = [pytest.mark.vm, pytest.mark.may_share_cores]
MEMORY_TOLERANCE = 0.05


def check_layout(vm, topology):
    view = parse_view(vm.run(VIEW_SCRIPT, check=True).stdout)
    assert sorted(view) == [n.id for n in topology.nodes]
    for node in topology.nodes:
        seen = view[node.id]
        assert seen.cpus == node.cpus, f"node {node.id} CPUs"
        # The kernel's own image is reserved out of whichever node holds it;
        # that is the kernel's cost, not the topology's, so it is added back.
        memory = seen.memtotal + seen.kernel_image
        assert abs(memory - node.memory) <= MEMORY_TOLERANCE * node.memory, (
            f"node {node.id}: MemTotal {seen.memtotal >> 20} MiB + kernel image "
            f"{seen.kernel_image >> 20} MiB vs {node.memory >> 20} MiB asked")


def test_two_nodes_one_cpu_each(boot_vm):
    image = guest_image()
    before = file_sha256(image.path)
    topology = load_topology("two-node")
    vm = boot_vm(topology)
    assert vm.accel in ("kvm", "tcg") and vm.meta["accel"] == vm.accel
    check_layout(vm, topology)
    assert vm.run("test -d /sys/kernel/mm/damon/admin").ok
    # Writing in the guest must never reach the shared base image.
    vm.run("dd if=/dev/urandom of=/root/junk bs=1M count=8 && sync", check=True)
    vm.stop()
    assert file_sha256(image.path) == before


def test_cpuless_memory_node(boot_vm):
    topology = load_topology("cpuless-node1")
    vm = boot_vm(topology)
    check_layout(vm, topology)
    assert vm.run("cat /sys/devices/system/node/node1/cpulist").stdout.strip() == ""


def test_sysrq_crash_is_a_crash_verdict(boot_vm):
    vm = boot_vm()
    triggered = time.monotonic()
    with pytest.raises(RunEnded) as ended:
        vm.run("echo c > /proc/sysrq-trigger; sleep 60", timeout=90)
    assert ended.value.verdict == Verdict.CRASH
    assert time.monotonic() - triggered < 30
    assert "sysrq triggered crash" in ended.value.excerpt


def test_frozen_guest_is_a_hang(boot_vm):
    vm = boot_vm()
    os.kill(vm.child.pid, signal.SIGSTOP)
    try:
        with pytest.raises(RunEnded) as ended:
            vm.run("true", timeout=5)
        assert ended.value.verdict == Verdict.HANG
    finally:
        os.kill(vm.child.pid, signal.SIGCONT)


def test_no_network_driver_is_boot_fail(boot_vm, default_kernel):
    # Without its modules the Debian kernel has no NIC driver, so sshd is
    # never reachable: that is a boot failure, not a test failure.
    no_modules = type(default_kernel)(image=default_kernel.image, release=default_kernel.release)
    with pytest.raises(RunEnded) as ended:
        boot_vm(kernel=no_modules, boot_deadline=25)
    assert ended.value.verdict == Verdict.BOOT_FAIL


def test_crash_before_ssh_is_a_crash_and_not_retried(boot_vm, tmp_path):
    # A panic during boot is the kernel's verdict, not a missing SSH: CRASH,
    # at once, and only the known TCG race would earn a second boot.
    started = time.monotonic()
    with pytest.raises(RunEnded) as ended:
        boot_vm(run_dir=tmp_path, extra_cmdline=["init=/no/such/init"])
    assert ended.value.verdict == Verdict.CRASH
    assert "Requested init /no/such/init failed" in ended.value.excerpt
    assert time.monotonic() - started < 60
    assert (tmp_path / "console.log").exists()
    assert not list(tmp_path.glob("console.boot*.log"))


def test_tcg_int3_boot_race_is_booted_once_more(boot_vm, tmp_path):
    # The guest's first process (its stdout is the serial console) prints the
    # race's signature, so both boots "die of it": the second verdict stands,
    # the first is kept. ${o} keeps the signature out of the echoed command line.
    fake = ["init=/bin/sh", "--", "-c", '"o=O; echo ${o}ops: int3: simulated; sleep 600"']
    with pytest.raises(RunEnded) as ended:
        boot_vm(run_dir=tmp_path, extra_cmdline=fake)
    assert ended.value.verdict == Verdict.CRASH
    assert "Oops: int3: simulated" in ended.value.message
    assert "command line" not in ended.value.message.lower()
    meta = json.loads((tmp_path / "vm.json").read_text())
    if meta["accel"] != "tcg":
        pytest.skip("the retry applies to TCG only")
    assert "Oops: int3: simulated" in (tmp_path / "console.boot1.log").read_text()
    assert [a["console"] for a in meta["earlier_boot_attempts"]] == ["console.boot1.log"]
    assert not list(tmp_path.glob("console.boot2.log"))


def qemu_pids(run_root):
    """QEMU processes whose disks live under run_root (this test's runs only)."""
    out = subprocess.run(["pgrep", "-f", f"qemu-system-x86_64 .*{run_root}"],
                         capture_output=True, text=True).stdout
    return set(out.split())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_leaves_no_qemu(signum, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), DAMON_HARNESS_RESULTS=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "harness", "boot", "--", "sleep", "600"],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if line.startswith("# booted"):
                break
        assert qemu_pids(tmp_path), "no QEMU was running"
        proc.send_signal(signum)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.5)
    assert not qemu_pids(tmp_path)
    assert not list(tmp_path.rglob("overlay.qcow2"))
