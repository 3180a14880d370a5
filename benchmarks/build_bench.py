"""Time the kernel build pipeline: cold build, unchanged rebuild, one-file change.

    python benchmarks/build_bench.py [--source PATH] [--fresh-cache] [--jobs N]

--fresh-cache runs everything in a new, empty cache directory (source download,
ccache and all), which is what a fresh machine sees; without it the first
figure is whatever the current cache gives (often a hit).
The one-file change is a patch adding a line of code to mm/damon/vaddr.c; the
line differs on every run so ccache cannot answer for it.
"""

import argparse
import difflib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.errors import HarnessError  # noqa: E402
from harness.kernel import source as ksource  # noqa: E402
from harness.kernel.build import build_kernel  # noqa: E402

CHANGED = "mm/damon/vaddr.c"


def timed(label: str, **kwargs):
    started = time.time()
    kernel = build_kernel(**kwargs)
    took = time.time() - started
    print(f"{label}: {took:.1f} s  ({kernel.image.parent})", flush=True)
    return took


def one_file_patch(source_spec, dest: Path) -> Path:
    tree = ksource.resolve(source_spec).tree
    old = (tree / CHANGED).read_text().splitlines(keepends=True)
    marker = f"int damon_bench_marker_{int(time.time())} = {os.getpid()};\n"
    diff = difflib.unified_diff(old, old + [marker], f"a/{CHANGED}", f"b/{CHANGED}")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "0001-bench-touch-vaddr.patch").write_text("".join(diff))
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=None)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--fresh-cache", action="store_true",
                        help="build in a new, empty cache, removed afterwards")
    args = parser.parse_args()
    fresh = tempfile.mkdtemp(prefix="damon-harness-bench-") if args.fresh_cache else None
    if fresh:
        os.environ["DAMON_HARNESS_CACHE"] = fresh
    try:
        return run(args)
    finally:
        if fresh:
            shutil.rmtree(fresh, ignore_errors=True)


def run(args) -> int:
    common = {"source": args.source, "jobs": args.jobs}
    try:
        cold = timed("cold build", **common)
        same = timed("rebuild, nothing changed", **common)
        with tempfile.TemporaryDirectory() as tmp:
            series = one_file_patch(args.source, Path(tmp))
            touched = timed(f"rebuild, {CHANGED} changed", patches=[str(series)], **common)
    except HarnessError as err:
        print(f"build_bench: {err}", file=sys.stderr)
        return err.exit_code
    print(f"SUMMARY cold={cold:.0f}s unchanged={same:.1f}s one_file={touched:.0f}s "
          f"(goals: <=720s, <=10s, <=90s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
