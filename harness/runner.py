"""Units of work and what runs them.

A Task is one piece of work (a scenario, or a selftests run: see Work) on
one kernel, one repeat, into its own run directory: self-contained, so a
runner may run it anywhere. `interleaved`
lays out a matrix of repeats A B A B ... so drift on the host falls on every
cell alike; a runner runs the tasks and groups the judged results by cell.

LocalRunner runs them on this host: one after another in this process
(jobs=1), or up to `jobs` at once, each in a process of its own. DaskRunner
(harness.dask_runner) runs them on a Dask cluster. Whatever ran it, a task's
result is judged from its run directory, so reports are the same.
"""

import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import (Callable, Dict, Hashable, Iterable, List, Optional, Protocol, Sequence,
                    Tuple)

TASK_FILE = "task.json"     # in each run directory: which task, where, which attempts


class Work(Protocol):
    """What a task runs. Its result is judged from the run directory alone,
    so it may have run anywhere."""
    name: str

    def vm_size(self) -> Tuple[int, int]: ...          # (vCPUs, bytes of RAM)
    def identity(self) -> bytes: ...                   # all that decides the run, but the kernel
    def kernel_key(self) -> Hashable: ...              # what kernel() would give, as a key
    def kernel(self): ...                              # the kernel it asks for, built here
    def run(self, kernel, accel: str, run_dir: Path): ...            # -> its result
    def judged(self, run_dir: Path): ...               # -> its result, None when there is none
    def lost(self, run_dir: Path, why: str): ...       # -> an ERROR result saying why
    def summary_line(self, result) -> str: ...


class ScenarioWork:
    """A scenario: run by the engine, judged from its samples."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.name = getattr(scenario, "name", str(scenario))

    def vm_size(self) -> Tuple[int, int]:
        topo = self.scenario.topology
        return topo.vcpus, topo.memory

    def identity(self) -> bytes:
        import yaml
        return yaml.safe_dump(getattr(self.scenario, "raw", self.scenario),
                              sort_keys=True).encode()

    def kernel_key(self) -> Hashable:
        return repr(self.scenario.kernel)

    def kernel(self):
        """The kernel its kernel: section asks for (built or fetched here)."""
        from harness.kernel.prebuilt import default_kernel
        from harness.kernel.spec import kernel_for
        return kernel_for(self.scenario.kernel) or default_kernel()

    def run(self, kernel, accel: str, run_dir: Path):
        from harness import engine
        return engine.run_scenario(self.scenario, kernel=kernel, accel=accel, run_dir=run_dir)

    def judged(self, run_dir: Path):
        from harness import judge, rundir
        return judge.judge_dir(run_dir)[0] if (run_dir / rundir.RESULT).is_file() else None

    def lost(self, run_dir: Path, why: str):
        from harness import report
        result = report.new_result(self.scenario, run_dir)
        result.message = why
        return result

    def summary_line(self, result) -> str:
        from harness.report import summary_line
        return summary_line(result)


@dataclass(frozen=True)
class Task:
    key: Hashable           # the cell: results are grouped by it
    work: Work
    kernel: Optional[object]    # None: the one the work asks for
    run_dir: Path
    repeat: int             # 1-based
    repeats: int
    label: str = ""         # for progress lines: a side, a condition

    @property
    def vm_size(self) -> Tuple[int, int]:
        """(vCPUs, bytes of RAM) of the task's guest."""
        return self.work.vm_size()

    def inputs(self) -> dict:
        """The task's inputs named by content: the work as it will run and
        the kernel's files."""
        from harness.kernel.shipping import kernel_id
        return {"work": hashlib.sha256(self.work.identity()).hexdigest()[:16],
                "kernel": kernel_id(self.kernel) if self.kernel is not None else "default"}


def interleaved(cells: Sequence[Tuple[Hashable, object, Optional[object], str]], repeats: int,
                run_dir: Callable[[Hashable, int], Path]) -> List[Task]:
    """Every cell (key, work, kernel, label) once per repeat, repeat by repeat;
    a cell's work may be a Scenario, taken as ScenarioWork."""
    return [Task(key, _as_work(work), kernel, run_dir(key, rep), rep, repeats, label)
            for rep in range(1, repeats + 1) for key, work, kernel, label in cells]


def with_retries(runner, tasks: Sequence[Task], retries: int, echo=print,
                 after=None) -> Dict[Hashable, list]:
    """runner.run(tasks); then every task whose result is a FAIL runs once
    more, up to `retries` times, each attempt into a run directory of its
    own. A task that passes on a later attempt is FLAKY, never PASS; its
    result says what each earlier attempt gave (harness.report.with_attempts)."""
    from harness.report import with_attempts
    from harness.verdict import Verdict
    final = dict(zip(map(id, tasks), per_task(tasks, runner.run(tasks, echo=echo, after=after))))
    history: Dict[int, list] = {id(t): [] for t in tasks}
    for attempt in range(2, retries + 2):
        failed = [t for t in tasks if final[id(t)].verdict == Verdict.FAIL]
        if not failed:
            break
        again = [replace(t, run_dir=t.run_dir.with_name(f"{t.run_dir.name}-attempt{attempt}"))
                 for t in failed]
        echo(f"attempt {attempt}: {len(again)} FAILed run(s) once more")
        for task, result in zip(failed, per_task(again, runner.run(again, echo=echo,
                                                                   after=after))):
            history[id(task)].append(final[id(task)])
            final[id(task)] = result
    by_cell: Dict[Hashable, list] = {}
    for t in tasks:
        by_cell.setdefault(t.key, []).append(with_attempts(final[id(t)], history[id(t)]))
    return by_cell


def per_task(tasks: Sequence[Task], by_cell: Dict[Hashable, list]) -> List[object]:
    """A runner's {cell: results in task order} back to one result per task."""
    taken = {key: iter(results) for key, results in by_cell.items()}
    return [next(taken[t.key]) for t in tasks]


def _as_work(work) -> Work:
    return work if hasattr(work, "summary_line") else ScenarioWork(work)


def host_cores() -> int:
    return len(os.sched_getaffinity(0))


def default_jobs(tasks: Sequence[Task]) -> int:
    """As many VMs at once as the host's cores and memory hold without
    sharing (1 on a 2-core host with 2-vCPU guests)."""
    from harness.topology import host_memory_limit
    if not tasks:
        return 1
    vcpus = max(t.vm_size[0] for t in tasks)
    memory = max(t.vm_size[1] for t in tasks)
    return max(1, min(host_cores() // max(vcpus, 1), host_memory_limit() // max(memory, 1)))


def sharing_line(jobs: int, tasks: Sequence[Task], cores: int) -> str:
    """Whether `jobs` VMs at once shared the cores: TCG timing is sensitive."""
    vcpus = max((t.vm_size[0] for t in tasks), default=1)
    line = f"{jobs} job(s) at once, guests of {vcpus} vCPUs, {cores} host cores"
    if jobs * vcpus > cores:
        return line + ": the VMs SHARED cores (timing figures under TCG are sensitive to that)"
    return line + ": no VM shared a core"


class Collected:
    """Results as they arrive (each reported at once), grouped by cell in
    the tasks' order at the end."""

    def __init__(self, tasks: Sequence[Task], echo, after):
        self.order = {id(t): i for i, t in enumerate(tasks)}
        self.echo, self.after = echo, after
        self.done: List[Tuple[int, Task, object]] = []

    def add(self, task: Task, result) -> None:
        if self.after is not None:
            self.after(task, result)
        label = f" {task.label}" if task.label else ""
        where = f"[{task.repeat}/{task.repeats}{label}] " if task.repeats > 1 or label else ""
        self.echo(where + task.work.summary_line(result))
        self.done.append((self.order[id(task)], task, result))

    def by_cell(self) -> Dict[Hashable, list]:
        results: Dict[Hashable, list] = {}
        for _, task, result in sorted(self.done, key=lambda d: d[0]):
            results.setdefault(task.key, []).append(result)
        return results


def write_task_file(task: Task, where: dict) -> None:
    """Which task a run directory holds, and every attempt at it."""
    task.run_dir.mkdir(parents=True, exist_ok=True)
    (task.run_dir / TASK_FILE).write_text(json.dumps(
        {"key": list(task.key) if isinstance(task.key, tuple) else task.key,
         "repeat": task.repeat, "repeats": task.repeats, "inputs": task.inputs(), **where},
        indent=2, default=str) + "\n")


def how_ran(run_dirs: Iterable) -> str:
    """How the runs in `run_dirs` ran, from their task.json: each runner's
    line once (the one place a report takes it from)."""
    lines: List[str] = []
    for run_dir in run_dirs:
        try:
            line = json.loads((Path(run_dir) / TASK_FILE).read_text()).get("runner", "")
        except (OSError, ValueError):
            continue
        if line and line not in lines:
            lines.append(line)
    return "; ".join(lines)


def judged(task: Task):
    """The task's result, judged from its run directory; ERROR when the run
    left no result behind (its process died before writing one)."""
    result = task.work.judged(task.run_dir)
    if result is None:
        return task.work.lost(task.run_dir, "the run's process ended before it wrote a result")
    return result


class LocalRunner:
    """Runs tasks on this host, `jobs` at a time."""

    def __init__(self, accel: str = "auto", jobs: Optional[int] = 1):
        self.accel = accel
        self.jobs = jobs    # None: default_jobs() of the tasks

    def describe(self, tasks: Sequence[Task]) -> str:
        return "local: " + sharing_line(self.jobs or default_jobs(tasks), tasks, host_cores())

    def run(self, tasks: Sequence[Task], echo=print,
            after: Optional[Callable[[Task, object], None]] = None) -> Dict[Hashable, list]:
        """{cell key: judged results in repeat order}; after(task, result) runs
        once each result is on disk."""
        collected = Collected(tasks, echo, after)
        self.jobs = self.jobs or default_jobs(tasks)
        self.how = self.describe(tasks)
        echo(self.how)
        if self.jobs == 1:
            for task in tasks:
                write_task_file(task, {"runner": self.how, "attempts": [{"host": _host()}]})
                collected.add(task, task.work.run(task.kernel, self.accel, task.run_dir))
            return collected.by_cell()
        with ThreadPoolExecutor(self.jobs) as pool:
            running = {pool.submit(self._in_process, task): task for task in tasks}
            for done in as_completed(running):
                done.result()
                collected.add(running[done], judged(running[done]))
        return collected.by_cell()

    def _in_process(self, task: Task) -> None:
        write_task_file(task, {"runner": self.how, "attempts": [{"host": _host()}]})
        run_task_process(task, self.accel)


def _host() -> str:
    return os.uname().nodename


def run_task_process(task: Task, accel: str, log: Optional[Path] = None) -> int:
    """Runs `task` in a child process (python -m harness.runner) that dies
    with this one, and so do its QEMUs; returns its exit status."""
    from harness.vm.process import die_with_parent
    task.run_dir.mkdir(parents=True, exist_ok=True)
    from harness.paths import REPO_ROOT
    with tempfile.NamedTemporaryFile(suffix=".task", delete=False) as f:
        pickle.dump((task, accel), f)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    try:
        with open(log or task.run_dir / "task.log", "ab") as out:
            return subprocess.run([sys.executable, "-m", "harness.runner", f.name],
                                  stdout=out, stderr=subprocess.STDOUT, env=env,
                                  preexec_fn=die_with_parent, check=False).returncode
    finally:
        os.unlink(f.name)


def _main(path: str) -> int:
    """One task, in a process of its own (see run_task_process)."""
    import atexit
    from harness.vm.process import kill_all
    atexit.register(kill_all)
    with open(path, "rb") as f:
        task, accel = pickle.load(f)
    result = task.work.run(task.kernel, accel, task.run_dir)
    print(f"{task.run_dir}: {task.work.summary_line(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
