"""The test tools built from one (patched) kernel tree, cached by that tree:
the kselftest install of DAMON's selftests, the tree's own KTAP parser, and
the list of KUnit suites and cases. The kernel the tests run on must come
from the same tree with the same patches (see same_tree)."""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from harness.cache import mark_used, publish
from harness.errors import HostError
from harness.kernel import patches as kpatches
from harness.kernel import source as ksource
from harness.kernel.build import Builder, _sha, make_env
from harness.paths import cache_dir
from harness.selftests import tree as ktree

TOOLS_LAYOUT = "1"      # bump when what goes into the artefact changes


@dataclass
class TestTools:
    path: Path
    meta: dict

    @property
    def install(self) -> Path:
        return self.path / "kselftest"

    @property
    def parser_dir(self) -> Path:
        return self.path / "kunit"

    @property
    def selftests(self) -> List[str]:
        return self.meta["selftests"]

    @property
    def kunit_cases(self) -> Dict[str, List[str]]:
        return self.meta["kunit_cases"]

    @property
    def tree(self) -> dict:
        """What identifies the tree: source identity and patch series."""
        return {"source": self.meta["source"], "patches": self.meta["patches"]}


def test_tools(builder: Builder) -> TestTools:
    """The tools for the builder's source + patches; built once, then cached."""
    key = _sha(TOOLS_LAYOUT, builder.src.identity, kpatches.digest(builder.patches))[:24]
    final = cache_dir("selftests") / key
    if not _complete(final):
        builder.with_tree(lambda work: publish(
            final, lambda tmp: _make(work, tmp, builder), complete=_complete))
    mark_used(final)
    return TestTools(final, json.loads((final / "metadata.json").read_text()))


def _complete(entry: Path) -> bool:
    return (entry / "metadata.json").is_file()


def _make(work: Path, tmp: Path, builder: Builder) -> None:
    tmp.mkdir()
    builder.say(f"building DAMON's selftests from {work}")
    proc = subprocess.run(
        ["make", "-C", str(work / "tools/testing/selftests"), "TARGETS=damon",
         f"O={tmp / 'obj'}", f"INSTALL_PATH={tmp / 'kselftest'}", "install"],
        capture_output=True, text=True, env=make_env())
    (tmp / "build.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise HostError(f"building the DAMON selftests failed: {tail[0][:200]}")
    shutil.rmtree(tmp / "obj", ignore_errors=True)
    (tmp / "kunit").mkdir()
    for name in ktree.KUNIT_PARSER_FILES:
        shutil.copyfile(work / ktree.KUNIT_TOOL_DIR / name, tmp / "kunit" / name)
    listed = (tmp / "kselftest" / "kselftest-list.txt").read_text().split()
    meta = {"source": builder.src.identity,
            "patches": [p.describe() for p in builder.patches],
            "version": ksource.kernel_version(work),
            "selftests": [line.split(":", 1)[1] for line in listed if ":" in line],
            "kunit_cases": ktree.tree_kunit_cases(work)}
    (tmp / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
