"""Run one scenario in a VM: set the guest up, start the workloads, configure
DAMON, sample the kernel's counters, judge the expectations, keep artefacts.

run_scenario() returns a ScenarioResult whatever happens; a crash, hang or
boot failure becomes that verdict, a broken setup step becomes ERROR.
"""

import json
import shlex
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, ContextManager, Dict, List, Optional, Sequence

import yaml

from harness import checks, damon_sysfs, metrics, report
from harness.errors import HarnessError
from harness.paths import new_run_dir
from harness.scenario import Scenario, Workload, load_scenario, metric_reference
from harness.vm.verdict import RunEnded, Verdict

GUEST_BIN = "/root/hotcold"
WORKLOAD_OUT = "/tmp/workload-{name}.out"
CGROUP_ROOT = "/sys/fs/cgroup"
THP_ENABLED = "/sys/kernel/mm/transparent_hugepage/enabled"
NUMA_BALANCING = "/proc/sys/kernel/numa_balancing"
READY_TIMEOUT_S = 90
SETUP_TIMEOUT_S = 120


class SetupFailed(HarnessError):
    """A guest setup step failed: the verdict is ERROR, not FAIL."""


# ------------------------------------------------------------------ the run

class Run:
    """One scenario inside one booted VM."""

    def __init__(self, vm, sc: Scenario, binary: Path):
        self.vm, self.sc, self.binary = vm, sc, binary
        self.run_dir = Path(vm.run_dir)
        self.pids: Dict[str, int] = {}
        self.regions: Dict[str, Dict[str, tuple]] = {}
        self.node_total: Dict[int, int] = {}
        self.series: Dict[str, checks.Series] = {}
        self.timings: Dict[str, float] = {}
        self.log: List[str] = []
        self.guest_state: Dict[str, str] = {}

    def sh(self, command: str, what: str, timeout: float = SETUP_TIMEOUT_S) -> str:
        result = self.vm.run(command, timeout=timeout)
        self.log.append(f"$ {command}\n{result.stdout}{result.stderr}[exit {result.exit_code}]")
        if result.exit_code != 0:
            err = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise SetupFailed(f"{what} failed: {err[-1] if err else 'exit ' + str(result.exit_code)}")
        return result.stdout

    # -- guest setup ---------------------------------------------------------
    def setup_guest(self) -> None:
        self.sh(damon_sysfs.disable_others_script(), "disabling DAMON_STAT/RECLAIM/LRU_SORT")
        out = self.sh(guest_setup_script(self.sc), "guest setup")
        self.guest_state = parse_state_lines(out)
        self.node_total = self._node_totals()
        self.vm.guest.upload(self.binary, GUEST_BIN)

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
            self.sh(workload_command(w), f"starting workload {w.name}")
        for w in self.sc.workloads.values():
            self._wait_ready(w)

    def _wait_ready(self, w: Workload) -> None:
        out_path = WORKLOAD_OUT.format(name=w.name)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.vm.run(f"cat {out_path}", timeout=30).stdout
            pid = metrics.parse_ready_pid(text)
            if pid:
                self.pids[w.name] = pid
                self.regions[w.name] = metrics.parse_region_lines(text)
                return
            if any(word in text for word in ("hotcold:", "usage:", "numactl", "sh: ")):
                raise SetupFailed(f"workload {w.name} failed: {text.strip().splitlines()[-1]}")
            time.sleep(1)
        raise SetupFailed(f"workload {w.name} printed no 'ready' line in {READY_TIMEOUT_S} s")

    # -- DAMON ---------------------------------------------------------------
    def start_damon(self) -> None:
        res = damon_sysfs.Resolved(pids=self.pids, regions=self.regions,
                                   node_ranges=self._node_ranges())
        writes = damon_sysfs.writes(self.sc.damon, res)
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
        text = self.sh(damon_sysfs.node_ranges_command(nodes), "reading node memory blocks")
        return damon_sysfs.parse_node_ranges(text)

    # -- sampling ------------------------------------------------------------
    def sample(self) -> None:
        ctx = self.sample_context()
        command = metrics.sample_command(self.sc, ctx)
        interval, duration = self.sc.sample.interval, self.sc.sample.duration
        self.series = {name: checks.Series([], []) for name in self.sc.sample.metrics}
        raw = []
        t_on = time.monotonic()
        for i in range(int(duration / interval + 1e-9) + 1):
            _sleep_until(t_on + i * interval)
            start = time.monotonic()
            text = self.vm.run(command, timeout=max(30.0, 5 * interval)).stdout
            t = (start + time.monotonic()) / 2 - t_on
            self._record(t, metrics.parse_sample(text, self.sc, ctx))
            raw.append({"t": t, "uptime": metrics.sample_uptime(text)})
        self.timings["sampling"] = time.monotonic() - t_on
        (self.run_dir / "sample-times.json").write_text(json.dumps(raw) + "\n")

    def sample_context(self) -> metrics.SampleContext:
        dirs = {}
        if self.sc.damon.module is None:
            dirs = {name: damon_sysfs.scheme_dir(self.sc.damon, name)
                    for name in self.sc.damon.schemes()}
        return metrics.SampleContext(self.pids, self.regions, dirs)

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
        out = []
        for e in self.sc.expect:
            m = self.sc.sample.metrics[e.metric]
            ref = metric_reference(self.sc, m, self.node_total)
            out.append(checks.judge(e, self.series[e.metric], ref))
        return out


def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# ------------------------------------------------------------ guest scripts

def guest_setup_script(sc: Scenario) -> str:
    """THP mode, NUMA balancing, sysctls, sysfs knobs and cgroups; the values
    found before are printed first so the run records them."""
    g = sc.guest
    lines = ["set -e",
             f"echo \"before: thp=$(cat {THP_ENABLED})\"",
             f"echo \"before: numa_balancing=$(cat {NUMA_BALANCING} 2>/dev/null || echo none)\""]
    if g.thp is not None:
        lines += [f"echo {g.thp} > {THP_ENABLED}",
                  f"grep -q '\\[{g.thp}\\]' {THP_ENABLED}"]
    if g.numa_balancing is not None:
        lines += _numa_balancing_lines(g.numa_balancing)
    lines += [f"sysctl -q -w {shlex.quote(k + '=' + v)}" for k, v in g.sysctls.items()]
    lines += [f"printf '%s\\n' {shlex.quote(v)} > {shlex.quote(p)}" for p, v in g.sysfs.items()]
    lines += _cgroup_lines(sc)
    lines += [f"echo \"after: thp=$(cat {THP_ENABLED})\"",
              f"echo \"after: numa_balancing=$(cat {NUMA_BALANCING} 2>/dev/null || echo none)\""]
    return "\n".join(lines) + "\n"


def parse_state_lines(text: str) -> Dict[str, str]:
    """'before: thp=always [madvise] never' -> {'before thp': '...'}."""
    state = {}
    for line in text.splitlines():
        when, sep, rest = line.partition(": ")
        key, eq, value = rest.partition("=")
        if sep and eq and when in ("before", "after"):
            state[f"{when} {key}"] = value.strip()
    return state


def _numa_balancing_lines(value: int) -> List[str]:
    if value == 0:
        return [f"[ ! -e {NUMA_BALANCING} ] || echo 0 > {NUMA_BALANCING}"]
    return [f"echo {value} > {NUMA_BALANCING}"]


def _cgroup_lines(sc: Scenario) -> List[str]:
    cgroups = sc.guest.cgroups
    if not cgroups:
        return []
    controllers = {"memory"} | {k.split(".")[0] for cg in cgroups.values() for k in cg.limits}
    lines = [f"grep -q ' {CGROUP_ROOT} cgroup2 ' /proc/mounts || "
             f"mount -t cgroup2 cgroup2 {CGROUP_ROOT}",
             f"echo '{' '.join('+' + c for c in sorted(controllers))}' > "
             f"{CGROUP_ROOT}/cgroup.subtree_control"]
    for cg in cgroups.values():
        lines.append(f"mkdir -p {CGROUP_ROOT}/{cg.name}")
        lines += [f"printf '%s\\n' {shlex.quote(v)} > {CGROUP_ROOT}/{cg.name}/{k}"
                  for k, v in cg.limits.items()]
    return lines


def workload_command(w: Workload) -> str:
    """Start a workload detached, in its cgroup, bound as asked. The shell
    that joins the cgroup execs the workload, so the pid is the workload's."""
    inner = []
    if w.cgroup:
        inner.append(f"echo $$ > {CGROUP_ROOT}/{w.cgroup}/cgroup.procs")
    numactl = []
    if w.cpus:
        numactl.append("--physcpubind=" + ",".join(map(str, w.cpus)))
    if w.membind:
        numactl.append("--membind=" + ",".join(map(str, w.membind)))
    prog = ["numactl", *numactl] if numactl else []
    prog += [GUEST_BIN, *w.program_args()]
    inner.append("exec " + " ".join(shlex.quote(a) for a in prog))
    out = WORKLOAD_OUT.format(name=w.name)
    return (f"setsid sh -c {shlex.quote('; '.join(inner))} > {out} 2>&1 < /dev/null & "
            f"echo started")


# ------------------------------------------------------------------ entries

def _kernel_for(sc: Scenario):
    if sc.kernel.kind == "default":
        return None
    if sc.kernel.kind == "file":
        from harness.kernel.artifact import user_kernel
        return user_kernel(sc.kernel.image, sc.kernel.modules)
    from harness.kernel.build import DEFAULT, build_kernel
    request = sc.kernel.build
    patches = request.get("patches") or []
    patches = [patches] if isinstance(patches, str) else patches
    source = request.get("source")
    return build_kernel(source=_scenario_path(sc, source) if source else None,
                        patches=[_scenario_path(sc, p) for p in patches],
                        fragments=request.get("configs") or DEFAULT)


def _scenario_path(sc: Scenario, path: str) -> str:
    """A path in a scenario: relative to the scenario's file, else to the repo."""
    from harness.paths import REPO_ROOT
    candidates = [Path(sc.path).parent / path] if sc.path else []
    candidates.append(REPO_ROOT / path)
    return str(next((c for c in candidates if c.exists()), Path(path)))


def run_scenario(sc: Scenario, kernel=None, accel: str = "auto",
                 run_dir: Optional[Path] = None,
                 progress: Callable[[], ContextManager] = nullcontext) -> report.ScenarioResult:
    """Boot, run, judge. `kernel` (a harness Kernel) overrides the scenario's.
    A kernel build the scenario asks for runs inside `progress()`, which a
    caller that captures output uses to let the build's progress through."""
    from harness.vm.machine import boot
    from harness.workloads.build import build
    run_dir = Path(run_dir or new_run_dir(f"scenario-{sc.name}"))
    _save_scenario(sc, run_dir)
    result = report.ScenarioResult(name=sc.name, verdict=Verdict.ERROR.value,
                                   run_dir=str(run_dir), path=sc.path)
    result.units = {n: report.metric_unit(m) for n, m in sc.sample.metrics.items()}
    result.delta_metrics = sorted({e.metric for e in sc.expect if e.delta})
    start = time.monotonic()
    run = None
    try:
        binary = build("hotcold")
        if kernel is None:
            with progress():
                kernel = _kernel_for(sc)
        with boot(sc.topology, kernel=kernel, run_dir=run_dir, accel=accel) as vm:
            run = Run(vm, sc, binary)
            run.timings["boot"] = time.monotonic() - start
            _drive(run)
            result.checks = run.judge()
            result.verdict = checks.scenario_verdict(result.checks)
    except RunEnded as ended:
        result.verdict, result.message, result.excerpt = (ended.verdict.value, ended.message,
                                                          ended.excerpt)
    except HarnessError as exc:
        result.message = str(exc)
    except Exception as exc:  # noqa: BLE001 - the harness broke: ERROR, keep going
        result.message = f"harness error: {type(exc).__name__}: {exc}"
    finally:
        _finish(result, run, run_dir, start)
    return result


def _drive(run: Run) -> None:
    t = time.monotonic()
    run.setup_guest()
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
    text = Path(sc.path).read_text() if sc.path and Path(sc.path).is_file() \
        else yaml.safe_dump(sc.raw, sort_keys=False)
    (run_dir / "scenario.yaml").write_text(text)


def _finish(result: report.ScenarioResult, run: Optional[Run], run_dir: Path,
            start: float) -> None:
    result.wall_time = time.monotonic() - start
    if run is not None:
        result.series = run.series
        result.timings = {k: round(v, 2) for k, v in run.timings.items()}
        result.guest_state = run.guest_state
        (run_dir / "guest-commands.log").write_text("\n".join(run.log) + "\n")
    if result.series:
        report.samples_json(result, run_dir / "samples.json")
    (run_dir / "result.json").write_text(json.dumps(report.result_dict(result), indent=2) + "\n")
    report.plot(result, run_dir / f"{result.name}.png")


def run_suite(paths: Sequence[str], out_dir: Optional[Path] = None, kernel=None,
              accel: str = "auto", echo=print) -> List[report.ScenarioResult]:
    """Validate every scenario first (bad input raises InputError before any
    VM boots), then run them one after another and write the reports."""
    scenarios = [load_scenario(p) for p in paths]
    results = []
    for sc in scenarios:
        result = run_scenario(sc, kernel=kernel, accel=accel)
        echo(report.summary_line(result))
        results.append(result)
    out_dir = Path(out_dir or new_run_dir("suite"))
    report.write_reports(results, out_dir)
    echo(report.summary_table(results))
    echo(f"reports: {out_dir}")
    return results


def exit_code(results: Sequence[report.ScenarioResult]) -> int:
    """0 when every scenario passed, else the worst verdict's status."""
    from harness.vm.verdict import EXIT_STATUS
    worst = 0
    for r in results:
        v = Verdict(r.verdict)
        worst = max(worst, 0 if v == Verdict.PASS else EXIT_STATUS.get(v, 1))
    return worst
