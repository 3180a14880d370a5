"""pytest fixtures that hand a test a booted guest and always tear it down."""

import re
import signal
from contextlib import ExitStack

import pytest

from harness.paths import new_run_dir
from harness.topology import Topology, load_topology
from harness.vm.machine import boot
from harness.vm.process import kill_all


def pytest_configure(config):
    # SIGTERM would otherwise end pytest without teardown; make it an interrupt.
    def interrupt(signum, frame):
        kill_all()
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupt)


def pytest_unconfigure(config):
    kill_all()


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
        kwargs.setdefault("run_dir", new_run_dir(f"test-{name}"))
        return stack.enter_context(boot(topo, kernel=kernel or default_kernel, **kwargs))

    with stack:
        yield start


@pytest.fixture
def guest_vm(boot_vm):
    """A guest on the default two-node topology and the default kernel."""
    return boot_vm()
