"""Wall time of a DAMON selftests run and of a KUnit run, each split into
build (finding or building the kernel and the tests), boot and tests.

Usage: python benchmarks/selftests_bench.py [--fresh-cache]
With --fresh-cache, both runs start from an empty cache of their own (the
first builds the test kernel, the second finds it). Otherwise the cache is
the usual one, and `build` is what a second run pays.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args, out: Path, env: dict) -> dict:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness", *args, "--out", str(out)],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    results = json.loads((out / "results.json").read_text())
    return {"wall_s": round(wall, 1), "exit": proc.returncode, **results["timing"],
            "summary": results["summary"]}


def main() -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="selftests-bench-") as tmp:
        if "--fresh-cache" in sys.argv:
            env["DAMON_HARNESS_CACHE"] = str(Path(tmp) / "cache")
        rows = {"selftests --kunit": timed(["selftests", "--kunit"], Path(tmp) / "s", env),
                "kunit": timed(["kunit"], Path(tmp) / "k", env)}
    print(f"{'run':<18} {'wall':>7} {'build':>7} {'boot':>7} {'install':>8} {'tests':>7}  accel")
    for name, r in rows.items():
        tests = r.get("tests_s", r.get("boot_to_plan_complete_s"))
        boot = r.get("boot_s", "-")
        print(f"{name:<18} {r['wall_s']:>7} {r['build_s']:>7} {boot:>7} "
              f"{r.get('install_s', '-'):>8} {tests:>7}  {r['accel']}")
    print("kunit: 'tests' is QEMU start to a complete KTAP plan (boot and tests together)")
    for name, r in rows.items():
        print(f"{name}: {r['summary']} (exit {r['exit']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
