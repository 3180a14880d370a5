"""Judging a finished run again from its directory, offline and in seconds.

The scenario comes from the run's scenario.yaml (its topology from
facts.json, so it no longer depends on files around it; its kernel section
is not needed), the series from samples.json, the run-time facts from
facts.json. `expect_file` replaces the expectations: a scenario or a file
holding just `expect:`.
"""

import json
from pathlib import Path
from typing import List, Optional, Tuple

from harness import checks, report, rundir
from harness.errors import InputError
from harness.scenario import Scenario, parse_scenario
from harness.verdict import Verdict
from harness.yamlfile import load_yaml

NEEDED = (rundir.SCENARIO, rundir.SAMPLES, rundir.FACTS)


def run_dirs(path: Path) -> List[Path]:
    """A run directory, or a suite directory's runs (from its summary.json)."""
    if not path.is_dir():
        raise InputError(str(path), "no such run directory")
    if (path / "summary.json").is_file() and not (path / rundir.SAMPLES).exists():
        try:
            listed = [s.get("run_dir") for s in
                      json.loads((path / "summary.json").read_text())["scenarios"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InputError(str(path / "summary.json"), "not a suite summary") from None
        return [Path(p) for p in listed if p]
    return [path]


def load_run(path: Path, expect_file: Optional[Path] = None) -> Scenario:
    """The run's scenario, ready to judge its samples again."""
    if not (path / rundir.RESULT).is_file():
        raise InputError(str(path), "not a run directory (no result.json)")
    raw = load_yaml(path / rundir.SCENARIO, f"{path.name}/{rundir.SCENARIO}")
    if not isinstance(raw, dict):
        raise InputError(str(path / rundir.SCENARIO), "not a scenario")
    facts = rundir.load_facts(path) if (path / rundir.FACTS).is_file() else None
    if facts and facts.topology:
        raw = {**raw, "topology": facts.topology}
    if expect_file is not None:
        raw = {**raw, "expect": _expectations_from(expect_file)}
    return parse_scenario(raw, f"{path.name}/{rundir.SCENARIO}", str(path / rundir.SCENARIO),
                          check_kernel=False)


def _expectations_from(path: Path):
    data = load_yaml(path, path.name)
    if not isinstance(data, dict) or "expect" not in data:
        raise InputError(f"{path.name}: expect", "is required (the expectations to judge)")
    return data["expect"]


def judge_dir(path: Path, expect_file: Optional[Path] = None
              ) -> Tuple[report.ScenarioResult, dict]:
    """(the run judged again, what the live run recorded). A run that ended
    before it was judged (CRASH, HANG, BOOT_FAIL, a setup ERROR) keeps its
    recorded verdict: there is nothing to judge."""
    sc = load_run(path, expect_file)
    recorded = rundir.load_result(path)
    result = report.new_result(sc, path)
    result.wall_time = recorded.get("wall_time", 0.0)
    result.timings = recorded.get("timings", {})
    result.message = recorded.get("message", "")
    if not (path / rundir.SAMPLES).is_file() or not (path / rundir.FACTS).is_file():
        result.verdict = Verdict(recorded.get("verdict", "ERROR"))
        return result, recorded
    result.series = rundir.load_samples(path)
    result.checks = checks.judge_scenario(sc, result.series, rundir.load_facts(path),
                                          rundir.load_steps(path))
    result.verdict = checks.scenario_verdict(result.checks)
    if not recorded.get("checks") and recorded.get("verdict") not in (None, "PASS", "FAIL"):
        result.verdict = Verdict(recorded["verdict"])
    return result, recorded


def numbered_runs(parent: Path, prefix: str, echo=print
                  ) -> List[Tuple[Path, report.ScenarioResult]]:
    """(directory, its run judged again) for each PREFIX<N> under `parent`,
    in the order of N; a run that never finished is skipped, and said so."""
    found = sorted((int(d.name[len(prefix):]), d) for d in parent.glob(f"{prefix}*")
                   if d.is_dir() and d.name[len(prefix):].isdigit())
    judged = []
    for _, run_dir in found:
        if (run_dir / rundir.RESULT).is_file():
            judged.append((run_dir, judge_dir(run_dir)[0]))
        else:
            echo(f"skipped {run_dir}: the run never finished")
    return judged


def differences(result: report.ScenarioResult, recorded: dict) -> List[str]:
    """Where the judgement differs from the recorded one: verdicts and the
    one-line summaries that carry the deciding numbers."""
    out = []
    if str(result.verdict) != recorded.get("verdict"):
        out.append(f"verdict {result.verdict}, the run said {recorded.get('verdict')}")
    before = {c["name"]: c for c in recorded.get("checks", [])}
    for c in result.checks:
        old = before.get(c.name)
        if old is None:
            out.append(f"{c.name}: not in the run")
        elif (str(c.verdict), c.summary) != (old.get("verdict"), old.get("summary")):
            out.append(f"{c.name}: {c.verdict} {c.summary} | run: {old.get('verdict')} "
                       f"{old.get('summary')}")
    return out
