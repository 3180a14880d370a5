"""The kernel DAMON's tests run on, and the test tools from the same tree.

Everything a user typed is checked before anything is fetched, built or
booted: the build inputs, --test names (against the tree when it is on disk),
and for --kernel that its tree and patches match the tests' and that its
config has what the tests need, naming each missing option.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from harness.errors import InputError
from harness.kernel import config as kconfig
from harness.kernel import patches as kpatches
from harness.kernel.needs import kernel_config
from harness.kernel.source import local_tree
from harness.kernel.artifact import Kernel, kernel_version_string, user_kernel
from harness.kernel.build import (DEFAULT, Builder, Request,
                                  validate_build_inputs)
from harness.selftests import tree as ktree
from harness.selftests.tools import TestTools, test_tools

TEST_FRAGMENTS = tuple(DEFAULT) + ("kunit.config", "debuginfo.config")
# sysfs.py dumps DAMON's state with drgn, which reads the live kernel
# through /proc/kcore with the image's DWARF.
DRGN_NEEDS = {"CONFIG_DEBUG_INFO": "y", "CONFIG_PROC_KCORE": "y"}
DRGN_TESTS = ("sysfs.py",)


@dataclass
class TestKernel:
    kernel: Kernel
    tools: TestTools
    config: Optional[Dict[str, str]]    # None when the kernel came without one
    build_s: float = 0.0                # finding or building kernel and tools

    @property
    def vmlinux(self) -> Optional[Path]:
        candidate = self.kernel.image.parent / "vmlinux"
        return candidate if candidate.is_file() else None


def kunit_needs() -> Dict[str, str]:
    return kconfig.merge([kconfig.resolve_fragment("kunit.config")])


def selftest_needs(tree_config: Dict[str, str], tests: Sequence[str]) -> Dict[str, str]:
    needs = dict(tree_config)
    if any(t in DRGN_TESTS for t in tests):
        needs.update(DRGN_NEEDS)
    return needs


def check_options(config: Dict[str, str], needs: Dict[str, str], where: str, what: str) -> None:
    missing = [f"{name}={want}" for name, want, _ in kconfig.mismatches(needs, config)]
    if missing:
        raise InputError(where, f"the kernel lacks what {what} need: {', '.join(missing)}")


def check_test_names(names: Sequence[str], known: Sequence[str], where: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError("--test", f"unknown test {unknown[0]!r} ({where} has: "
                                   f"{', '.join(known)})")


def validate(source: Optional[str], patches: Sequence[str], fragments: Sequence[str],
             kernel: Optional[str], modules: Optional[str], tests: Sequence[str],
             selftests: bool = True, kunit: bool = False) -> Optional[Kernel]:
    """Every user input that can be checked without fetching or building."""
    validate_build_inputs(source, patches, fragments)
    given = user_kernel(kernel, modules) if kernel else None
    if modules and not kernel:
        raise InputError("--modules", "only applies together with --kernel")
    tree = local_tree(source)
    if tree is not None and tests and not _patches_touch_selftests(patches):
        check_test_names(tests, ktree.tree_selftest_names(tree), ktree.SELFTEST_DIR)
    if given is not None:
        _check_given_kernel(given, tree, patches)
        config = kernel_config(given)
        if config is not None and (tree is not None or not selftests):
            tree_config = _tree_config(tree / ktree.SELFTEST_CONFIG) if tree else {}
            names = tests or (ktree.tree_selftest_names(tree) if tree else [])
            needs = needs_for(tree_config, names, selftests, kunit)
            check_options(config, needs, "--kernel", _what(selftests, kunit))
    return given


def needs_for(tree_config: Dict[str, str], tests: Sequence[str], selftests: bool,
              kunit: bool) -> Dict[str, str]:
    needs = selftest_needs(tree_config, tests) if selftests else {}
    if kunit:
        needs.update(kunit_needs())
    return needs


def _what(selftests: bool, kunit: bool) -> str:
    return " and ".join(w for w, on in (("DAMON's selftests", selftests),
                                        ("DAMON's KUnit suites", kunit)) if on)


def _tree_config(path: Path) -> Dict[str, str]:
    """The selftests' own config; none in older trees (6.1)."""
    if not path.is_file():
        return {}
    return kconfig.parse(path.read_text(errors="replace"), str(path), strict=False)


def check_kernel(test_kernel: "TestKernel", tests: Sequence[str], selftests: bool,
                 kunit: bool) -> None:
    """Before boot: the kernel's config has every option the tests need."""
    if test_kernel.config is None:
        print(f"damon-harness: note: {test_kernel.kernel.image} has no config beside it; "
              "the options the tests need cannot be checked before boot", file=sys.stderr)
        return
    tree_config = _tree_config(test_kernel.tools.install / "damon" / "config")
    where = "--kernel" if test_kernel.kernel.origin.get("kind") == "file" else "--config"
    check_options(test_kernel.config, needs_for(tree_config, tests, selftests, kunit), where,
                  _what(selftests, kunit))


def _patches_touch_selftests(patches: Sequence[str]) -> bool:
    return any(f.startswith(ktree.SELFTEST_DIR) for p in kpatches.load_all(patches)
               for f in p.files())


def _check_given_kernel(kernel: Kernel, tree: Optional[Path], patches: Sequence[str]) -> None:
    meta = _artifact_meta(kernel)
    wanted = [p.describe() for p in kpatches.load_all(patches)]
    if meta is not None:
        if meta.get("patches", []) != wanted:
            raise InputError("--kernel", f"its patches differ from the tests' (give the same "
                             f"--patches): the kernel has {_names(meta.get('patches', []))}, "
                             f"the tests {_names(wanted)}")
        return
    if tree is not None:
        release = kernel_version_string(kernel.image).split()[0]
        version = ktree_version(tree)
        if release and not release.startswith(version):
            raise InputError("--kernel", f"{kernel.image} is Linux {release} but the tests' tree "
                                         f"({tree}) is {version}")


def ktree_version(tree: Path) -> str:
    from harness.kernel.source import kernel_version
    return kernel_version(tree)


def _names(patches: List[dict]) -> str:
    return "[" + ", ".join(p["name"] for p in patches) + "]" if patches else "none"


def _artifact_meta(kernel: Kernel) -> Optional[dict]:
    path = kernel.image.parent / "metadata.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except ValueError:
        return None


def prepare(source: Optional[str], patches: Sequence[str], fragments: Sequence[str],
            given: Optional[Kernel], tests: Sequence[str] = ()) -> TestKernel:
    """The test tools, then the test kernel (built, or found in the cache);
    or, with a given kernel, only the tools, from a tree that must be the
    kernel's. --test names are checked against the tools before any build."""
    builder = Builder(Request(source, tuple(patches), tuple(fragments),
                              tree_fragments=(ktree.SELFTEST_CONFIG,)), None)
    tools = test_tools(builder)
    check_test_names(tests, tools.selftests, ktree.SELFTEST_DIR)
    if given is None:
        kernel = builder.run()
        return TestKernel(kernel, tools, kconfig.read_config(kernel.image.parent / "config"))
    meta = _artifact_meta(given)
    if meta is not None and meta.get("source", {}).get("identity") != tools.meta["source"]:
        raise InputError("--kernel", f"{given.image} was built from "
                         f"{meta.get('source', {}).get('identity')} but the tests come from "
                         f"{tools.meta['source']}; give its --source")
    return TestKernel(given, tools, kernel_config(given))
