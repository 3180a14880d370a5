"""DAMON's selftests and KUnit cases in a comparison.

Each side's test kernel (the default test fragments and the tree's own
selftest config, from the side's source and patches) runs every selftest
once, a failure retried once in the same guest, and reports the KUnit cases
it ran at boot. A test that passes on the base kernel and not on the patched
one is a REGRESSION at once: these are pass/fail tests, not figures with a
spread.
"""

import json
from pathlib import Path
from typing import Dict, List, Optional

from harness.compare.analysis import Row
from harness.compare.stats import IMPROVEMENT, NO_CHANGE, REGRESSION, Call

DIR = "selftests"
RETRIES = 1
SCENARIO = "selftests"      # the name its rows carry in the report


def run_side(spec: dict, fragments, out: Path, accel: str, echo=print) -> None:
    """Build (or find) the side's test kernel and run the tests; reports in out."""
    from harness.commands.selftests import run_suite
    from harness.selftests import results as sresults
    from harness.selftests.kernel import check_kernel, prepare
    out.mkdir(parents=True, exist_ok=True)
    test_kernel = prepare(spec["source"], spec["patches"], fragments, None)
    tests = test_kernel.tools.selftests
    check_kernel(test_kernel, tests, True, True)
    results, extra = run_suite(test_kernel, out, accel, tests, RETRIES, True)
    sresults.write_reports(results, out, "selftests", extra)
    echo(sresults.summary_line(f"selftests {out.parent.name}", results))


def rows(out: Path) -> List[Row]:
    """One row per test either side ran; none when the comparison ran no tests."""
    base, patched = _statuses(out / "base" / DIR), _statuses(out / "patched" / DIR)
    if base is None or patched is None:
        return []
    found = []
    for ident in list(dict.fromkeys(list(base) + list(patched))):
        a, b = base.get(ident, "absent"), patched.get(ident, "absent")
        found.append(Row(SCENARIO, ident, "status", "PASS", [a], [b], _call(a, b)))
    return found


def _call(base: str, patched: str) -> Call:
    text = f"{base} -> {patched}"
    if base == "PASS" and patched not in ("PASS", "SKIP"):
        return Call(REGRESSION, f"{text}: passes on the base kernel, not on the patched one")
    if patched == "PASS" and base not in ("PASS", "SKIP"):
        return Call(IMPROVEMENT, f"{text}: passes only on the patched kernel")
    return Call(NO_CHANGE, text)


def _statuses(run_dir: Path) -> Optional[Dict[str, str]]:
    try:
        tests = json.loads((run_dir / "results.json").read_text())["tests"]
        return {f"{t['kind']} {t['suite']}:{t['name']}": t["status"] for t in tests}
    except (OSError, ValueError, KeyError, TypeError):
        return None
