"""`bisect --good REV --bad REV` on a real git kernel tree, through `git
bisect run`: Debian's 7.3 source committed as the good end, then the three
patches of tests/controls/broken-commit-series as three commits; the second
breaks damos_commit_quota, which a KUnit case sees.

The tree is kept in the cache (keyed by the source and the series), so the
bisect's clone and its build work copy stay incremental from run to run;
the first run builds the test kernel cold in the clone's new work copy
(ccache cannot help: its debug info hashes the directory), about 8 minutes,
so this runs in make test-long, not in make test."""

import hashlib
import json
import shutil
import subprocess
import sys

import pytest

from harness.kernel import patches as kpatches
from harness.kernel import source as ksource
from harness.paths import REPO_ROOT, cache_dir

pytestmark = [pytest.mark.vm, pytest.mark.long, pytest.mark.may_share_cores]

SERIES = REPO_ROOT / "tests" / "controls" / "broken-commit-series"


def git(tree, *args):
    subprocess.run(["git", "-C", str(tree), "-c", "user.name=damon-harness",
                    "-c", "user.email=damon-harness@localhost", "-c", "core.compression=0",
                    "-c", "core.looseCompression=0", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def git_tree():
    debian = ksource.debian_source(ksource.DEFAULT_PACKAGE)
    series = kpatches.load_all([str(SERIES)])
    key = hashlib.sha256((debian.identity + kpatches.digest(series)).encode()).hexdigest()[:16]
    tree = cache_dir("test-trees") / key
    if (tree / ".git" / "damon-harness-complete").is_file():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["cp", "-a", f"{debian.tree}/.", str(tree)], check=True)
    git(tree, "init", "-q", "-b", "main")
    git(tree, "add", "-A", "-f")     # Debian's .gitignore ignores the top level
    git(tree, "commit", "-q", "-m", "Debian's linux-source-7.3")
    git(tree, "tag", "good")
    for patch in sorted(SERIES.glob("0*.patch")):
        git(tree, "am", "-q", str(patch))
    (tree / ".git" / "damon-harness-complete").write_text("")
    return tree


def test_bisect_of_a_git_range_names_the_commit_that_breaks_a_kunit_case(git_tree, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "harness", "bisect", "--source", str(git_tree),
                           "--good", "good", "--bad", "main", "--kunit",
                           "damos_test_commit_quota", "--out", str(tmp_path)],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    print(proc.stdout)
    assert proc.returncode == 0
    result = json.loads((tmp_path / "bisect.json").read_text())
    assert "forget weight_age" in result["patch"]
    steps = result["steps"]
    assert [s["good"] for s in steps[:2]] == [True, False]      # the ends, tested first
    assert len(steps) <= 4 and all(s["unanimous"] for s in steps)
    assert any("first bad commit" in line or "bad" in line for line in result["git_log"])
    assert (tmp_path / "git-bisect-run.log").is_file()
