"""Guest-side helpers for the DAMON_HUGEPAGE tests, built-in or module.

Each takes the booted VM and runs plain shell in it; every verdict is a
(passed, detail) pair so that negative controls can reuse it.
"""

import os
import re
import time

PARAMS = "/sys/module/damon_hugepage/parameters"
HOT_MB = 64                 # size of each workload's hot region
COLLAPSE_DEADLINE_S = 30    # issue 4, test 1
# The hot workload is the harness's own hotcold toucher: it forces a TLB flush
# every few ms, without which DAMON under TCG never sees hot memory as hot.


# -- guest helpers --------------------------------------------------------------
def sh(guest, cmd, timeout=30):
    return guest.run(cmd, timeout)


def ok(guest, cmd, timeout=30) -> str:
    r = sh(guest, cmd, timeout)
    assert r.exit_code == 0, f"{cmd}: {r.exit_code} {r.stderr}"
    return r.stdout


def param(guest, name) -> str:
    return ok(guest, f"cat {PARAMS}/{name}").strip()


def wait_for_param(guest, name, good, seconds=6) -> bool:
    """The module refreshes its read-only stats once per monitor_period (2 s)."""
    end = time.monotonic() + seconds
    while not good(param(guest, name)):
        if time.monotonic() > end:
            return False
        time.sleep(0.5)
    return True


def set_param(guest, name, value):
    """Write a parameter; returns the shell result (exit code != 0 on -E*)."""
    return sh(guest, f"echo '{value}' > {PARAMS}/{name}")


def start_hot(guest, mb=HOT_MB, secs=0) -> int:
    out = ok(guest, f"setsid /tmp/hot --hot {mb}M --cold 0 --phases hot:{secs} "
                    f"> /tmp/hot.$$ 2>&1 < /dev/null & "
                    f"for i in $(seq 100); do grep -q '^ready' /tmp/hot.$$ && break; "
                    f"sleep 0.1; done; cat /tmp/hot.$$; rm -f /tmp/hot.$$", timeout=60)
    pids = [line.split("=")[1] for line in out.splitlines() if line.startswith("ready pid=")]
    assert pids, out
    return int(pids[0])


def kill(guest, pid):
    sh(guest, f"kill -9 {pid} 2>/dev/null; true")


def anon_huge_kb(guest, pid) -> int:
    r = sh(guest, f"grep AnonHugePages /proc/{pid}/smaps_rollup")
    if r.exit_code != 0:
        return -1
    return int(r.stdout.split()[1])


def vmstat(guest, name) -> int:
    out = ok(guest, f"grep '^{name} ' /proc/vmstat || echo '{name} 0'")
    return int(out.split()[1])


def kdamond_threads(guest) -> int:
    out = ok(guest, "cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^kdamond' || true")
    return int(out.strip() or 0)


def console_problems(guest):
    out = ok(guest, "dmesg")
    bad = ("WARNING:", "Oops", "BUG:", "kernel BUG", "unreferenced object",
           "general protection fault", "refcount_t:")
    return [line for line in out.splitlines() if any(b in line for b in bad)]


KMEMLEAK = "/sys/kernel/debug/kmemleak"
# A record is ours when its backtrace names DAMON code, or has a frame that
# no longer resolves: built-in code always does (KALLSYMS), an unloaded
# module's code does not.
OURS = re.compile(r"damon|\] 0x[0-9a-f]+\s*$", re.M)


def kmemleak_clear(guest):
    """Scan, then mark every suspect found so far as seen: a later
    kmemleak_leaks() shows only what leaked after this call."""
    assert sh(guest, f"test -w {KMEMLEAK}").exit_code == 0, (
        "kmemleak is not in this kernel: a leak check would prove nothing")
    ok(guest, f"echo scan > {KMEMLEAK}; echo clear > {KMEMLEAK}", timeout=120)


def kmemleak_leaks(guest) -> list:
    """Suspected leaks in DAMON code since kmemleak_clear(). kmemleak reports
    objects only once they are 5 s old, hence the wait between two scans."""
    ok(guest, f"echo scan > {KMEMLEAK}; sleep 6; echo scan > {KMEMLEAK}", timeout=180)
    text = ok(guest, f"cat {KMEMLEAK}")
    records = re.split(r"(?m)^(?=unreferenced object)", text)
    return [r for r in records if r.strip() and OURS.search(r)]


def prepare_guest(guest, hot_binary):
    """THP off, so every huge page comes from DAMON; the hot toucher uploaded."""
    guest.upload(hot_binary, "/tmp/hot")
    ok(guest, "echo never > /sys/kernel/mm/transparent_hugepage/enabled")
    ok(guest, "echo never > /sys/kernel/mm/transparent_hugepage/defrag")
    # Exclusive DAMON modules make every DAMON_HUGEPAGE start fail (EBUSY).
    for m in ("damon_stat", "damon_reclaim", "damon_lru_sort"):
        sh(guest, f"test -e /sys/module/{m}/parameters/enabled && "
                  f"echo N > /sys/module/{m}/parameters/enabled; true")


def reset(guest):
    set_param(guest, "enabled", "N")
    set_param(guest, "monitored_pids", "")


# -- verdicts -----------------------------------------------------------------
def collapse_verdict(guest, watched, others, deadline=COLLAPSE_DEADLINE_S):
    """Issue 4 test 1's criterion.

    Within `deadline` s, each pid in `watched` has at least half of its hot
    region in AnonHugePages.  Each pid in `others` stays at 0, and
    thp_fault_alloc does not move.  The deciding numbers are also appended
    to verdicts.log in the VM's run directory, pass or fail.
    """
    fault0 = vmstat(guest, "thp_fault_alloc")
    want_kb = HOT_MB * 1024 // 2
    start = time.monotonic()
    end = start + deadline
    got, reached_at = {}, None
    while time.monotonic() < end:
        got = {p: anon_huge_kb(guest, p) for p in watched}
        if watched and all(v >= want_kb for v in got.values()):
            reached_at = time.monotonic() - start
            break
        time.sleep(1)
    others_kb = {p: anon_huge_kb(guest, p) for p in others}
    fault1 = vmstat(guest, "thp_fault_alloc")
    when = f"reached at {reached_at:.1f} s" if reached_at is not None else "not reached"
    detail = (f"watched={got} (want >= {want_kb} kB each within {deadline} s: {when}) "
              f"others={others_kb} thp_fault_alloc {fault0}->{fault1}")
    passed = (reached_at is not None and all(v == 0 for v in others_kb.values())
              and fault1 == fault0)
    _record_verdict(guest, passed, detail)
    return passed, detail


def _record_verdict(guest, passed, detail):
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
    with open(guest.run_dir / "verdicts.log", "a") as log:
        log.write(f"{'PASS' if passed else 'FAIL'} {test}: {detail}\n")
