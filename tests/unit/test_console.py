import pytest

from harness.vm.console import crash_kind


@pytest.mark.parametrize("line, kind", [
    ("[ 3.5] Kernel panic - not syncing: sysrq triggered crash", "panic"),
    ("[ 1.0] Oops: general protection fault, probably for non-canonical address", "oops"),
    ("[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000000", "bug"),
    ("[ 1.0] kernel BUG at mm/damon/core.c:123!", "bug"),
    ("[ 1.0] WARNING: CPU: 0 PID: 1 at mm/damon/core.c:99 damon_foo+0x1/0x2", "warning"),
    ("[ 1.0] general protection fault, probably for non-canonical address", "gpf"),
    ("[ 1.0] ==================================================================", None),
    ("[ 1.0] BUG: KASAN: slab-use-after-free in damon_bar+0x1/0x2", "bug"),
    ("[22.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [kdamond.0:99]", "bug"),
    ("[120.0] INFO: task kdamond.0:99 blocked for more than 120 seconds.", "hung task"),
    ("[30.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "rcu stall"),
    ("[ 1.0] EXT4-fs (nvme0n1): mounted filesystem", None),
    ("harness-init: sshd started", None),
])
def test_crash_patterns(line, kind):
    assert crash_kind(line) == kind


def test_init_marker_sets_sshd_started_only_on_its_line(tmp_path):
    from harness.vm.console import SSHD_STARTED, ConsoleWatcher
    watcher = ConsoleWatcher(child=None, log_path=tmp_path / "console.log")
    watcher._line("[ 3.0] Run /sbin/harness-init as init process")
    assert not watcher.sshd_started.is_set()
    watcher._line(SSHD_STARTED)
    assert watcher.sshd_started.is_set()
    watcher.log.close()


def test_page_table_isolation_is_seen_on_the_kernels_line(tmp_path):
    # The two lines a Debian 7.2 kernel printed with pti=on under TCG
    from harness.vm.console import ConsoleWatcher
    watcher = ConsoleWatcher(child=None, log_path=tmp_path / "console.log")
    watcher._line("[    0.008032] Kernel/User page tables isolation: force enabled on "
                  "command line.")
    assert not watcher.page_table_isolation
    watcher._line("[    0.085166] Kernel/User page tables isolation: enabled")
    assert watcher.page_table_isolation
    watcher.log.close()
