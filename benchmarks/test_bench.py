"""Time `make test` as CI runs it: a fresh clone of HEAD, optionally an empty cache.

    python benchmarks/test_bench.py [--fresh-cache] [--keep]

Prints the wall time, pytest's tally, the kernels the run compiled (with
each one's build time from its metadata), the tests whose guests shared the
host's cores, and the 20 slowest tests. With --fresh-cache the run gets a
new, empty cache (the Python environment, every download, image and kernel),
removed afterwards unless --keep; without it, the cache CI has.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def kernels_built(cache: Path, since: float) -> list:
    """(key, seconds, what) of every kernel compiled into `cache` since `since`."""
    out = []
    for meta in sorted((cache / "kernels").glob("*/metadata.json")):
        if meta.stat().st_mtime < since:
            continue
        data = json.loads(meta.read_text())
        patches = [p["name"][:24] for p in data.get("patches", [])]
        frags = [Path(f["path"]).stem for f in data.get("fragments", [])]
        out.append((meta.parent.name, data.get("duration_s", 0.0),
                    f"{'+'.join(frags)}; patches: {', '.join(patches) or 'none'}"))
    return sorted(out, key=lambda k: -k[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh-cache", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the fresh cache and clone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="damon-harness-test-bench-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {**os.environ, "CI": "true"}
    if args.fresh_cache:
        env["DAMON_HARNESS_CACHE"] = str(work / "cache")
    cache = Path(env.get("DAMON_HARNESS_CACHE") or
                 Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "damon-harness")
    started = time.time()
    proc = subprocess.run(["bash", ".ci/run"], cwd=clone, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    took = time.time() - started
    log = Path(tempfile.mkstemp(prefix="damon-harness-make-test-", suffix=".log")[1])
    log.write_text(proc.stdout)
    report(proc, took, cache, started)
    print(f"log: {log}", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return proc.returncode


def report(proc, took: float, cache: Path, started: float) -> None:
    log = proc.stdout
    tally = re.findall(r"^=+ (.*(?:passed|failed).*) in [\d.]+s", log, re.M)
    print(f"make test: {took:.0f} s ({took / 60:.1f} min), exit {proc.returncode}; "
          f"{tally[-1] if tally else 'no tally'}")
    built = kernels_built(cache, started)
    print(f"kernels compiled: {len(built)}")
    for key, seconds, what in built:
        print(f"  {seconds:6.1f} s  {key}  {what}")
    shared = re.search(r"^(\d+ tests booted guests;.*)$", log, re.M)
    print(shared.group(1) if shared else "no guest report")
    slowest = re.findall(r"^\s*([\d.]+)s (call|setup|teardown)\s+(\S+)$", log, re.M)[:20]
    print("20 slowest:")
    for seconds, when, name in slowest:
        print(f"  {float(seconds):7.1f} s  {when:<8} {name}")


if __name__ == "__main__":
    sys.exit(main())
