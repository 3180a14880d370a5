"""Checks pass and fail for the right reason, with the deciding numbers."""

import pytest

from harness import checks
from harness.checks import ERROR, FAIL, PASS
from harness.rundir import Series
from harness.scenario import RULES, Expectation, Quantity

MiB = 1 << 20
T = [float(t) for t in range(0, 41, 2)]          # 0, 2, ... 40 s


def ramp(step_mib, cap_mib):
    return [min(i * step_mib, cap_mib) * MiB for i in range(len(T))]


def exp(kind, should="pass", **kw):
    if kind == "stays" and "settle" in kw:
        kw["after"] = kw.pop("settle")
    return Expectation(name=f"{kind} test", metric="m", should=should,
                       **{kind: RULES[kind](**kw)})


# ------------------------------------------------------------------ reaches

def test_reaches_pass_reports_time():
    e = exp("reaches", at_least=Quantity(0.5, True), within=30.0)
    r = checks.judge(e, Series(T, ramp(4, 64)), reference=64 * MiB)
    assert r.verdict == PASS
    assert r.numbers["reached_at"] == 16.0           # 8 steps of 4 MiB
    assert "reached 32.0 MiB" in r.summary


def test_reaches_fail_reports_best_value():
    e = exp("reaches", at_least=Quantity(0.5, True), within=30.0)
    r = checks.judge(e, Series(T, ramp(1, 64)), reference=64 * MiB)
    assert r.verdict == FAIL
    assert r.numbers["best"] == 15 * MiB              # value at 30 s
    assert "never >=" in r.summary


def test_reaches_too_late_fails():
    e = exp("reaches", at_least=Quantity(32 * MiB), within=10.0)
    r = checks.judge(e, Series(T, ramp(4, 64)))
    assert r.verdict == FAIL and "reached_at" not in r.numbers


def test_reaches_delta():
    values = [1000 + v for v in [0, 0, 5, 16, 20]]
    e = exp("reaches", at_least=Quantity(16), within=8.0, delta=True)
    r = checks.judge(e, Series([0, 2, 4, 6, 8], values))
    assert r.verdict == PASS and r.numbers["reached_at"] == 6


def test_reaches_after_a_step_counts_from_its_end():
    """A value met before the step does not count; the time to reach is the
    time since the step, and `within` counts from it too."""
    values = [5, 5, 5, 0, 0, 3, 5, 5]
    e = exp("reaches", at_least=Quantity(5), within=3.0, after_step="move")
    times = [0, 1, 2, 3, 4, 5, 6, 7]
    r = checks.judge(e, Series(times, values), step_times={"move": (3.0, 3.4)})
    assert r.verdict == PASS and r.numbers["reached_at"] == 5 + 1 and r.numbers["since"] == 3.4
    assert "2.6 s after the step" in r.summary
    from harness.compare.figures import _check_figures
    assert _check_figures(r, e, "")[0].value == pytest.approx(2.6)
    late = exp("reaches", at_least=Quantity(5), within=2.0, after_step="move")
    assert checks.judge(late, Series(times, values),
                        step_times={"move": (3.0, 3.4)}).verdict == FAIL
    assert "never ran" in checks.judge(e, Series(times, values)).summary


def test_reaches_at_most():
    e = exp("reaches", at_most=Quantity(0.1, True), within=40.0)
    values = [64 * MiB - v for v in ramp(4, 64)]
    r = checks.judge(e, Series(T, values), reference=64 * MiB)
    assert r.verdict == PASS


# -------------------------------------------------------------------- stays

def test_stays_pass_and_fail():
    e = exp("stays", at_most=Quantity(4 * MiB))
    ok = checks.judge(e, Series(T, [2 * MiB] * len(T)))
    assert ok.verdict == PASS and ok.numbers["worst"] == 2 * MiB
    values = [0.0] * len(T)
    values[5] = 6 * MiB
    bad = checks.judge(e, Series(T, values))
    assert bad.verdict == FAIL
    assert bad.numbers["violations"] == 1 and bad.numbers["worst_at"] == 10.0
    assert "first at 10.0 s" in bad.summary


def test_stays_flat_counter_with_delta():
    e = exp("stays", at_most=Quantity(0), delta=True)
    assert checks.judge(e, Series(T, [77.0] * len(T))).verdict == PASS
    moving = [77.0 + (i > 10) for i in range(len(T))]
    r = checks.judge(e, Series(T, moving))
    assert r.verdict == FAIL and r.numbers["worst"] == 1


def test_stays_after_ignores_early_samples():
    e = exp("stays", at_least=Quantity(10), settle=10.0)
    values = [0.0] * 5 + [10.0] * (len(T) - 5)
    assert checks.judge(e, Series(T, values)).verdict == PASS
    e.stays.after = 0.0
    assert checks.judge(e, Series(T, values)).verdict == FAIL


# ---------------------------------------------------------------- converges

def test_converges_pass_with_spread():
    vals = [100 * MiB + (5 * MiB if i % 2 else -5 * MiB) for i in range(len(T))]
    e = exp("converges", target=Quantity(0.1, True), tolerance=Quantity(0.15, True),
            settle=10.0, samples=10)
    r = checks.judge(e, Series(T, vals), reference=1000 * MiB)
    assert r.verdict == PASS
    assert r.numbers["samples"] == 10
    assert r.numbers["mean"] == pytest.approx(100 * MiB)
    assert r.numbers["stdev"] == pytest.approx(5 * MiB)
    assert r.band["lower"] == pytest.approx(85 * MiB)
    assert r.band["upper"] == pytest.approx(115 * MiB)


def test_converges_uses_the_last_n_samples():
    vals = [0.0] * 10 + [100 * MiB] * (len(T) - 10)
    e = exp("converges", target=Quantity(100 * MiB), tolerance=Quantity(0.15, True),
            settle=0.0, samples=10)
    assert checks.judge(e, Series(T, vals)).verdict == PASS


def test_converges_fail_when_mean_off():
    vals = [120 * MiB] * len(T)
    e = exp("converges", target=Quantity(100 * MiB), tolerance=Quantity(0.15, True),
            settle=0.0, samples=10)
    r = checks.judge(e, Series(T, vals))
    assert r.verdict == FAIL
    assert r.numbers["error_pct"] == pytest.approx(20.0)
    assert "+20.0 %" in r.summary


def test_converges_absolute_tolerance():
    e = exp("converges", target=Quantity(100.0), tolerance=Quantity(5.0),
            settle=0.0, samples=3)
    assert checks.judge(e, Series([0, 1, 2], [105, 107, 106])).verdict == FAIL
    assert checks.judge(e, Series([0, 1, 2], [104, 96, 100])).verdict == PASS


def test_converges_too_few_samples_is_an_error():
    e = exp("converges", target=Quantity(1.0), tolerance=Quantity(0.1),
            settle=30.0, samples=10)
    r = checks.judge(e, Series(T, [1.0] * len(T)))
    assert r.verdict == ERROR and "only 6 samples" in r.summary


# ------------------------------------------------------- controls and errors

def test_negative_control_passes_when_check_fails():
    e = exp("reaches", at_least=Quantity(32 * MiB), within=30.0, should="fail")
    r = checks.judge(e, Series(T, [0.0] * len(T)))
    assert r.met is False and r.verdict == PASS
    r2 = checks.judge(e, Series(T, ramp(4, 64)))
    assert r2.met is True and r2.verdict == FAIL


def test_unreadable_samples_are_an_error():
    e = exp("stays", at_most=Quantity(1))
    assert checks.judge(e, Series([0, 1], [None, None])).verdict == ERROR
    r = checks.judge(e, Series([0, 1], [0.0, None]))
    assert r.verdict == ERROR and "1 of 2" in r.summary


def test_percentage_without_reference_is_an_error():
    e = exp("stays", at_most=Quantity(0.5, True))
    assert checks.judge(e, Series([0], [0.0])).verdict == ERROR


def test_scenario_verdict():
    e = exp("stays", at_most=Quantity(1))
    good = checks.judge(e, Series([0], [0.0]))
    bad = checks.judge(e, Series([0], [5.0]))
    err = checks.judge(e, Series([0], [None]))
    assert checks.scenario_verdict([good, good]) == PASS
    assert checks.scenario_verdict([good, bad]) == FAIL
    assert checks.scenario_verdict([bad, err]) == ERROR


def test_stays_until_ends_the_window():
    e = exp("stays", at_most=Quantity(1), until=10.0)
    values = [0.0] * 6 + [5.0] * (len(T) - 6)        # breaks the bound after 10 s
    assert checks.judge(e, Series(T, values)).verdict == PASS
    e.stays.until = None
    assert checks.judge(e, Series(T, values)).verdict == FAIL


def test_steps_are_judged_by_exit_status_and_should():
    from types import SimpleNamespace as NS
    steps = [NS(name="ok", action="run", should="succeed"),
             NS(name="refused", action="params", should="fail"),
             NS(name="accepted bad input", action="params", should="fail"),
             NS(name="never ran", action="run", should="succeed")]
    outcomes = [{"index": 0, "t": 1.0, "exit_code": 0},
                {"index": 1, "t": 2.0, "exit_code": 1, "output": "Invalid argument"},
                {"index": 2, "t": 2.0, "exit_code": 0}]
    results = checks.judge_steps(NS(steps=steps), outcomes)
    assert [r.verdict for r in results] == [PASS, PASS, FAIL, ERROR]
    assert "Invalid argument" in results[1].summary
