"""Wall time of a kernel matrix (run --kernels), split per kernel into
fetching the source, building the kernel and running the scenarios.

    python benchmarks/matrix_bench.py [--kernels debian:6.1,debian:7.3] [--fresh-cache]
                                      [SCENARIO ...]

Each kernel is taken in turn: its Debian source fetched and unpacked (or
found in the cache), the kernel built with the default fragments (or found),
then the scenarios (default: collapse hint-path) run on it once. A scenario
the kernel lacks a feature for is SKIP and costs no boot. --fresh-cache
runs in a new, empty cache directory, as a fresh machine would.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import engine  # noqa: E402
from harness.commands.kernels import parse_kernels  # noqa: E402
from harness.commands.run import scenario_paths  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.kernel import source as ksource  # noqa: E402
from harness.kernel.build import build_kernel  # noqa: E402


def timed(step):
    started = time.time()
    value = step()
    return value, time.time() - started


def one_kernel(item: str, paths) -> str:
    _, fetch_s = timed(lambda: ksource.resolve(item))
    kernel, build_s = timed(lambda: build_kernel(source=item))
    results, run_s = timed(lambda: engine.run_suite(paths, kernel=kernel,
                                                    echo=lambda *_: None))
    verdicts = " ".join(f"{r.name}={r.verdict}" for r in results)
    return (f"{item:<12} fetch {fetch_s:6.1f} s  build {build_s:6.1f} s  runs {run_s:6.1f} s"
            f"  ({verdicts})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", default="debian:6.1,debian:7.3")
    parser.add_argument("--fresh-cache", action="store_true")
    parser.add_argument("scenarios", nargs="*", default=["collapse", "hint-path"])
    args = parser.parse_args()
    try:        # bad input: one line and exit 2, before anything is fetched
        items = parse_kernels(args.kernels)
        if "default" in items:
            raise HarnessError("matrix_bench: every item must be debian:VERSION")
        paths = scenario_paths(args.scenarios)
        engine.load_suite(paths)
    except HarnessError as exc:
        print(f"matrix_bench: error: {exc}", file=sys.stderr)
        return 2
    if args.fresh_cache:
        os.environ["DAMON_HARNESS_CACHE"] = tempfile.mkdtemp(prefix="matrix-bench-cache-")
    started = time.time()
    for item in items:
        print(one_kernel(item, paths), flush=True)
    print(f"matrix of {len(items)} kernels x {len(paths)} scenarios: "
          f"{time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
