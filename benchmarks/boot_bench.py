"""Median time from QEMU's start to the guest's sshd running a command.

Usage: python benchmarks/boot_bench.py [--boots N] [--topology NAME] [--accel auto|kvm|tcg]
                                      [--append PARAM ...]
The kernel, image and accelerator probe are fetched/built first and not timed.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness.commands.vmargs import add_append_argument  # noqa: E402
from harness.image import guest_image  # noqa: E402
from harness.kernel.prebuilt import default_kernel  # noqa: E402
from harness.topology import load_topology  # noqa: E402
from harness.vm.machine import boot  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boots", type=int, default=5)
    parser.add_argument("--topology", default="two-node")
    parser.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    add_append_argument(parser)
    args = parser.parse_args()
    kernel, image, topology = default_kernel(), guest_image(), load_topology(args.topology)
    times, walls, accel = [], [], ""
    for i in range(args.boots):
        start = time.monotonic()
        with boot(topology, kernel=kernel, image=image, accel=args.accel,
                  extra_cmdline=args.append) as vm:
            times.append(vm.meta["boot_seconds"])
            accel = vm.accel
        walls.append(time.monotonic() - start)
        print(f"boot {i + 1}: {times[-1]:.2f} s to SSH, {walls[-1]:.2f} s boot+poweroff",
              flush=True)
    print(f"kernel: {kernel.release}  accelerator: {accel}  cpus on host: {os.cpu_count()}")
    print(f"kernel command line: {vm.meta['cmdline']}")
    print(f"median QEMU start -> SSH command: {statistics.median(times):.2f} s "
          f"over {len(times)} boots (min {min(times):.2f}, max {max(times):.2f})")
    print(f"median wall incl. power-off: {statistics.median(walls):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
