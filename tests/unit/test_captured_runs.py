"""Judging and parsing on run directories captured from real guests.

tests/data/runs/<scenario>/ holds what a real run of that scenario left: the
scenario, facts.json, samples.json, steps.json, result.json and the guest's
own output of its last sample. The production code must read that output
into the values the run recorded, and judge the samples again into the
run's verdicts and numbers.
"""

from pathlib import Path

import pytest

from harness import judge, metrics, rundir

RUNS = sorted(p for p in (Path(__file__).parent.parent / "data" / "runs").iterdir()
              if p.is_dir())


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_judging_again_gives_the_runs_verdicts_and_numbers(run):
    result, recorded = judge.judge_dir(run)
    assert judge.differences(result, recorded) == []
    assert result.checks


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_the_parsers_read_the_guests_last_sample_as_the_run_did(run):
    sc = judge.load_run(run)
    raw = (run / rundir.RAW_SAMPLES[1]).read_text()
    values = metrics.parse_sample(raw, sc.sample.metrics.values(), rundir.load_facts(run))
    recorded = {name: s.values[-1] for name, s in rundir.load_samples(run).items()}
    assert values == recorded


def test_the_captured_runs_cover_every_metric_source():
    used = {m.source for run in RUNS for m in judge.load_run(run).sample.metrics.values()}
    assert used == set(metrics.SOURCES)


def test_edited_expectations_judge_the_same_samples_differently(tmp_path):
    run = next(r for r in RUNS if r.name == "collapse")
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text("expect:\n  - metric: hot_thp\n    reaches: {at_least: 100%, "
                        "within: 1s}\n")
    result, _ = judge.judge_dir(run, stricter)
    assert [c.verdict for c in result.checks] == ["FAIL"]


def test_the_judge_command_on_captured_runs(tmp_path):
    import os
    import subprocess
    import sys
    from harness.paths import REPO_ROOT
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), DAMON_HARNESS_CACHE=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "harness", "judge", *map(str, RUNS)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("same verdicts and numbers as the run") == len(RUNS)
    assert not list(tmp_path.iterdir())          # judging writes nothing into a cache
