"""Run DAMON's selftests in a booted guest under the kselftest runner, and
read DAMON's KUnit results from a console log.

The runner's output is polled into the host while the tests run, so a
guest that crashes or hangs still leaves the results of every test that
finished, the output of the one that was running, and the console excerpt.
"""

import re
import shlex
import tarfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from harness.selftests import ktap
from harness.selftests.results import Status, TestResult
from harness.selftests.tools import TestTools
from harness.verdict import RunEnded

GUEST_DIR = "/root/kselftest"
OUTPUT = "/root/kselftest.out"
STATUS = "/root/kselftest.rc"
POLL_S = 5
DEFAULT_TIMEOUT_S = 45      # kselftest's own, when a directory has no settings
# Under TCG the guest runs several times slower than the hardware the tests'
# own timeouts were set for: sysfs.sh, whose limit is 45 s, took 83 s here
# in 2026-11, 115 s alone on 2026-12-06 and 137 s with page-table isolation
# (every fork and syscall empties QEMU's TLB), and passed 180 s (4 times)
# while a guest beside it shared the cores.
TCG_TIMEOUT_SCALE = 8
SLACK_S = 120
# As damon-tests does before the selftests: DAMON's modules that run their
# own kdamond at boot would hold DAMON busy under the tests.
DAMON_MODULES = ("damon_stat", "damon_reclaim", "damon_lru_sort")
RETRIED = (Status.FAIL, Status.TIMEOUT)


# The guest has no udev, so devtmpfs lacks these links; kselftest's runner
# writes every test's output to /dev/stdout, which would become a plain file.
STDIO_LINKS = ("rm -f /dev/stdout /dev/stderr /dev/stdin; ln -sfn /proc/self/fd /dev/fd; "
               "ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; "
               "ln -s /proc/self/fd/2 /dev/stderr")


def prepare_guest(vm, panic_on_warn: bool) -> str:
    """Turn DAMON's self-starting modules off; return what was done."""
    script = STDIO_LINKS + "; " + "; ".join(
        f"f=/sys/module/{m}/parameters/enabled; "
        f"if [ -e $f ]; then echo N > $f; echo {m}=$(cat $f); fi" for m in DAMON_MODULES)
    script += "; echo on > /proc/sys/kernel/printk_devkmsg"
    if panic_on_warn:
        script += "; echo 1 > /proc/sys/kernel/panic_on_warn; echo panic_on_warn=1"
    return vm.run(script, timeout=60, check=True).stdout


def install(vm, tools: TestTools, vmlinux: Optional[Path], run_dir: Path) -> None:
    bundle = run_dir / "kselftest.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        tar.add(tools.install, arcname=".")
    vm.upload(bundle, "/root/kselftest.tar.gz", 0o644)
    bundle.unlink()
    vm.run(f"mkdir -p {GUEST_DIR} && tar -xzf /root/kselftest.tar.gz -C {GUEST_DIR} && "
           "rm /root/kselftest.tar.gz", timeout=120, check=True)
    if vmlinux is not None:
        # One of the places drgn looks for the running kernel's debug info.
        debug = "/usr/lib/debug/lib/modules/$(uname -r)"
        vm.run(f"mkdir -p {debug}", check=True)
        release = vm.run("uname -r", check=True).stdout.strip()
        vm.upload(vmlinux, f"/usr/lib/debug/lib/modules/{release}/vmlinux", 0o644)


def effective_timeout(tools: TestTools, override: Optional[int], accel: str) -> Optional[int]:
    """The -o value for the runner: the user's, or under TCG the tests' own
    timeout scaled; None leaves the tests' own timeout alone."""
    if override:
        return override
    if accel == "tcg":
        return per_test_timeout(tools, None) * TCG_TIMEOUT_SCALE
    return None


def per_test_timeout(tools: TestTools, override: Optional[int]) -> int:
    if override:
        return override
    settings = tools.install / "damon" / "settings"
    if settings.is_file():
        for line in settings.read_text().splitlines():
            if line.startswith("timeout="):
                return int(line.split("=", 1)[1])
    return DEFAULT_TIMEOUT_S


def run_with_retries(vm, tools: TestTools, tests: Sequence[str], timeout: Optional[int],
                     run_dir: Path, retries: int) -> List[TestResult]:
    """Run the tests; then run the ones that FAILed or TIMEd OUT again, up to
    `retries` more times in the same guest, keeping every attempt's output.
    A crash ends the retries: the guest is gone."""
    results = run_selftests(vm, tools, tests, timeout, run_dir)
    for attempt in range(2, retries + 2):
        again = [r.name for r in results if r.status in RETRIED]
        if not again or any(r.status == Status.CRASH for r in results):
            break
        retry = run_selftests(vm, tools, again, timeout, run_dir, attempt)
        results = merge_attempt(results, retry, attempt)
    return results


def merge_attempt(results: List[TestResult], retry: List[TestResult],
                  attempt: int) -> List[TestResult]:
    """A retried test's result is its latest attempt's (unless that attempt
    never ran), with the earlier attempt's outcome and output kept."""
    latest = {r.name: r for r in retry if r.status != Status.NOTRUN}
    merged = []
    for old in results:
        new = latest.get(old.name)
        if new is None:
            merged.append(old)
            continue
        earlier = f"attempt {attempt - 1}: {old.status.value} {old.reason}".strip()
        new.number, new.attempts = old.number, attempt
        if new.status == Status.PASS:
            new.status = Status.FLAKY
        new.output = (f"--- {earlier} ---\n{old.output}\n--- attempt {attempt} ---\n"
                      f"{new.output}")
        new.reason = f"{new.reason + '; ' if new.reason else ''}{earlier}"
        merged.append(new)
    return merged


def run_selftests(vm, tools: TestTools, tests: Sequence[str], timeout: Optional[int],
                  run_dir: Path, attempt: int = 1) -> List[TestResult]:
    """Every test in `tests` gets a result, whatever happens to the guest."""
    args = [f"-t damon:{shlex.quote(t)}" for t in tests]
    if timeout:
        args.append(f"-o {int(timeout)}")
    vm.run(f"cd {GUEST_DIR} && rm -f {STATUS} {OUTPUT} && setsid bash -c "
           f"'./run_kselftest.sh {' '.join(args)} 2>&1 | {TO_OUTPUT_AND_KMSG}; "
           f"echo ${{PIPESTATUS[0]}} > {STATUS}' "
           "< /dev/null > /dev/null 2>&1 &", timeout=30, check=True)
    started = time.monotonic()
    budget = len(tests) * (per_test_timeout(tools, timeout) + 30) + SLACK_S
    kept = run_dir / ("kselftest.ktap" if attempt == 1 else f"kselftest.attempt{attempt}.ktap")
    output, ended, done_at = _poll(vm, started + budget, run_dir, kept)
    parser = ktap.load_parser(tools.parser_dir)
    results = ktap.selftest_results(parser, output, tests, ended)
    for result, seconds in zip(results, durations(tests, done_at, started)):
        result.seconds = seconds
    excerpt = run_dir / "crash-excerpt.txt"
    if excerpt.is_file():
        for result in results:
            if result.status == Status.CRASH:
                result.output += "\n--- console excerpt ---\n" + excerpt.read_text()
    return results


RESULT_LINE = re.compile(r"^(?:not )?ok \d+ selftests: damon: (\S+)", re.M)
# KTAP's header and each test's start and result line also go to the
# kernel log (MIRRORED), so the console holds them in order with a crash's
# report: a test that ended
# less than one poll before the next one crashed the guest is still seen
# to have ended (its line in the output file died with the guest).
KMSG_TAG = "kselftest-line: "
MIRRORED = r"^(TAP version |1\.\.[0-9]+$|# selftests: damon: |(not )?ok [0-9]+ selftests: damon: )"
TO_OUTPUT_AND_KMSG = (
    f"tee -p -a {OUTPUT} | grep --line-buffered -E \"{MIRRORED}\" | "
    f"sed -u \"s/^/{KMSG_TAG}/\" > /dev/kmsg")   # inside bash -c '...'

CONSOLE_LINE = re.compile(re.escape(KMSG_TAG) + r"(.*?)\s*$", re.M)
HEADER = re.compile(r"^(TAP version |1\.\.\d+$)")


def with_console_results(output: str, console: str) -> str:
    """`output` with the result lines only the console got, in their order
    (and KTAP's header first, when the output never got even that)."""
    mirrored = CONSOLE_LINE.findall(console)
    seen = set(RESULT_LINE.findall(output))
    results = [(line, RESULT_LINE.match(line)) for line in mirrored]
    missing = [line for line, m in results if m and m.group(1) not in seen]
    if not missing:
        return output
    head = [] if "TAP version" in output else [line for line in mirrored if HEADER.match(line)]
    body = [output.rstrip("\n")] if output.strip() else []
    return "\n".join(head + body + missing) + "\n"


def durations(tests: Sequence[str], done_at: Dict[str, float], started: float) -> List[float]:
    """Each test's seconds, from when its result line was first seen (0 when
    it never was): the runner runs them one after another."""
    out, last = [], started
    for name in tests:
        if name not in done_at:
            out.append(0.0)
            continue
        out.append(round(done_at[name] - last, 1))
        last = done_at[name]
    return out


# The status is read before the output: the runner may end between the two
# reads, and an output read first could then lack the last result line.
POLL_COMMAND = "rc=$(cat {status} 2>/dev/null); cat {output}; echo; echo @@status=$rc"


def _poll(vm, deadline: float, run_dir: Path, kept: Path):
    """(the runner's output, why it stopped early or None, when each test's
    result line was first seen); the output is kept in `kept` as it grows."""
    output, ended, done_at = "", None, {}
    while True:
        try:
            got = vm.run(POLL_COMMAND.format(output=OUTPUT, status=STATUS), timeout=60)
        except RunEnded as stop:
            ended = f"{stop.verdict.value}: {stop.message}"
            (run_dir / "crash-excerpt.txt").write_text(stop.excerpt or "")
            output = with_console_results(output, _read(vm.run_dir / "console.log"))
            break
        text, _, status = got.stdout.rpartition("@@status=")
        output = text[:-1] if text.endswith("\n") else text
        kept.write_text(output)
        for name in RESULT_LINE.findall(output):
            done_at.setdefault(name, time.monotonic())
        if status.strip():
            break
        if time.monotonic() > deadline:
            ended = "the whole run went past its time budget"
            break
        time.sleep(POLL_S)
    kept.write_text(output)
    return output, ended, done_at


def keep_dmesg(vm, run_dir: Path) -> None:
    """The kernel log after the tests (warnings the tests did not check)."""
    try:
        (run_dir / "dmesg.txt").write_text(vm.run("dmesg", timeout=60).stdout)
    except RunEnded:
        pass    # the console log has it


def kunit_from_console(tools: TestTools, console: str,
                       ended: Optional[str] = None) -> List[TestResult]:
    parser = ktap.load_parser(tools.parser_dir)
    return ktap.kunit_results(parser, console, tools.kunit_cases, ended)


def watch_kunit(vm, tools: TestTools, deadline_s: float) -> List[TestResult]:
    """Start the VM and read KUnit's KTAP from its console until the plan is
    complete, the kernel crashes, or the deadline passes; then stop it."""
    parser = ktap.load_parser(tools.parser_dir)
    console = vm.run_dir / "console.log"
    ended = None
    vm.start()
    try:
        deadline = time.monotonic() + deadline_s
        while not ktap.kunit_complete(parser, _read(console)):
            if vm.watcher.crashed.is_set() or vm.watcher.exited.is_set():
                vm.watcher.exited.wait(2)
                ended = f"CRASH: {vm.watcher.crash_reason or 'QEMU exited'}"
                break
            if time.monotonic() > deadline:
                ended = f"HANG: KUnit's plan was not complete after {deadline_s:.0f} s"
                break
            time.sleep(0.5)
    finally:
        vm.stop()
    return ktap.kunit_results(parser, _read(console), tools.kunit_cases, ended)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
