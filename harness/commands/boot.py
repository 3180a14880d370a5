"""`damon-harness boot` runs a command in a fresh guest; `shell` opens one."""

import argparse
import math
import os
import shlex
import subprocess
import sys

from harness.commands.vmargs import add_vm_arguments, kernel_from, topology_from
from harness.image import guest_image, load_recipe, recipe_path
from harness.paths import check_results_dir
from harness.vm.machine import boot

# What the guest sees of its NUMA layout and DAMON, when no command is given.
GUEST_VIEW = r"""
echo "kernel: $(uname -r)"
for n in /sys/devices/system/node/node[0-9]*; do
    kb=$(awk '/MemTotal/ {print $4}' "$n/meminfo")
    echo "node ${n##*node}: cpus=[$(cat "$n/cpulist")] MemTotal=$((kb / 1024)) MiB"
done
echo "distances: $(cat /sys/devices/system/node/node*/distance | tr '\n' ';')"
if [ -d /sys/kernel/mm/damon/admin ]; then
    echo "damon: /sys/kernel/mm/damon/admin present"
else
    echo "damon: /sys/kernel/mm/damon/admin MISSING"; exit 1
fi
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "boot", help="boot a guest, run a command over SSH, power off",
        usage="damon-harness boot [options] [TOPOLOGY] [-- CMD...]",
        description="Boot a guest, run CMD (default: print its NUMA and DAMON view), "
                    "power off, and exit with CMD's exit status.")
    add_vm_arguments(parser)
    parser.add_argument("--timeout", type=positive_seconds, default=600,
                        help="seconds CMD may take")
    parser.set_defaults(func=run_boot)

    shell = subparsers.add_parser("shell", help="boot a guest and open an interactive shell")
    add_vm_arguments(shell)
    shell.set_defaults(func=run_shell)


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds > 0: {text}")
    return value


def _boot(args):
    # Every input is checked before the kernel is fetched or the image built.
    topology = topology_from(args)
    check_results_dir()
    load_recipe(recipe_path(args.image))
    kernel = kernel_from(args)
    return boot(topology, kernel=kernel, image=guest_image(args.image), accel=args.accel,
                extra_cmdline=args.append)


def run_boot(args) -> int:
    command = shlex.join(args.guest_cmd) if args.guest_cmd else GUEST_VIEW
    with _boot(args) as vm:
        print(f"# booted in {vm.meta['boot_seconds']} s ({vm.accel}); artefacts: {vm.run_dir}",
              file=sys.stderr)
        result = vm.run(command, timeout=args.timeout)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.exit_code


def run_shell(args) -> int:
    with _boot(args) as vm:
        ssh = ["ssh", "-i", str(vm.image.key), "-p", str(vm.guest.port),
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "root@127.0.0.1"]
        print(f"# {' '.join(ssh)}", file=sys.stderr)
        return subprocess.call(ssh, stdin=sys.stdin if os.isatty(0) else subprocess.DEVNULL)
