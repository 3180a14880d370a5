from pathlib import Path

from harness.topology import load_topology
from harness.vm import qemu
from harness.vm.qemu import LaunchSpec, build_argv, cpu_ranges, kernel_cmdline


def spec(topology="two-node", accel="tcg", modules=True):
    return LaunchSpec(load_topology(topology), Path("/k/vmlinuz"), Path("/r/overlay.qcow2"),
                      "abcd1234-01", 2222, accel, Path("/m/mods.img") if modules else None,
                      ["foo=1"])


def test_cpu_ranges():
    assert cpu_ranges([0, 1, 2, 5, 7, 8]) == ["0-2", "5", "7-8"]
    assert cpu_ranges([]) == []


def test_two_node_argv():
    argv = " ".join(build_argv(spec()))
    assert "-m 2048M" in argv and "-smp 2,sockets=2,cores=1,threads=1" in argv
    assert "-numa node,nodeid=0,cpus=0,memdev=mem0" in argv
    assert "-numa node,nodeid=1,cpus=1,memdev=mem1" in argv
    assert "memory-backend-ram,id=mem1,size=1024M" in argv
    assert "-numa dist,src=0,dst=1,val=20" in argv
    assert "-no-reboot" in argv and "panic=-1" in argv
    assert "root=PARTUUID=abcd1234-01" in argv and argv.endswith("romfile=")
    assert "hostfwd=tcp:127.0.0.1:2222-10.0.2.15:22" in argv
    assert "foo=1" in argv and "-accel tcg" in argv


def test_cpuless_node_has_no_cpus_option():
    argv = build_argv(spec("cpuless-node1"))
    assert "node,nodeid=1,memdev=mem1" in argv
    assert "node,nodeid=0,cpus=0-1,memdev=mem0" in argv


def test_kvm_and_no_modules():
    argv = build_argv(spec(accel="kvm", modules=False))
    assert argv[argv.index("-accel") + 1] == "kvm" and "host" in argv
    assert not any("mods" in a for a in argv)


def test_tcg_parameters_come_after_the_base_and_before_the_callers(monkeypatch):
    monkeypatch.setattr(qemu, "TCG_CMDLINE", ["tcg_only=1"])
    line = kernel_cmdline(spec())
    assert line.index("mitigations=off") < line.index("tcg_only=1") < line.index("foo=1")
    assert "tcg_only=1" not in kernel_cmdline(spec(accel="kvm"))
    assert f"-append {line} " in " ".join(build_argv(spec()))
