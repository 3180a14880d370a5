"""Arguments shared by the commands that boot a VM."""

from pathlib import Path

from harness.commands.argtypes import kernel_parameter
from harness.errors import InputError
from harness.kernel.artifact import Kernel, user_kernel
from harness.topology import Topology, from_flags, load_topology

DEFAULT_TOPOLOGY = "two-node"


def add_vm_arguments(parser) -> None:
    parser.add_argument("topology", nargs="?", default=None,
                        help=f"built-in topology name or YAML file (default: {DEFAULT_TOPOLOGY})")
    parser.add_argument("--node", action="append", default=[], metavar="mem=SIZE[,cpus=LIST]",
                        help="a NUMA node, in id order, instead of a topology file; "
                             "repeat per node (cpus may be empty for a CPU-less node)")
    parser.add_argument("--distance", action="append", default=[], metavar="A-B=D",
                        help="distance between nodes A and B (default 20)")
    parser.add_argument("--kernel", metavar="PATH",
                        help="kernel image to boot (default: Debian's cloud kernel)")
    parser.add_argument("--modules", metavar="DIR",
                        help="the kernel's modules tree (lib/modules or lib/modules/RELEASE)")
    parser.add_argument("--image", default="bookworm", help="guest image recipe")
    parser.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")
    add_append_argument(parser)


def add_append_argument(parser) -> None:
    parser.add_argument("--append", action="append", default=[], metavar="ARG",
                        type=kernel_parameter,
                        help="a kernel parameter after the harness's own (e.g. pti=off); "
                             "may be repeated")


def topology_from(args) -> Topology:
    if args.node:
        if args.topology:
            raise InputError("--node", "give either a topology or --node flags, not both")
        return from_flags(args.node, args.distance)
    if args.distance:
        raise InputError("--distance", "only applies together with --node")
    return load_topology(args.topology or DEFAULT_TOPOLOGY)


def kernel_from(args) -> Kernel:
    if args.kernel:
        return user_kernel(args.kernel, args.modules)
    if args.modules:
        raise InputError("--modules", "only applies together with --kernel")
    from harness.kernel.prebuilt import default_kernel
    return default_kernel()


def add_scenario_run_arguments(parser, what: str) -> None:
    """The flags of the commands that run scenarios on their own kernels."""
    parser.add_argument("--kernel", metavar="PATH",
                        help=f"boot this kernel instead of each {what}'s own")
    parser.add_argument("--modules", metavar="DIR", help="the --kernel's modules tree")
    parser.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")


def add_retries_argument(parser) -> None:
    from harness.commands.argtypes import integer
    parser.add_argument("--retries", type=integer(0, 10, "retries"), default=0, metavar="N",
                        help="run a scenario that FAILs up to N more times, each attempt in a "
                             "run directory of its own; one that passes only on a retry is "
                             "FLAKY, not PASS (default 0: a FAIL is a FAIL)")


def kernel_override(args):
    """The --kernel to boot instead of each scenario's own, or None."""
    if not args.kernel:
        if args.modules:
            raise InputError("--modules", "only applies together with --kernel")
        return None
    return user_kernel(args.kernel, args.modules)


def add_runner_arguments(parser) -> None:
    """Where a matrix of runs runs: this host, `--jobs` at once, or a cluster."""
    from harness.commands.argtypes import integer
    parser.add_argument("--jobs", type=integer(1, 256, "VMs at once"), default=None,
                        metavar="N",
                        help="VMs at once on this host (default: as many as its cores and "
                             "memory hold without sharing: 1 on 2 cores)")
    parser.add_argument("--cluster", metavar="ADDRESS|ssh://HOSTS|FILE",
                        help="run on the Dask scheduler at ADDRESS (e.g. tcp://lab1:8786) "
                             "whose workers declare --resources VM=N; or start one for "
                             "this run: a worker on each of ssh://HOST1,HOST2 (one VM "
                             "each), or as a cluster file (.yaml) says")


def runner_for(args):
    """The runner the flags ask for; a cluster is reached (or refused) now,
    before anything builds or boots."""
    from harness.runner import LocalRunner
    if args.cluster:
        if args.jobs is not None:
            raise InputError("--jobs", "is for this host; on --cluster each worker's VM "
                                       "resource says how many VMs it runs")
        from harness.dask_runner import DaskRunner, connect
        return DaskRunner(connect(_cluster_address(args.cluster)), args.accel)
    return LocalRunner(args.accel, args.jobs)


def _cluster_address(value: str) -> str:
    """The scheduler's address: the one given, or that of a cluster started
    now over ssh (stopped when the harness exits)."""
    import atexit
    import tempfile
    import time
    from harness import dask_ssh
    spec = dask_ssh.cluster_spec(value)
    if spec is None:
        return value
    logs = Path(tempfile.mkdtemp(prefix="damon-harness-cluster-"))   # not a cache: may be refused
    print(f"cluster: starting a worker on {', '.join(spec.hosts)} over ssh (logs: {logs})",
          flush=True)
    started = time.monotonic()
    cluster = dask_ssh.start(spec, logs)
    atexit.register(cluster.stop)
    print(f"cluster: {len(spec.hosts)} worker(s) joined in {time.monotonic() - started:.1f} s",
          flush=True)
    return cluster.address
