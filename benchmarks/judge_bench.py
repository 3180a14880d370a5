"""How long judging a finished run again takes, and validating scenarios.

Usage: python benchmarks/judge_bench.py [RUN_DIR ...]
Default: the runs captured from real guests under tests/data/runs. Prints
the median of 5 re-judgements per run (no boot: files in, verdicts out), and
the median time to load and fully validate every built-in scenario.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness import judge  # noqa: E402
from harness.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 5


def median_seconds(action) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    runs = [Path(p) for p in sys.argv[1:]] or sorted(
        p for p in (ROOT / "tests" / "data" / "runs").iterdir() if p.is_dir())
    for run in runs:
        seconds = median_seconds(lambda: judge.judge_dir(run))
        result, _ = judge.judge_dir(run)
        print(f"judge {run.name:<34} {seconds * 1000:7.1f} ms  {result.verdict} "
              f"({len(result.checks)} checks)")
    files = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))
    seconds = median_seconds(lambda: [load_scenario(f) for f in files])
    print(f"validate {len(files)} built-in scenarios (kernel inputs included): "
          f"{seconds * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
