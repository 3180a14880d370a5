"""Units of work and what runs them.

A Task is one scenario on one kernel, one repeat, into its own run
directory: self-contained, so a runner may run it anywhere. `interleaved`
lays out a matrix of repeats A B A B ... so drift on the host falls on every
cell alike; a runner runs the tasks and groups the judged results by cell.
LocalRunner runs them one after another on this host (timing checks under
TCG are sensitive to sharing cores).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Hashable, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Task:
    key: Hashable           # the cell: results are grouped by it
    scenario: object
    kernel: Optional[object]
    run_dir: Path
    repeat: int             # 1-based
    repeats: int
    label: str = ""         # for progress lines: a side, a condition


def interleaved(cells: Sequence[Tuple[Hashable, object, Optional[object], str]], repeats: int,
                run_dir: Callable[[Hashable, int], Path]) -> List[Task]:
    """Every cell (key, scenario, kernel, label) once per repeat, repeat by repeat."""
    return [Task(key, sc, kernel, run_dir(key, rep), rep, repeats, label)
            for rep in range(1, repeats + 1) for key, sc, kernel, label in cells]


class LocalRunner:
    """Runs tasks one after another on this host."""

    def __init__(self, accel: str = "auto"):
        self.accel = accel

    def run(self, tasks: Sequence[Task], echo=print,
            after: Optional[Callable[[Task, object], None]] = None) -> Dict[Hashable, list]:
        """{cell key: judged results in repeat order}; after(task, result) runs
        once each result is on disk."""
        from harness import engine
        from harness.report import summary_line
        results: Dict[Hashable, list] = {}
        for task in tasks:
            result = engine.run_scenario(task.scenario, kernel=task.kernel, accel=self.accel,
                                         run_dir=task.run_dir)
            if after is not None:
                after(task, result)
            label = f" {task.label}" if task.label else ""
            echo(f"[{task.repeat}/{task.repeats}{label}] {summary_line(result)}")
            results.setdefault(task.key, []).append(result)
        return results
