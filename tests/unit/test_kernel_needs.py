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
