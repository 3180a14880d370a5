"""Wall time of `compare` and `bisect`, split into build and runs.

Usage: python benchmarks/compare_bench.py [--repeat N] [--scenarios A,B,...]
Defaults: --repeat 3 over the 4 core scenarios (the issue's benchmark), with
tests/controls/slow-collapse.patch as the patched side; then a bisect of
tests/controls/wrong-migration-node-series with the migration scenario.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTROLS = ROOT / "tests" / "controls"


def run(args, out: Path) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "harness", *args, "--out", str(out)], cwd=ROOT)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", default="3")
    parser.add_argument("--scenarios", default="collapse,hint-path,migration,memcg-convergence")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="compare-bench-") as tmp:
        out = Path(tmp) / "compare"
        wall = run(["compare", *opts.scenarios.split(","), "--patches",
                    str(CONTROLS / "slow-collapse.patch"), "--repeat", opts.repeat], out)
        data = json.loads((out / "compare.json").read_text())
        timing = data["timing"]
        runs = sum(len(v) for v in timing["run_wall_s"].values())
        print(f"compare --repeat {opts.repeat} over {opts.scenarios}: wall {wall:.0f} s, "
              f"build {timing['build_s']:.0f} s, {runs} runs in {timing['runs_s']:.0f} s "
              f"({timing['runs_s'] / runs:.0f} s a run); call {data['call']}")
        for name, walls in sorted(timing["run_wall_s"].items()):
            print(f"  {name}: {', '.join(f'{w:.0f}' for w in walls)} s")
        out = Path(tmp) / "bisect"
        wall = run(["bisect", "--patches", str(CONTROLS / "wrong-migration-node-series"),
                    "--scenario", "migration", "--repeat", "1"], out)
        steps = json.loads((out / "bisect.json").read_text())["steps"]
        build = sum(s["build_s"] for s in steps)
        runs = sum(s["run_s"] for s in steps)
        print(f"bisect over 3 patches (migration, 1 run a step): wall {wall:.0f} s, "
              f"{len(steps)} steps, build {build:.0f} s, runs {runs:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
