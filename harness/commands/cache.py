"""`damon-harness cache`: what the caches hold; prune what has gone unused."""

import argparse
import math
import time
from collections import defaultdict

from harness import cache
from harness.paths import cache_dir

DEFAULT_DAYS = 30


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "cache", help="show the caches' sizes, or prune entries unused for a while",
        description="Show what the caches hold (default), or prune entries not used "
                    "for DAYS days. Pruned entries are rebuilt on demand.")
    parser.add_argument("action", nargs="?", choices=["list", "prune"], default="list")
    parser.add_argument("--older-than", metavar="DAYS", type=_days, default=DEFAULT_DAYS,
                        help=f"prune entries unused for this many days (default {DEFAULT_DAYS})")
    parser.add_argument("--dry-run", action="store_true",
                        help="with prune: list what would go, remove nothing")
    parser.set_defaults(func=run)


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a number of days >= 0: {text}")
    return value


def run(args) -> int:
    if args.action == "prune":
        return run_prune(args.older_than, args.dry_run)
    return run_list()


def run_list() -> int:
    rows = defaultdict(lambda: [0, 0, time.time()])
    for entry in cache.entries():
        row = rows[entry.kind]
        row[0] += 1
        row[1] += entry.size
        row[2] = min(row[2], entry.last_used)
    print(f"cache: {cache_dir()}")
    print(f"{'kind':<17} {'entries':>7} {'size':>10}  least recently used")
    for kind in cache.PRUNABLE:
        count, size, oldest = rows[kind]
        used = f"{(time.time() - oldest) / cache.DAY_S:.1f} days ago" if count else "-"
        print(f"{kind:<17} {count:>7} {cache.human(size):>10}  {used}")
    for name in cache.KEPT:
        path = cache_dir() / name
        if path.exists():
            print(f"{name:<17} {'(kept)':>7} {cache.human(cache.disk_usage(path)):>10}")
    return 0


def run_prune(days: float, dry_run: bool) -> int:
    gone = cache.prune(days, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for entry in gone:
        print(f"{verb} {entry.kind:<14} {cache.human(entry.size):>10}  {entry.path}")
    total = sum(e.size for e in gone)
    print(f"{verb} {len(gone)} entries, {cache.human(total)}, unused for {days:g}+ days")
    return 0
