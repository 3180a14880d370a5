"""One matrix three ways on this host: serial, --jobs 2, and two local Dask
workers (one VM each). Prints each way's wall time, the runs' own wall time,
and the per-task overhead; then the costs of shipping a kernel and a run
directory, and a projection for 8 hosts with KVM from those costs.

Usage: python benchmarks/runner_bench.py [--repeat N] [SCENARIO ...]
Default: collapse-stat-control and migration-nomatch-control, 2 repeats.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness.dask_local import LocalCluster  # noqa: E402
from harness.paths import REPO_ROOT  # noqa: E402

DEFAULT = ("collapse-stat-control", "migration-nomatch-control")


def run_matrix(names, repeat: int, extra, where: Path) -> dict:
    env = {**os.environ, "DAMON_HARNESS_RESULTS": str(where / "runs")}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness", "run", *names, "--repeat",
                           str(repeat), "--out", str(where / "suite"), *extra], cwd=REPO_ROOT,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - start
    summary = json.loads((where / "suite" / "summary.json").read_text())
    runs = [s["wall_time"] for s in summary["scenarios"]]
    verdicts = [s["verdict"] for s in summary["scenarios"]]
    return {"wall": wall, "runs": runs, "verdicts": verdicts, "exit": proc.returncode,
            "runner": summary.get("runner", "")}


def line(name: str, m: dict, slots: int) -> str:
    n = len(m["runs"])
    overhead = (m["wall"] * slots - sum(m["runs"])) / n
    passed = sum(v == "PASS" for v in m["verdicts"])
    return (f"{name:<16} {m['wall']:7.1f} s  {n} runs, their own time {sum(m['runs']):6.1f} s "
            f"(median {statistics.median(m['runs']):.1f} s)  overhead/task {overhead:5.1f} s  "
            f"{passed}/{n} PASS\n{'':<16} {m['runner']}")


def shipping_costs() -> str:
    from harness.kernel import shipping
    from harness.kernel.prebuilt import default_kernel
    kernel = default_kernel()
    t0 = time.monotonic()
    ident = shipping.kernel_id(kernel)
    t1 = time.monotonic()
    blob = shipping.pack(kernel)
    t2 = time.monotonic()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DAMON_HARNESS_CACHE"] = cache
        moved = kernel.__class__(Path(cache) / "nowhere", kernel.modules_dir, kernel.release,
                                 kernel.origin)
        shipping.unpacked(moved, ident, blob)
        t3 = time.monotonic()
    return (f"kernel {kernel.release}: id {t1 - t0:.2f} s, tar {len(blob) / 2**20:.1f} MiB "
            f"in {t2 - t1:.2f} s, unpacked in {t3 - t2:.2f} s")


def main() -> int:
    args = sys.argv[1:]
    repeat = 2
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat, args = int(args[i + 1]), args[:i] + args[i + 2:]
    names = args or list(DEFAULT)
    print(f"matrix: {' '.join(names)} x {repeat} repeats, on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        serial = run_matrix(names, repeat, ["--jobs", "1"], tmp / "serial")
        print(line("serial", serial, 1), flush=True)
        jobs = run_matrix(names, repeat, ["--jobs", "2"], tmp / "jobs2")
        print(line("--jobs 2", jobs, 2), flush=True)
        (tmp / "logs").mkdir()
        with LocalCluster(workers=2, vms=1, log_dir=tmp / "logs") as cluster:
            dask = run_matrix(names, repeat, ["--cluster", cluster.address], tmp / "dask")
        print(line("dask, 2 workers", dask, 2), flush=True)
    print(shipping_costs())
    per_task = statistics.median(serial["runs"])
    overhead = max(0.0, (dask["wall"] * 2 - sum(dask["runs"])) / len(dask["runs"]))
    print(f"projection, 8 KVM hosts x 1 VM, a 2 x 4 x 5 comparison (40 tasks): "
          f"{40 / 8 * (per_task + overhead) / 60:.1f} min at this host's median task "
          f"({per_task:.0f} s) plus the Dask overhead ({overhead:.1f} s); serial here "
          f"{40 * per_task / 60:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
