"""Units of work: a matrix laid out A B A B, run by the local runner, with
the results grouped by cell in repeat order."""

from pathlib import Path

from harness.runner import LocalRunner, interleaved


def test_interleaved_runs_every_cell_once_per_repeat_in_turn():
    cells = [("base", "sc", None, "base"), ("patched", "sc", None, "patched")]
    tasks = interleaved(cells, 3, lambda key, rep: Path(f"/o/{key}-{rep}"))
    assert [(t.key, t.repeat) for t in tasks] == [
        ("base", 1), ("patched", 1), ("base", 2), ("patched", 2), ("base", 3), ("patched", 3)]
    assert tasks[3].run_dir == Path("/o/patched-2") and tasks[3].repeats == 3


class FakeResult:
    def __init__(self, name):
        self.name, self.verdict, self.checks, self.wall_time = name, "PASS", [], 1.0


def test_the_local_runner_groups_results_by_cell_and_calls_after(monkeypatch, tmp_path):
    ran = []

    def run_scenario(sc, kernel=None, accel="auto", run_dir=None):
        ran.append((sc, run_dir.name, accel))
        return FakeResult(sc)
    monkeypatch.setattr("harness.engine.run_scenario", run_scenario)
    monkeypatch.setattr("harness.report.summary_line", lambda r: r.name)
    cells = [("a", "sa", None, "A"), ("b", "sb", None, "")]
    tasks = interleaved(cells, 2, lambda key, rep: tmp_path / f"{key}{rep}")
    after, lines = [], []
    results = LocalRunner("tcg").run(tasks, echo=lines.append,
                                     after=lambda t, r: after.append(t.run_dir.name))
    assert [r.name for r in results["a"]] == ["sa", "sa"] and len(results["b"]) == 2
    assert [d for _, d, _ in ran] == ["a1", "b1", "a2", "b2"] == after
    assert ran[0][2] == "tcg"
    assert lines == ["[1/2 A] sa", "[1/2] sb", "[2/2 A] sa", "[2/2] sb"]
