"""Run one scenario in a VM: set the guest up, start the workloads, configure
DAMON, sample the kernel's own counters, and keep all of it in the run
directory (harness.rundir); the judge (harness.checks) then turns the
samples into verdicts, live or later with `damon-harness judge`.

run_scenario() returns a ScenarioResult whatever happens; a crash, hang or
boot failure becomes that verdict, a broken guest step becomes ERROR.
"""

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, ContextManager, Dict, List, Optional, Sequence

import yaml

from harness import checks, damon_sysfs, metrics, report, rundir
from harness.errors import HarnessError
from harness.guest import setup as guest_setup
from harness.guest.protocol import Guest
from harness.paths import new_run_dir
from harness.rundir import RunFacts, Series
from harness.scenario import Scenario, Workload, load_scenario, with_pids
from harness.verdict import EXIT_STATUS, RunEnded, Verdict

READY_TIMEOUT_S = 90
SETUP_TIMEOUT_S = 120


class GuestSetupError(HarnessError):
    """A step inside the guest failed (a sysfs write, a workload that would
    not start): the scenario's verdict is ERROR, not FAIL. A failure on the
    host (QEMU, a download, a build) is a HostError instead."""


# ------------------------------------------------------------------ the run

class Run:
    """One scenario inside one booted guest."""

    def __init__(self, vm: Guest, sc: Scenario, binary: Path):
        self.vm, self.sc, self.binary = vm, sc, binary
        self.run_dir = Path(vm.run_dir)
        self.facts = RunFacts(topology=sc.topology.describe())
        self.series: Dict[str, Series] = {}
        self.timings: Dict[str, float] = {}
        self.log: List[str] = []
        self.guest_state: Dict[str, str] = {}
        self.steps: List[dict] = []

    def sh(self, command: str, what: str, timeout: float = SETUP_TIMEOUT_S) -> str:
        result = self.vm.run(command, timeout=timeout)
        self.log.append(f"$ {command}\n{result.stdout}{result.stderr}[exit {result.exit_code}]")
        if result.exit_code != 0:
            err = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise GuestSetupError(f"{what} failed: "
                                  f"{err[-1] if err else 'exit ' + str(result.exit_code)}")
        return result.stdout

    # -- guest setup ---------------------------------------------------------
    def skip_lacking_features(self) -> None:
        """A kernel known only by its image is asked, right after boot,
        whether it has the sysfs features the scenario uses: SKIP if not."""
        from harness.kernel.needs import probe_lacks, probe_script
        if not self.sc.damon.kdamonds:
            return
        gone = probe_lacks(self.sh(probe_script(self.sc), "probing DAMON's sysfs features"))
        if gone:
            raise RunEnded(Verdict.SKIP, "; ".join(gone))

    def setup_guest(self) -> None:
        self.sh(damon_sysfs.disable_others_script(), "disabling DAMON_STAT/RECLAIM/LRU_SORT")
        out = self.sh(guest_setup.guest_setup_script(self.sc), "guest setup")
        self.guest_state = guest_setup.parse_state_lines(out)
        self.facts.node_total = self._node_totals()
        self.vm.upload(self.binary, guest_setup.GUEST_BIN)

    def _node_totals(self) -> Dict[int, int]:
        totals = {}
        for node in range(len(self.sc.topology.nodes)):
            text = self.sh(f"cat /sys/devices/system/node/node{node}/meminfo",
                           f"reading node {node} meminfo")
            totals[node] = metrics.parse_node_meminfo(text)["MemTotal"]
        return totals

    # -- workloads -----------------------------------------------------------
    def start_workloads(self) -> None:
        for w in self.sc.workloads.values():
            self.sh(guest_setup.workload_command(w), f"starting workload {w.name}")
        for w in self.sc.workloads.values():
            self._wait_ready(w)

    def _wait_ready(self, w: Workload) -> None:
        out_path = guest_setup.WORKLOAD_OUT.format(name=w.name)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.vm.run(f"cat {out_path}", timeout=30).stdout
            pid = metrics.parse_ready_pid(text)
            if pid:
                self.facts.pids[w.name] = pid
                self.facts.regions[w.name] = metrics.parse_region_lines(text)
                return
            if any(word in text for word in ("hotcold:", "usage:", "numactl", "sh: ")):
                raise GuestSetupError(f"workload {w.name} failed: "
                                      f"{text.strip().splitlines()[-1]}")
            time.sleep(1)
        raise GuestSetupError(f"workload {w.name} printed no 'ready' line in "
                              f"{READY_TIMEOUT_S} s")

    # -- DAMON ---------------------------------------------------------------
    def start_damon(self) -> None:
        self.facts.node_ranges = self._node_ranges()
        if self.sc.damon.module is None:
            self.facts.scheme_dirs = {name: damon_sysfs.scheme_dir(self.sc.damon, name)
                                      for name in self.sc.damon.schemes()}
        writes = damon_sysfs.writes(self.sc.damon, self.facts)
        starts = damon_sysfs.start_writes(self.sc.damon)
        (self.run_dir / "damon-writes.txt").write_text(
            "".join(f"{p} = {v}\n" for p, v in writes + starts))
        self.sh(damon_sysfs.script(writes), "writing the DAMON tree")
        self.sh(damon_sysfs.script(starts), "turning DAMON on")

    def _node_ranges(self):
        nodes = sorted({n for kd in self.sc.damon.kdamonds for c in kd.contexts
                        for t in c.targets for n in t.nodes})
        if not nodes:
            return {}
        text = self.sh(damon_sysfs.node_ranges_command(nodes),
                       "finding the nodes' physical memory ranges")
        try:
            ranges = damon_sysfs.parse_node_ranges(text)
        except ValueError as exc:
            raise GuestSetupError(f"finding the nodes' physical memory ranges: {exc}") \
                from None
        missing = [n for n in nodes if not ranges.get(n)]
        if missing:
            raise GuestSetupError(f"node {missing[0]} has no physical memory range")
        return ranges

    # -- sampling ------------------------------------------------------------
    def sample(self) -> None:
        """Sample every interval; a step runs just before the first sample
        at or after its time."""
        wanted = list(self.sc.sample.metrics.values())
        command = metrics.sample_command(wanted, self.facts)
        interval = self.sc.sample.interval
        self.series = {m.name: Series([], []) for m in wanted}
        pending = sorted(enumerate(self.sc.steps), key=lambda item: item[1].at)
        t_on = time.monotonic()
        for i in range(self.sc.sample.times):
            _sleep_until(t_on + i * interval)
            while pending and pending[0][1].at <= i * interval + 1e-9:
                self._run_step(*pending.pop(0), time.monotonic() - t_on)
            start = time.monotonic()
            text = self.vm.run(command, timeout=max(30.0, 5 * interval)).stdout
            t = (start + time.monotonic()) / 2 - t_on
            self._record(t, metrics.parse_sample(text, wanted, self.facts))
            self._keep_raw(i, text)
        self.timings["sampling"] = time.monotonic() - t_on

    def _keep_raw(self, i: int, text: str) -> None:
        """The guest's own output of the first and the latest sample, so a
        parser can be checked against what it really read."""
        first, last = rundir.RAW_SAMPLES
        (self.run_dir / (first if i == 0 else last)).write_text(text)

    def _run_step(self, index: int, step, t: float) -> None:
        command = step_command(step, self.sc, self.facts)
        started = time.monotonic()
        result = self.vm.run(command, timeout=SETUP_TIMEOUT_S)
        t_end = t + time.monotonic() - started
        self.log.append(f"$ {command}\n{result.stdout}{result.stderr}[exit {result.exit_code}]")
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
        self.steps.append({"index": index, "name": step.name, "at": step.at,
                           "t": round(t, 3), "t_end": round(t_end, 3), "command": command,
                           "exit_code": result.exit_code,
                           "output": lines[-1][:200] if lines else ""})

    def _record(self, t: float, values: Dict[str, Optional[float]]) -> None:
        for name, value in values.items():
            self.series[name].times.append(t)
            self.series[name].values.append(value)

    # -- after ---------------------------------------------------------------
    def collect_artefacts(self) -> None:
        grabs = {"damon-tree.txt": damon_sysfs.dump_command(),
                 "dmesg.txt": "dmesg",
                 "workloads.txt": "tail -n 20 /tmp/workload-*.out",
                 "vmstat-end.txt": "cat /proc/vmstat"}
        for name, command in grabs.items():
            try:
                result = self.vm.run(command, timeout=60)
                (self.run_dir / name).write_text(result.stdout + result.stderr)
            except HarnessError as exc:
                (self.run_dir / name).write_text(f"could not collect: {exc}\n")

    def judge(self) -> List[checks.CheckResult]:
        return checks.judge_scenario(self.sc, self.series, self.facts, self.steps)


def step_command(step, sc: Scenario, facts: RunFacts) -> str:
    """The guest shell command that carries out one step."""
    pids = facts.pids
    if step.kill:
        return f"kill -9 {pids[step.kill]}"
    if step.next_phase:
        return f"kill -USR1 {pids[step.next_phase]}"
    if step.run:
        return with_pids(step.run, pids)
    if step.params:
        base = damon_sysfs.MODULE_PARAMS.format(name=sc.damon.module.name)
        writes = [(f"{base}/{k}", with_pids(v, pids)) for k, v in step.params.items()]
    else:
        writes = [(path, with_pids(v, pids)) for path, v in step.write.items()]
    return damon_sysfs.script(writes)


def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# ------------------------------------------------------------------ entries

def run_scenario(sc: Scenario, kernel=None, accel: str = "auto",
                 run_dir: Optional[Path] = None,
                 progress: Callable[[], ContextManager] = nullcontext) -> report.ScenarioResult:
    """Boot, run, judge. `kernel` (a harness Kernel) overrides the scenario's.
    A kernel build the scenario asks for runs inside `progress()`, which a
    caller that captures output uses to let the build's progress through."""
    from harness.kernel.spec import kernel_for
    from harness.vm.machine import boot
    from harness.workloads.build import build
    run_dir = Path(run_dir or new_run_dir(f"scenario-{sc.name}"))
    run_dir.mkdir(parents=True, exist_ok=True)
    _save_scenario(sc, run_dir)
    result = report.new_result(sc, run_dir)
    start = time.monotonic()
    run = None
    try:
        binary = build("hotcold")
        if kernel is None:
            with progress():
                kernel = kernel_for(sc.kernel)
        if kernel is not None:      # what it ran on, also when it never boots
            rundir.save_kernel(run_dir, kernel.describe())
        _refuse_unfit(sc, kernel)
        _skip_lacking_features(sc, kernel)
        with boot(sc.topology, kernel=kernel, run_dir=run_dir, accel=accel,
                  extra_cmdline=sc.guest.cmdline) as vm:
            run = Run(vm, sc, binary)
            run.timings["boot"] = time.monotonic() - start
            if getattr(vm, "kernel", None) is not None:     # the default, once resolved
                rundir.save_kernel(run_dir, vm.kernel.describe())
            _drive(run)
            result.checks = run.judge()
            result.verdict = checks.scenario_verdict(result.checks)
    except RunEnded as ended:
        result.verdict, result.message, result.excerpt = (ended.verdict, ended.message,
                                                          ended.excerpt)
    except HarnessError as exc:
        result.message = str(exc)
    except Exception as exc:  # noqa: BLE001 - the harness broke: ERROR, keep going
        result.message = f"harness error: {type(exc).__name__}: {exc}"
    finally:
        _finish(result, run, run_dir, start)
    return result


def _refuse_unfit(sc: Scenario, kernel) -> None:
    """No boot for a kernel whose config lacks what the scenario needs: SKIP
    (a --kernel given for the whole suite is refused earlier, as bad input)."""
    from harness.kernel.needs import lacking
    if kernel is None:
        return      # Debian's default kernel: the VM layer fetches it
    gone = lacking(sc, kernel)
    if gone:
        raise RunEnded(Verdict.SKIP, f"not booted: the kernel lacks what the scenario "
                                     f"needs: {', '.join(gone)}")


def _skip_lacking_features(sc: Scenario, kernel) -> None:
    """No boot for a kernel whose source tree lacks a sysfs feature the
    scenario uses (an action, a filter type, a goal metric): SKIP, naming it."""
    from harness.kernel.needs import kernel_tree, tree_lacks
    tree = kernel_tree(kernel) if kernel is not None else None
    gone = tree_lacks(sc, tree) if tree is not None else []
    if gone:
        raise RunEnded(Verdict.SKIP, "not booted: " + "; ".join(gone))


def _drive(run: Run) -> None:
    t = time.monotonic()
    run.setup_guest()
    run.skip_lacking_features()
    run.start_workloads()
    run.start_damon()
    run.timings["setup"] = time.monotonic() - t
    try:
        run.sample()
        settle = max([e.settle for e in run.sc.expect if e.kind == "converges"] or [0.0])
        run.timings["settle"] = min(settle, run.timings["sampling"])
    finally:
        run.collect_artefacts()


def _save_scenario(sc: Scenario, run_dir: Path) -> None:
    """The scenario file as written (comments and all) when it is what ran;
    else (a condition, a file that extends another) what ran."""
    text = Path(sc.path).read_text() if sc.path and Path(sc.path).is_file() else None
    if text is None or sc.derived:
        text = yaml.safe_dump(sc.raw, sort_keys=False)
    (run_dir / rundir.SCENARIO).write_text(text)


def _finish(result: report.ScenarioResult, run: Optional[Run], run_dir: Path,
            start: float) -> None:
    """Everything the run learned goes to its directory, whatever happened."""
    result.wall_time = time.monotonic() - start
    if run is not None:
        result.series = run.series
        result.timings = {k: round(v, 2) for k, v in run.timings.items()}
        result.guest_state = run.guest_state
        rundir.save_facts(run_dir, run.facts)
        rundir.save_steps(run_dir, run.steps)
        (run_dir / "guest-commands.log").write_text("\n".join(run.log) + "\n")
    if result.series:
        rundir.save_samples(run_dir, result.series, result.units)
    rundir.save_result(run_dir, report.result_dict(result))
    report.plot(result, run_dir / f"{result.name}.png")


def load_suite(paths: Sequence[str], kernel=None) -> List[Scenario]:
    """Every scenario validated (bad input raises InputError before any VM
    boots), and fit for `kernel` when one is given."""
    scenarios = [load_scenario(p, check_kernel=kernel is None) for p in paths]
    if kernel is not None:
        from harness.kernel.needs import check_kernel
        check_kernel(scenarios, kernel)
    return scenarios


def run_suite(paths: Sequence[str], out_dir: Optional[Path] = None, kernel=None,
              accel: str = "auto", echo=print, repeat: int = 1,
              runner=None, scenarios=None, retries: int = 0,
              kernels: Optional[Sequence[tuple]] = None) -> List[report.ScenarioResult]:
    """Run each scenario `repeat` times on `runner` (default: one after
    another here), a FAIL up to `retries` times more, and write the reports.
    `scenarios`: already loaded. `kernels`: [(label, Kernel or None)], a
    matrix of every scenario on each kernel, instead of `kernel`."""
    from harness.runner import LocalRunner, interleaved, with_retries
    scenarios = scenarios or load_suite(paths, kernel)
    out_dir = Path(out_dir) if out_dir else None
    runner = runner or LocalRunner(accel)
    kernels = kernels or [("", kernel)]
    cells = [((label, i), sc, k, label) for label, k in kernels for i, sc in enumerate(scenarios)]
    tasks = interleaved(cells, repeat, lambda key, _: new_run_dir(
        f"scenario-{scenarios[key[1]].name}" + (f"-{_dir_safe(key[0])}" if key[0] else "")))
    by_cell = with_retries(runner, tasks, retries, echo=echo)
    results = []
    for label, _ in kernels:
        for i in range(len(scenarios)):
            for r in by_cell.get((label, i), []):
                r.kernel_label = label
                results.append(r)
    out_dir = out_dir or new_run_dir("suite")
    report.write_reports(results, out_dir)
    echo(report.summary_table(results))
    if len(kernels) > 1:
        echo(report.matrix_table(results))
    echo(f"reports: {out_dir}")
    return results


def _dir_safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in label)


# A FLAKY run passed in the end: the summary and every report call it FLAKY,
# and the exit status leaves it to the caller's own policy (as selftests do).
OK = (Verdict.PASS, Verdict.FLAKY, Verdict.SKIP)


def exit_code(results: Sequence[report.ScenarioResult]) -> int:
    """0 when every scenario passed (FLAKY too), else the worst verdict's status."""
    worst = 0
    for r in results:
        worst = max(worst, 0 if r.verdict in OK else EXIT_STATUS.get(r.verdict, 1))
    return worst
