"""Wall time of each reproduction (every condition, one run each unless
--repeat), split into the runs' boot, setup, settling and sampling.

Usage: python benchmarks/reproduce_bench.py [NAME ...] [--repeat N]
Default: every reproduction under tests/reproductions/, on its own kernel.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness import judge, reproduce  # noqa: E402
from harness.paths import REPO_ROOT, checked_out, run_dir_for  # noqa: E402


def bench(name: str, extra, out: Path) -> str:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness", "reproduce", name, "--out",
                           str(out), *extra], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    wall = time.monotonic() - start
    verdict = next((line.split(": ")[-1] for line in proc.stdout.splitlines()
                    if line.startswith(f"reproduce {name}: ")), f"exit {proc.returncode}")
    parts, runs = {}, 0
    for result_json in (out / name).glob("*run-*/result.json"):
        runs += 1
        result, _ = judge.judge_dir(result_json.parent)
        for key, value in (result.timings or {}).items():
            parts[key] = parts.get(key, 0.0) + value
    split = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(parts.items()))
    return f"{name:<24} {wall:7.1f} s  {runs} run(s)  {verdict:<15} ({split})"


def main() -> int:
    args = sys.argv[1:]
    extra = args[args.index("--repeat"):args.index("--repeat") + 2] if "--repeat" in args \
        else []
    names = [a for a in args if a not in extra] or list(reproduce.available())
    out = run_dir_for(checked_out(None), "reproduce-bench")
    for name in names:
        print(bench(name, extra, out / name), flush=True)
    print(f"runs and reports: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
