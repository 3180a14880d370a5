"""End-to-end tests that boot guests. DAMON's behaviour is judged in
scenarios (tests/scenarios/*.yaml, collected by harness.pytest_plugin);
the tests here check the harness's own machinery on real guests."""

import pytest

from harness.paths import REPO_ROOT

# The one kernel the end-to-end tests build on (issue 22): this scenario's.
# Every test that builds asks for it or for a variant that differs only in
# mm/damon/ (a control patch, DAMON_HUGEPAGE=m, the selftests' own config), so
# an empty cache compiles the tree once and each variant takes seconds.
SHARED_KERNEL_SCENARIO = REPO_ROOT / "tests" / "scenarios" / "damon-hugepage.yaml"


@pytest.fixture(scope="session")
def shared_kernel_spec():
    from harness.scenario import load_scenario
    return load_scenario(SHARED_KERNEL_SCENARIO).kernel


@pytest.fixture(scope="session")
def shared_kernel_args(shared_kernel_spec):
    """shared_kernel_args(patches_flag) -> CLI arguments naming the shared
    kernel's series (under patches_flag) and every one of its fragments."""
    def args(patches_flag: str = "--patches"):
        out = []
        for series in shared_kernel_spec.patches:
            out += [patches_flag, str(series)]
        for fragment in shared_kernel_spec.configs:
            out += ["--config", fragment]
        return out
    return args


@pytest.fixture(scope="session")
def shared_kernel(kernel_build, shared_kernel_spec):
    return kernel_build(patches=shared_kernel_spec.patches,
                        fragments=shared_kernel_spec.configs)


@pytest.fixture(scope="session")
def short_scenario():
    """short_scenario(name, seconds, where, timed=True) -> the path of a
    copy of built-in scenario `name` whose sampling lasts `seconds`: for
    tests of the harness's machinery (compare, the runners), not of DAMON.
    timed=False also drops its `reaches` checks, whose outcome depends on
    how fast the guest runs, so that what is left holds whoever shares the
    host's cores."""
    import yaml

    def cut(name: str, seconds: int, where, timed: bool = True):
        doc = yaml.safe_load((REPO_ROOT / "tests" / "scenarios" / f"{name}.yaml").read_text())
        doc["sample"]["duration"] = f"{seconds}s"
        if not timed:
            doc["expect"] = [e for e in doc["expect"] if "reaches" not in e]
        for e in doc["expect"]:
            if "reaches" in e:
                e["reaches"]["within"] = f"{seconds}s"
        path = where / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path
    return cut
