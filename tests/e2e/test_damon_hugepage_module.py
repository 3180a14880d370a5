"""DAMON_HUGEPAGE must build as a loadable module too (issue 4).

What the module does when loaded, unloaded while running and reloaded is a
scenario, judged by the harness like every other:
tests/scenarios/damon-hugepage-module.yaml. This test checks only the build
that scenario boots: DAMON_HUGEPAGE=m, with its .ko in the modules tree.
"""

import pytest

from harness.kernel.spec import kernel_for
from harness.paths import REPO_ROOT
from harness.scenario import load_scenario

# a build, no guest
pytestmark = [pytest.mark.vm, pytest.mark.may_share_cores, pytest.mark.built_kernel]
MODULE = "damon_hugepage"
SCENARIO = REPO_ROOT / "tests" / "scenarios" / "damon-hugepage-module.yaml"


def test_the_module_scenario_boots_damon_hugepage_as_a_module(kernel_build):
    spec = load_scenario(SCENARIO).kernel
    kernel = kernel_build(patches=spec.patches, fragments=spec.configs)
    assert kernel_for(spec).image == kernel.image          # the scenario's own build
    config = (kernel.image.parent / "config").read_text()
    assert f"CONFIG_{MODULE.upper()}=m" in config.splitlines()
    assert kernel.modules_dir is not None
    found = list(kernel.modules_dir.rglob(f"{MODULE}.ko*"))
    assert found, f"no {MODULE}.ko in {kernel.modules_dir}"
