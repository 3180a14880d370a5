"""Wall time of the default scenario suite, split into boot, setup, settling and sampling.

Usage: python benchmarks/suite_bench.py [SCENARIO ...]
Default: the four issue-5 scenarios on Debian's kernel (no kernel build).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness import engine  # noqa: E402
from harness.commands.run import scenario_paths  # noqa: E402

FOUR = ("collapse", "hint-path", "migration", "memcg-convergence")


def main() -> int:
    names = sys.argv[1:] or FOUR
    start = time.monotonic()
    results = engine.run_suite(scenario_paths(names), echo=lambda *_: None)
    wall = time.monotonic() - start
    parts = {}
    for r in results:
        for key, value in (r.timings or {}).items():
            parts[key] = parts.get(key, 0.0) + value
    for r in results:
        print(f"{r.verdict:<9} {r.name:<28} {r.wall_time:6.1f} s")
    split = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(parts.items()))
    print(f"suite wall time: {wall:.1f} s for {len(results)} scenarios ({split})")
    return engine.exit_code(results)


if __name__ == "__main__":
    raise SystemExit(main())
