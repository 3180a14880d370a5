"""pytest fixtures that hand a test a booted guest and always tear it down,
scenario files as test items, and the host's cores shared only where sound."""

import fcntl
import os
import re
import signal
import uuid
from contextlib import ExitStack, contextmanager, nullcontext

import pytest

from harness.paths import new_run_dir
from harness.topology import Topology, load_topology
from harness.vm.machine import boot
from harness.verdict import Verdict
from harness.vm.process import kill_all


def pytest_configure(config):
    config.addinivalue_line("markers", f"{MAY_SHARE}: its verdict does not depend on timing, "
                                       "so it may run while other guests or builds share the "
                                       "host's cores (a vm test without it runs alone)")
    config.addinivalue_line("markers", f"{EARLY}: started before the rest, so that its long "
                                       "build overlaps the other lane's short tests")
    config.addinivalue_line("markers", f"{BUILT}: boots a kernel the harness builds, so it "
                                       "starts after the tests that boot Debian's")
    config.addinivalue_line("markers", f"{TAKES}(seconds): about how long it takes on a warm "
                                       "cache; the longest start first in their group")
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
        if scenario.timing_free:
            item.add_marker(MAY_SHARE)
        if scenario.kernel.kind == "build":
            item.add_marker(BUILT)
        item.add_marker(getattr(pytest.mark, TAKES)(scenario.sample.duration + BOOT_S))
        yield item


class ScenarioFailed(Exception):
    pass


def scenario_retries() -> int:
    """How often a scenario test item reruns after a FAIL (default 0: a FAIL
    fails the item, as a rerun would hide a scenario that is not
    deterministic; benchmarks/stability_bench.py measures how often each
    passes)."""
    try:
        return max(0, int(os.environ.get("DAMON_HARNESS_SCENARIO_RETRIES", "0")))
    except ValueError:
        return 0


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, **kwargs):
        super().__init__(**kwargs)
        self.scenario = scenario
        self.result = None

    def runtest(self):
        from harness.engine import run_scenario
        from harness.report import summary_line
        attempts = []
        for attempt in range(1 + scenario_retries()):
            self.result = run_scenario(self.scenario,
                                       run_dir=new_run_dir(f"test-{self.name}"),
                                       progress=lambda: shown(self.config))
            attempts.append(f"attempt {attempt + 1}: {summary_line(self.result)}")
            print(attempts[-1])
            # Only a FAIL is retried: DAMON's timing under TCG varies with host
            # load. A CRASH, HANG or ERROR is never retried. Every attempt keeps
            # its own artefacts and its line in the captured output.
            if self.result.verdict != Verdict.FAIL:
                break
        if self.result.verdict == Verdict.SKIP:
            pytest.skip(f"{self.name}: {self.result.message}")
        if self.result.verdict != Verdict.PASS:
            raise ScenarioFailed(self.result)
        if len(attempts) > 1:       # not a PASS: the terminal and JUnit say FLAKY
            self.user_properties.append(("flaky", " | ".join(attempts)))

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


# -- the host's cores: who may share them --------------------------------------
# Under pytest-xdist two tests run at once. A test marked may_share_cores (and
# any test that boots no guest) holds the host lock shared; any other test
# that boots a guest holds it alone, so its guest's timing is its own. A
# turnstile gives a waiting test that must run alone its turn before later
# shared ones. Each test's guests are found afterwards in the host's log of
# guests and builds (harness.hostshare) and the run ends with who shared.
MAY_SHARE = "may_share_cores"
EARLY = "starts_early"
BUILT = "built_kernel"
TAKES = "takes_seconds"
BOOT_S = 12             # a scenario's guest boots, starts and ends in about this


def runs_alone(item) -> bool:
    return (item.get_closest_marker("vm") is not None
            and item.get_closest_marker(MAY_SHARE) is None)


def start_rank(item) -> tuple:
    """The early build first; beside it the tests that boot no guest, then
    those on Debian's kernel that may share the cores (none waits for the
    build); then those on built kernels; last the ones that run alone, which
    take turns. In each group the longest start first: a test that must run
    alone waits for the other lane's running test, so that one had better
    be short."""
    return group_of(item), -expected_seconds(item)


def group_of(item) -> int:
    if item.get_closest_marker(EARLY) is not None:
        return 0
    if item.get_closest_marker("vm") is None:
        return 1
    if runs_alone(item):
        return 4
    return 3 if item.get_closest_marker(BUILT) is not None else 2


def expected_seconds(item) -> float:
    marker = item.get_closest_marker(TAKES)
    return marker.args[0] if marker else 0.0


@contextmanager
def host_turn(alone: bool):
    from harness.hostshare import log_path
    where = log_path().parent
    where.mkdir(parents=True, exist_ok=True)
    with open(where / "turnstile.lock", "w") as turnstile, \
            open(where / "cores.lock", "w") as cores:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(cores, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(cores, fcntl.LOCK_UN)


# One id for the whole run (every xdist worker's), so that a test's guests
# are told from those of the same test in an earlier run.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


def owner_of(item) -> str:
    return f"{RUN_ID[:8]} {item.nodeid}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    from harness.hostshare import OWNER_ENV
    os.environ[OWNER_ENV] = owner_of(item)   # the guests and builds it starts say so
    with host_turn(runs_alone(item)):
        yield
    os.environ.pop(OWNER_ENV, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    if call.when == "teardown" and item.get_closest_marker("vm") is not None:
        item.user_properties.append(("guests", guest_sharing(item)))
    yield


def guest_sharing(item) -> dict:
    """{guests: how many the test booted, alone: whether it had to run
    alone, shared: {what ran beside its guests: how many}}."""
    from harness.hostshare import activities, overlapping
    every = activities()
    guests = [a for a in every if a.owner == owner_of(item) and a.kind == "guest"]
    beside = {other.id: other for guest in guests for other in overlapping(guest, every)}
    shared: dict = {}
    for other in beside.values():
        test = other.owner.partition(" ")[2]
        label = f"{other.kind} of {test}" if test else other.describe()
        shared[label] = shared.get(label, 0) + 1
    return {"guests": len(guests), "alone": runs_alone(item), "shared": shared}


def pytest_terminal_summary(terminalreporter):
    lines = sharing_summary(terminalreporter.stats)
    if lines:
        terminalreporter.write_sep("=", "guests and the host's cores")
        for line in lines:
            terminalreporter.write_line(line)
    flaky = flaky_summary(terminalreporter.stats)
    if flaky:
        terminalreporter.write_sep("=", "FLAKY: passed only on a retry, so not a PASS")
        for line in flaky:
            terminalreporter.write_line(line)


def flaky_summary(stats) -> list:
    """One line per test that passed only on a retry, with its attempts."""
    return [f"  FLAKY {report.nodeid}: {dict(report.user_properties)['flaky']}"
            for reports in stats.values() for report in reports
            if getattr(report, "when", None) == "call"
            and "flaky" in dict(getattr(report, "user_properties", ()))]


def sharing_summary(stats) -> list:
    """Which tests' guests shared the host's cores, and with what."""
    booted, shared = 0, []
    for report in (r for reports in stats.values() for r in reports
                   if getattr(r, "when", None) == "teardown"):
        sharing = dict(getattr(report, "user_properties", ())).get("guests")
        if not sharing or not sharing["guests"]:
            continue
        booted += 1
        if sharing["shared"]:
            # A test that held the host alone can still meet a guest or build
            # of a process outside this run.
            flag = "RAN ALONE YET SHARED, " if sharing["alone"] else ""
            beside = "; ".join(f"{n} x {label}" for label, n in sorted(sharing["shared"].items()))
            shared.append(f"  {report.nodeid}: {flag}beside {beside}")
    if not booted:
        return []
    head = (f"{booted} tests booted guests; {len(shared)} of them shared the host's cores "
            f"with another guest or a kernel build" if shared else
            f"{booted} tests booted guests; none shared the host's cores")
    return [head] + shared
