"""Pick the accelerator by booting: KVM where it really runs a guest, else TCG.

/dev/kvm can exist and answer ioctls yet fail on the first instruction it must
emulate, so the probe boots the kernel under KVM and waits for its banner. The
answer is cached per (kernel, QEMU, host CPU).
"""

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pexpect

from harness.paths import cache_dir
from harness.vm.process import spawn_qemu
from harness.vm.qemu import QEMU

PROBE_SECONDS = 12
BANNER = b"Linux version"


def choose_accel(kernel: Path, requested: str = "auto") -> str:
    if requested in ("kvm", "tcg"):
        return requested
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    record = cache_dir("accel") / f"{_probe_key(kernel)}.json"
    if record.exists():
        return json.loads(record.read_text())["accel"]
    accel = "kvm" if kvm_boots(kernel) else "tcg"
    record.write_text(json.dumps({"accel": accel, "kernel": str(kernel),
                                  "probed_at": time.time()}) + "\n")
    return accel


def kvm_boots(kernel: Path) -> bool:
    argv = [QEMU, "-accel", "kvm", "-cpu", "host", "-m", "256M", "-nodefaults",
            "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1"]
    child = spawn_qemu(argv)
    try:
        child.expect(BANNER, timeout=PROBE_SECONDS)
        return True
    except (pexpect.TIMEOUT, pexpect.EOF):
        return False
    finally:
        child.terminate(force=True)


def _probe_key(kernel: Path) -> str:
    stat = kernel.stat()
    version = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout
    cpu = _cpu_model()
    text = f"{kernel.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{version}|{cpu}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
