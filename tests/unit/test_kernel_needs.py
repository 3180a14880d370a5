"""What each scenario needs from the kernel, and the refusal before boot."""

import pytest

from harness.errors import InputError
from harness.kernel import config as kconfig
from harness.kernel import needs
from harness.kernel.artifact import Kernel
from harness.paths import REPO_ROOT
from harness.scenario import load_scenario

SCENARIOS = sorted((REPO_ROOT / "tests" / "scenarios").glob("*.yaml"))


def built_config(sc) -> dict:
    fragments = sc.kernel.configs if sc.kernel.kind == "build" and sc.kernel.configs \
        else kconfig.DEFAULT_FRAGMENTS
    return kconfig.merge(kconfig.resolve_fragment(f) for f in fragments)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_built_in_scenario_runs_on_the_fragments_it_builds_with(path):
    sc = load_scenario(str(path))
    assert needs.scenario_needs(sc)
    assert needs.missing(built_config(sc), needs.scenario_needs(sc)) == []


def test_the_memcg_scenario_names_what_a_bare_kernel_lacks():
    sc = load_scenario(str(REPO_ROOT / "tests/scenarios/memcg-convergence.yaml"),
                       check_kernel=False)
    gone = needs.missing({"CONFIG_DAMON_SYSFS": "y", "CONFIG_DAMON_PADDR": "y"},
                         needs.scenario_needs(sc))
    assert "CONFIG_MEMCG" in gone and "CONFIG_DAMON_PADDR" not in gone


def test_a_kernel_that_lacks_options_is_refused_naming_them(tmp_path):
    (tmp_path / "bzImage").write_bytes(b"x")
    (tmp_path / "config").write_text("CONFIG_DAMON=y\nCONFIG_DAMON_SYSFS=y\n")
    sc = load_scenario(str(REPO_ROOT / "tests/scenarios/collapse.yaml"), check_kernel=False)
    with pytest.raises(InputError, match="CONFIG_DAMON_VADDR.*CONFIG_TRANSPARENT_HUGEPAGE"):
        needs.check_kernel([sc], Kernel(image=tmp_path / "bzImage"))
    (tmp_path / "config").unlink()
    needs.check_kernel([sc], Kernel(image=tmp_path / "bzImage"))     # nothing to check


# The action names of 6.1's mm/damon/sysfs.c (linux-source-6.1 6.1.192), as
# the tree check reads them: no collapse, no migrate_hot, no filters.
SYSFS_6_1 = '''static const char * const damon_sysfs_damos_action_strs[] = {
\t"willneed",\n\t"cold",\n\t"pageout",\n\t"hugepage",\n\t"nohugepage",
\t"lru_prio",\n\t"lru_deprio",\n\t"stat",\n};
static const char * const damon_sysfs_ops_strs[] = {\n\t"vaddr",\n\t"fvaddr",\n\t"paddr",\n};
'''


def tree_6_1(tmp_path):
    (tmp_path / "mm" / "damon").mkdir(parents=True)
    (tmp_path / "mm" / "damon" / "sysfs.c").write_text(SYSFS_6_1)
    return tmp_path


def test_a_tree_without_an_action_the_scenario_uses_names_it(tmp_path):
    tree = tree_6_1(tmp_path)
    collapse = load_scenario(str(REPO_ROOT / "tests/scenarios/collapse.yaml"), check_kernel=False)
    assert needs.tree_lacks(collapse, tree) == ["kernel lacks DAMOS action collapse"]
    hint = load_scenario(str(REPO_ROOT / "tests/scenarios/hint-path.yaml"), check_kernel=False)
    assert needs.tree_lacks(hint, tree) == []           # hugepage is in 6.1
    memcg = load_scenario(str(REPO_ROOT / "tests/scenarios/memcg-convergence.yaml"),
                          check_kernel=False)
    lacks = needs.tree_lacks(memcg, tree)
    assert "kernel lacks DAMOS action migrate_hot" in lacks
    assert any(line.startswith("kernel lacks DAMOS quota goal metric") for line in lacks)


def test_a_built_kernel_finds_its_tree_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path / "cache"))
    from harness.kernel.source import _slot_name
    slot = tmp_path / "cache" / "sources" / _slot_name("debian:linux-source-6.1=6.1.192-3")
    tree_6_1(slot / "tree")
    (slot / "identity").write_text("debian:linux-source-6.1=6.1.192-3\n")
    origin = {"kind": "build", "source": {"kind": "debian",
                                          "identity": "debian:linux-source-6.1=6.1.192-3"}}
    kernel = Kernel(image=tmp_path / "bzImage", modules_dir=None, release="6.1.192",
                    origin=origin)
    assert needs.kernel_tree(kernel) == slot / "tree"
    other = Kernel(image=tmp_path / "bzImage", modules_dir=None, release="",
                   origin={"kind": "debian"})
    assert needs.kernel_tree(other) is None


def test_the_probes_lines_become_reasons():
    assert needs.probe_lacks("lacks action collapse\nnoise\nlacks filter memcg\n") == [
        "kernel lacks DAMOS action collapse", "kernel lacks DAMOS filter type memcg"]
