"""Our DAMON_HUGEPAGE series passes the 7.3 tree's checkpatch.pl --strict.

Issue 4 asks for no errors. We also hold it to no checks, to 80 columns
(checkpatch's own default is 100; the review asked for 80), and to the one
warning every new file gets (FILE_PATH_CHANGES, "does MAINTAINERS need
updating?": the DAMON entry already covers mm/damon/ and its documentation),
so a style slip in a later revision fails here, not on the mailing list.
"""

import re
import subprocess

import pytest

from harness.kernel import patches as kpatches
from harness.kernel import source as ksource
from harness.paths import REPO_ROOT

pytestmark = [pytest.mark.vm, pytest.mark.may_share_cores]   # the 7.3 source (fetched once); no guest

SERIES = REPO_ROOT / "kernel-patches" / "damon-hugepage"
TOTAL = re.compile(r"^total: (\d+) errors, (\d+) warnings, (\d+) checks", re.M)
ALLOWED_WARNING = "WARNING:FILE_PATH_CHANGES:"


def checkpatch(tree, patch):
    proc = subprocess.run(["perl", str(tree / "scripts" / "checkpatch.pl"), "--strict",
                           "--max-line-length=80", f"--root={tree}", "--show-types", "-"],
                          input=patch.data.decode(), capture_output=True, text=True,
                          timeout=300)
    found = TOTAL.search(proc.stdout)
    assert found, f"{patch.name}: checkpatch printed no total:\n{proc.stdout}{proc.stderr}"
    errors, warnings, checks = map(int, found.groups())
    findings = [line for line in proc.stdout.splitlines()
                if re.match(r"(ERROR|WARNING|CHECK):", line)]
    return errors, warnings, checks, findings


@pytest.mark.parametrize("patch", kpatches.load_all([str(SERIES)]), ids=lambda p: p.name[:4])
def test_checkpatch_strict(patch):
    tree = ksource.resolve(None).tree
    errors, warnings, checks, findings = checkpatch(tree, patch)
    report = "\n".join(findings)
    assert errors == 0 and checks == 0, report
    unexpected = [f for f in findings if not f.startswith(ALLOWED_WARNING)]
    assert not unexpected, report
    assert warnings == len(findings), report
