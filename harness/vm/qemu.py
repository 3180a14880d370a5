"""QEMU command lines built from a topology: pure functions, no processes."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from harness.topology import Topology

QEMU = "qemu-system-x86_64"
GUEST_IP = "10.0.2.15"
BASE_CMDLINE = (
    "console=ttyS0 rw rootfstype=ext4 init=/sbin/harness-init "
    "panic=-1 nokaslr mitigations=off 8250.nr_uarts=1 random.trust_cpu=on"
)
# DAMON clears a page's Accessed bit without a TLB flush. QEMU's software TLB
# is large and is emptied only on a CR3 write, so under TCG a re-access often
# never sets the bit again and hot memory looks idle. Page-table isolation
# writes CR3 on every kernel entry and exit (each timer tick of a busy task),
# which empties that TLB often enough for DAMON's sampling interval: a
# workload swept flat out read nr_accesses 20 of 20 with it, 0.9 and 1.7
# without (monitoring-accuracy with no TLB flush of its own). It comes after
# mitigations=off (which turns PTI off) and before a caller's additions, so
# `pti=off` there turns it off again. A kernel needs
# CONFIG_MITIGATION_PAGE_TABLE_ISOLATION (kernel-configs/guest.config);
# vm.json says whether the guest ran with it (page_table_isolation).
TCG_CMDLINE: List[str] = ["pti=on"]


@dataclass
class LaunchSpec:
    topology: Topology
    kernel: Path
    root_disk: Path
    root_partuuid: str
    ssh_port: int
    accel: str = "tcg"
    modules_disk: Optional[Path] = None
    extra_cmdline: List[str] = field(default_factory=list)


def cpu_ranges(cpus: List[int]) -> List[str]:
    """[0, 1, 2, 5] -> ['0-2', '5'] for QEMU's -numa node,cpus=..."""
    ranges: List[str] = []
    for cpu in sorted(cpus):
        if ranges and int(ranges[-1].split("-")[-1]) == cpu - 1:
            ranges[-1] = f"{ranges[-1].split('-')[0]}-{cpu}"
        else:
            ranges.append(str(cpu))
    return ranges


def numa_args(topo: Topology) -> List[str]:
    # One socket per vCPU: CPUs of one socket share an LLC, and an LLC spanning
    # two nodes makes the kernel WARN in topology_sane().
    args = ["-m", f"{topo.memory >> 20}M",
            "-smp", f"{topo.vcpus},sockets={topo.vcpus},cores=1,threads=1"]
    for node in topo.nodes:
        args += ["-object", f"memory-backend-ram,id=mem{node.id},size={node.memory >> 20}M"]
        opts = [f"nodeid={node.id}", *[f"cpus={r}" for r in cpu_ranges(node.cpus)],
                f"memdev=mem{node.id}"]
        args += ["-numa", "node," + ",".join(opts)]
    ids = [n.id for n in topo.nodes]
    for src in ids:
        for dst in ids:
            if src < dst:
                args += ["-numa", f"dist,src={src},dst={dst},val={topo.distance(src, dst)}"]
    return args


def accel_args(accel: str) -> List[str]:
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg,thread=multi", "-cpu", "max"]


def disk_args(root_disk: Path, modules_disk: Optional[Path]) -> List[str]:
    # Both disks are namespaces of one NVMe controller. Their names are not
    # stable, so the kernel finds root by PARTUUID and init the modules by
    # label. (A read-only namespace makes QEMU 7.2 fail writes to its sibling,
    # so the shared modules image is protected by snapshot=on instead.)
    args = ["-device", "nvme,id=nvme0,serial=harness",
            "-drive", f"file={root_disk},if=none,id=root,format=qcow2,discard=unmap",
            "-device", "nvme-ns,drive=root,bus=nvme0,nsid=1"]
    if modules_disk:
        args += ["-drive", f"file={modules_disk},if=none,id=mods,format=raw,snapshot=on",
                 "-device", "nvme-ns,drive=mods,bus=nvme0,nsid=2"]
    return args


def net_args(ssh_port: int) -> List[str]:
    return ["-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{ssh_port}-{GUEST_IP}:22",
            "-device", "virtio-net-pci,netdev=net0,romfile="]


def kernel_cmdline(spec: LaunchSpec) -> str:
    accel_params = TCG_CMDLINE if spec.accel == "tcg" else []
    return " ".join([BASE_CMDLINE, f"root=PARTUUID={spec.root_partuuid}", *accel_params,
                     *spec.extra_cmdline])


def build_argv(spec: LaunchSpec) -> List[str]:
    cmdline = kernel_cmdline(spec)
    return [QEMU, "-name", "damon-harness", "-machine", "q35", "-nodefaults",
            "-no-reboot", "-display", "none", "-monitor", "none",
            "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console",
            *accel_args(spec.accel), *numa_args(spec.topology),
            "-kernel", str(spec.kernel), "-append", cmdline,
            *disk_args(spec.root_disk, spec.modules_disk), *net_args(spec.ssh_port)]
