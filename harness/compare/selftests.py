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
from typing import Dict, List, Optional, Sequence

from harness.compare.analysis import Row
from harness.compare.stats import IMPROVEMENT, NO_CHANGE, REGRESSION, Call

DIR = "selftests"
RETRIES = 1
SCENARIO = "selftests"      # the name its rows carry in the report


def tasks(specs: Dict[str, dict], fragments: Dict[str, Sequence[str]], out: Path) -> list:
    """One selftests task per side, on the side's test kernel (built or
    found now); its reports go to out/SIDE/selftests."""
    from harness.runner import Task
    from harness.selftests.kernel import check_kernel, prepare
    from harness.selftests.work import SelftestsWork
    found = []
    for side, spec in specs.items():
        test_kernel = prepare(spec["source"], spec["patches"], fragments[side], None)
        tests = test_kernel.tools.selftests
        check_kernel(test_kernel, tests, True, True)
        work = SelftestsWork(test_kernel, tests, RETRIES, kunit=True)
        found.append(Task((side, SCENARIO), work, test_kernel.kernel, out / side / DIR, 1, 1,
                          side))
    return found


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
    if "FLAKY" in (base, patched) and {base, patched} <= {"PASS", "FLAKY"}:
        return Call(NO_CHANGE, f"{text}: FLAKY passed only on a retry; the retry decides nothing")
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
