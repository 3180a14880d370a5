"""pytest fixtures that hand a test a booted guest and always tear it down."""

import os
import re
import signal
from contextlib import ExitStack, nullcontext

import pytest

from harness.paths import new_run_dir
from harness.topology import Topology, load_topology
from harness.vm.machine import boot
from harness.verdict import Verdict
from harness.vm.process import kill_all


def pytest_configure(config):
    # SIGTERM would otherwise end pytest without teardown; make it an interrupt.
    def interrupt(signum, frame):
        kill_all()
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupt)


def pytest_unconfigure(config):
    kill_all()


def shown(config):
    """Lift pytest's output capture for a long step, so a kernel build's
    progress lines reach the terminal (and CI's log) as they are printed."""
    capman = config.pluginmanager.getplugin("capturemanager")
    return capman.global_and_fixture_disabled() if capman else nullcontext()


@pytest.fixture(scope="session")
def kernel_build(request):
    """kernel_build(**build_kernel arguments) -> Kernel, progress shown live."""
    from harness.kernel.build import build_kernel

    def build(**kwargs):
        with shown(request.config):
            return build_kernel(**kwargs)
    return build


@pytest.fixture(scope="session")
def default_kernel():
    from harness.kernel.prebuilt import default_kernel as fetch
    return fetch()


@pytest.fixture
def boot_vm(request, default_kernel):
    """Call boot_vm(topology, kernel=None, **boot_kwargs) to get a booted VM."""
    stack = ExitStack()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]

    def start(topology="two-node", kernel=None, **kwargs):
        topo = topology if isinstance(topology, Topology) else load_topology(topology)
        if "run_dir" not in kwargs:
            kwargs["run_dir"] = new_run_dir(f"test-{name}")
        return stack.enter_context(boot(topo, kernel=kernel or default_kernel, **kwargs))

    with stack:
        yield start


@pytest.fixture
def guest_vm(boot_vm):
    """A guest on the default two-node topology and the default kernel."""
    return boot_vm()


# -- scenario files as test items ---------------------------------------------
def pytest_collect_file(file_path, parent):
    """Every YAML file in a `scenarios` directory is a scenario test."""
    if file_path.suffix == ".yaml" and file_path.parent.name == "scenarios":
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        from harness.scenario import load_scenario
        scenario = load_scenario(str(self.path))
        item = ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)
        item.add_marker(pytest.mark.vm)
        yield item


class ScenarioFailed(Exception):
    pass


def scenario_retries() -> int:
    """How often a scenario test item reruns after a FAIL (default 1)."""
    try:
        return max(0, int(os.environ.get("DAMON_HARNESS_SCENARIO_RETRIES", "1")))
    except ValueError:
        return 1


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, **kwargs):
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result = None

    def runtest(self):
        from harness.engine import run_scenario
        from harness.report import summary_line
        for attempt in range(1 + scenario_retries()):
            self.result = run_scenario(self.scenario,
                                       run_dir=new_run_dir(f"test-{self.name}"),
                                       progress=lambda: shown(self.config))
            print(f"attempt {attempt + 1}: {summary_line(self.result)}")
            # Only a FAIL is retried: DAMON's timing under TCG varies with host
            # load. A CRASH, HANG or ERROR is never retried. Every attempt keeps
            # its own artefacts and its line in the captured output.
            if self.result.verdict != Verdict.FAIL:
                break
        if self.result.verdict != Verdict.PASS:
            raise ScenarioFailed(self.result)

    def repr_failure(self, excinfo):
        if not isinstance(excinfo.value, ScenarioFailed):
            return super().repr_failure(excinfo)
        from harness.report import summary_line
        r = self.result
        lines = [summary_line(r)]
        lines += [f"  {c.verdict:<5} {c.name}: {c.summary}" for c in r.checks]
        if r.message:
            lines.append(f"  {r.message}")
        if r.excerpt:
            lines += ["  console excerpt:", r.excerpt]
        lines.append(f"  artefacts: {r.run_dir}")
        return "\n".join(lines)

    def reportinfo(self):
        return self.path, 0, f"scenario {self.name}"
