"""The judge: expectations on time series, each with the numbers that decided it.

Pure functions of a scenario and its samples; a live run and `damon-harness
judge RUN_DIR` both call judge_scenario(). A series is (times in seconds
since DAMON was turned on, values). An expectation is *met* or not; its
verdict is PASS when that matches what the scenario says it should be
(`should: fail` for negative controls), FAIL when not, ERROR when the series
cannot be judged.
"""

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from harness.rundir import RunFacts, Series
from harness.verdict import Verdict

PASS, FAIL, ERROR = Verdict.PASS, Verdict.FAIL, Verdict.ERROR


@dataclass
class CheckResult:
    name: str
    metric: str
    kind: str
    met: Optional[bool]            # None: could not be judged
    should: str = "pass"
    summary: str = ""              # one line with the deciding numbers
    numbers: Dict[str, float] = field(default_factory=dict)
    band: Dict[str, float] = field(default_factory=dict)  # for plots: lines and windows

    @property
    def verdict(self) -> Verdict:
        if self.met is None:
            return ERROR
        return PASS if self.met == (self.should == "pass") else FAIL


def scenario_verdict(results: Sequence[CheckResult]) -> Verdict:
    verdicts = [r.verdict for r in results]
    if ERROR in verdicts:
        return ERROR
    return FAIL if FAIL in verdicts else PASS


def readable_pairs(series: Series, delta: bool):
    """(time, value) of every readable sample; with delta, minus the first."""
    pairs = [(t, v) for t, v in zip(series.times, series.values) if v is not None]
    if delta and pairs:
        base = pairs[0][1]
        pairs = [(t, v - base) for t, v in pairs]
    return pairs


def _holds(value: float, bound: float, direction: str) -> bool:
    return value >= bound if direction == "at_least" else value <= bound


def _fmt(x: float, like: float = 0.0) -> str:
    """MiB when x or the number it is compared with is a MiB or more."""
    if max(abs(x), abs(like)) >= 1 << 20:
        return f"{x / (1 << 20):.1f} MiB"
    return f"{x:g}"


def _error(e, why: str) -> CheckResult:
    return CheckResult(e.name, e.metric, e.kind, None, e.should, f"cannot judge: {why}")


def reaches(times, values, bound: float, direction: str, within: float,
            since: float = 0.0) -> CheckResult:
    """Met if some sample after `since` s, and at most `within` s after it,
    satisfies the bound."""
    window = [(t, v) for t, v in zip(times, values) if since <= t <= since + within]
    if not window:
        return CheckResult("", "", "reaches", None, summary="no sample inside the window")
    hit = next(((t, v) for t, v in window if _holds(v, bound, direction)), None)
    best = max(v for _, v in window) if direction == "at_least" else min(v for _, v in window)
    word = ">=" if direction == "at_least" else "<="
    nums = {"bound": bound, "within": within, "best": best,
            "last_time": window[-1][0]}
    if since:
        nums["since"] = since
    if hit:
        nums["reached_at"] = hit[0]
        after = f", {hit[0] - since:.1f} s after the step" if since else ""
        text = (f"reached {_fmt(hit[1], bound)} {word} {_fmt(bound)} at {hit[0]:.1f} s"
                f"{after} (limit {within:g} s)")
    else:
        text = (f"best {_fmt(best, bound)}, never {word} {_fmt(bound)} within {within:g} s "
                f"(last sample at {window[-1][0]:.1f} s)")
    return CheckResult("", "", "reaches", hit is not None, summary=text, numbers=nums,
                       band={"bound": bound, "until": since + within})


def stays(times, values, bound: float, direction: str, after: float = 0.0,
          until: float = math.inf) -> CheckResult:
    """Met if every sample from `after` s to `until` s satisfies the bound."""
    window = [(t, v) for t, v in zip(times, values) if after <= t <= until]
    if not window:
        return CheckResult("", "", "stays", None, summary="no sample inside the window")
    bad = [(t, v) for t, v in window if not _holds(v, bound, direction)]
    pick = max if direction == "at_most" else min
    worst_t, worst = pick(window, key=lambda tv: tv[1])
    word = "<=" if direction == "at_most" else ">="
    nums = {"bound": bound, "worst": worst, "worst_at": worst_t,
            "violations": len(bad), "samples": len(window)}
    if bad:
        text = (f"{len(bad)}/{len(window)} samples broke {word} {_fmt(bound)}; "
                f"first at {bad[0][0]:.1f} s, worst {_fmt(worst, bound)} at {worst_t:.1f} s")
    else:
        text = f"all {len(window)} samples {word} {_fmt(bound)} (worst {_fmt(worst, bound)})"
    return CheckResult("", "", "stays", not bad, summary=text, numbers=nums,
                       band={"bound": bound, "from": after})


def converges(times, values, target: float, tolerance: float, settle: float,
              samples: int) -> CheckResult:
    """Met if the mean of the last `samples` samples after `settle` s lies
    within `tolerance` of `target`. The spread is reported, not judged."""
    window = [(t, v) for t, v in zip(times, values) if t >= settle][-samples:]
    if len(window) < samples:
        return CheckResult("", "", "converges", None,
                           summary=f"only {len(window)} samples after settle, need {samples}")
    vals = [v for _, v in window]
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
    err = mean - target
    nums = {"mean": mean, "stdev": sd, "min": min(vals), "max": max(vals),
            "target": target, "tolerance": tolerance, "error": err,
            "error_pct": 100.0 * err / target if target else float("nan"),
            "samples": len(vals), "from": window[0][0]}
    ok = abs(err) <= tolerance
    text = (f"mean {_fmt(mean, target)} ± {_fmt(sd, target)} over {len(vals)} samples from "
            f"{window[0][0]:.1f} s; target {_fmt(target)} ± {_fmt(tolerance)} "
            f"(off by {nums['error_pct']:+.1f} %)")
    return CheckResult("", "", "converges", ok, summary=text, numbers=nums,
                       band={"target": target, "lower": target - tolerance,
                             "upper": target + tolerance, "from": window[0][0]})


def judge_scenario(sc, series: Dict[str, Series], facts: RunFacts,
                   steps: Sequence[dict] = ()) -> List[CheckResult]:
    """Every step and expectation of scenario `sc`, judged on what the run
    recorded: the steps' outcomes and the sampled series."""
    step_times = {o["name"]: (o["t"], o.get("t_end", o["t"])) for o in steps}
    return [judge(e, series.get(e.metric, Series([], [])),
                  sc.reference_size(sc.sample.metrics[e.metric], facts), step_times)
            for e in sc.expect] + judge_steps(sc, steps)


def judge_steps(sc, outcomes: Sequence[dict]) -> List[CheckResult]:
    """A step is met when its command exited 0; `should: fail` steps are
    the ones the kernel must refuse."""
    done = {o["index"]: o for o in outcomes}
    return [_step_check(step, done.get(i)) for i, step in enumerate(sc.steps)]


def _step_check(step, outcome: Optional[dict]) -> CheckResult:
    should = "pass" if step.should == "succeed" else "fail"
    if outcome is None:
        return CheckResult(step.name, "", "step", None, should,
                           "cannot judge: the step never ran")
    met = outcome["exit_code"] == 0
    how = "succeeded" if met else f"failed (exit {outcome['exit_code']}: " \
                                  f"{outcome.get('output') or 'no output'})"
    return CheckResult(step.name, "", "step", met, should,
                       f"{step.action} at {outcome['t']:.1f} s {how}; it should {step.should}",
                       numbers={"exit_code": outcome["exit_code"], "t": outcome["t"]})


def judge(e, series: Series, reference: Optional[float] = None,
          step_times: Optional[Dict[str, tuple]] = None) -> CheckResult:
    """Judge one expectation. `reference` is what its percentages refer to."""
    pairs = readable_pairs(series, e.delta)
    if not pairs:
        return _error(e, "no readable sample of the metric")
    if len(pairs) < len(series.values):
        missing = len(series.values) - len(pairs)
        return _error(e, f"{missing} of {len(series.values)} samples were unreadable")
    times, values = [p[0] for p in pairs], [p[1] for p in pairs]
    try:
        result = _dispatch(e, times, values, reference, step_times or {})
    except ValueError as exc:
        return _error(e, str(exc))
    result.name, result.metric, result.should = e.name, e.metric, e.should
    return result


def _bound(rule, reference: Optional[float]):
    direction = "at_least" if rule.at_least is not None else "at_most"
    return getattr(rule, direction).resolve(reference), direction


def _dispatch(e, times, values, reference, step_times) -> CheckResult:
    rule = e.rule
    if e.kind == "converges":
        target = rule.target.resolve(reference)
        tol = rule.tolerance.value
        tol = tol * abs(target) if rule.tolerance.fraction else tol
        return converges(times, values, target, tol, rule.settle, rule.samples)
    bound, direction = _bound(rule, reference)
    if e.kind == "reaches":
        since = _step_time(rule.after_step, step_times, 1) if rule.after_step else 0.0
        return reaches(times, values, bound, direction, rule.within, since)
    after, until = _stays_window(rule, step_times)
    return stays(times, values, bound, direction, after, until)


def _step_time(name: str, step_times, which: int) -> float:
    """When step `name` began (which=0) or ended (which=1)."""
    if name not in step_times:
        raise ValueError(f"step {name!r} never ran")
    return step_times[name][which]


def _stays_window(rule, step_times) -> tuple:
    """[after, until] in seconds, narrowed by the steps it names: after the
    end of after_step, before the start of until_step."""
    after = rule.after
    until = math.inf if rule.until is None else rule.until
    if rule.after_step is not None:
        after = max(after, _step_time(rule.after_step, step_times, 1))
    if rule.until_step is not None:
        until = min(until, _step_time(rule.until_step, step_times, 0))
    return after, until
