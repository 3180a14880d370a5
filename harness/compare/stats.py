"""Is a figure worse on the patched kernel than on the base one?

Repeated runs of each kernel give two samples of a figure. The call is made
with SciPy: a Mann-Whitney U test (no assumption of normality; TCG timing
is skewed) for significance, and a bootstrap confidence interval of the
difference of the medians for its size. A change is a REGRESSION or an
IMPROVEMENT only when it is both significant and at least the threshold;
otherwise NO CHANGE, which says the smallest change these runs could have
shown. Fewer than MIN_RUNS values on a side is NOT ENOUGH DATA.
"""

import math
import statistics
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence

REGRESSION, IMPROVEMENT, NO_CHANGE, NOT_ENOUGH = (
    "REGRESSION", "IMPROVEMENT", "NO CHANGE", "NOT ENOUGH DATA")
# A two-sided Mann-Whitney U test on 3 runs a side cannot go below p = 0.1
# (2 of the 20 orderings), so it could never call anything at p < 0.05; on
# 4 a side the smallest p is 2/70 = 0.029.
MIN_RUNS = 4
ALPHA = 0.05
THRESHOLD_PCT = 10.0
BOOTSTRAP_RESAMPLES = 2000
SEED = 20261124     # a fixed seed: the same runs always get the same call


@dataclass
class Call:
    call: str
    reason: str
    base_median: Optional[float] = None
    patched_median: Optional[float] = None
    change_pct: Optional[float] = None      # of the base median (None when it is 0)
    ci_low: Optional[float] = None          # 95 % CI of patched - base median
    ci_high: Optional[float] = None
    p_value: Optional[float] = None
    detectable: Optional[float] = None      # for NO CHANGE, in the figure's unit
    detectable_pct: Optional[float] = None  # the same, of the base median (None when it is 0)

    def to_dict(self) -> dict:
        return asdict(self)


def compare(base: Sequence[Optional[float]], patched: Sequence[Optional[float]], better: str,
            threshold_pct: float = THRESHOLD_PCT, alpha: float = ALPHA,
            resolution: float = 0.0) -> Call:
    """resolution: the smallest difference the figure's measurement can tell
    (a time to reach is known to one sample interval); a change of the
    medians below it is NO CHANGE however small the base median is."""
    a = [v for v in base if v is not None and math.isfinite(v)]
    b = [v for v in patched if v is not None and math.isfinite(v)]
    if min(len(a), len(b)) < MIN_RUNS:
        return Call(NOT_ENOUGH, f"{len(a)} base and {len(b)} patched values; "
                                f"need {MIN_RUNS} on each side")
    from scipy import stats
    med_a, med_b = statistics.median(a), statistics.median(b)
    p_value = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    low, high = _median_difference_ci(a, b)
    change = 100.0 * (med_b - med_a) / abs(med_a) if med_a else None
    call = Call(NO_CHANGE, "", med_a, med_b, change, low, high, p_value)
    worse = (med_b > med_a) if better == "lower" else (med_b < med_a)
    resolved = abs(med_b - med_a) >= resolution
    # From a base median of 0 any change is infinitely many per cent: the
    # threshold is met, and the resolution alone keeps noise out.
    big_enough = change is None or abs(change) >= threshold_pct
    if p_value < alpha and big_enough and resolved and med_a != med_b:
        call.call = REGRESSION if worse else IMPROVEMENT
        call.reason = (f"median {med_a:.4g} -> {med_b:.4g} ({_pct(change)}, threshold "
                       f"{threshold_pct:g} %), p = {p_value:.3g} < {alpha:g}")
        return call
    # Never less than the measurement can tell: a time known to one sample
    # interval cannot show a change smaller than that interval.
    call.detectable = max(abs(low), abs(high), resolution)
    call.detectable_pct = 100.0 * call.detectable / abs(med_a) if med_a else None
    why = (f"p = {p_value:.3g} >= {alpha:g}" if p_value >= alpha
           else f"{change:+.1f} % is under the {threshold_pct:g} % threshold"
           if not big_enough
           else f"{med_b - med_a:+.3g} is under the measurement's resolution "
                f"({resolution:g})")
    call.reason = (f"median {med_a:.4g} -> {med_b:.4g} ({_pct(change)}): {why}; these "
                   f"runs could show a change of about {could_show(call)}")
    return call


def _pct(change: Optional[float]) -> str:
    return f"{change:+.1f} %" if change is not None else "from 0"


def could_show(call: Call, shown=lambda value: f"{value:.3g}") -> str:
    """The smallest change a NO CHANGE's runs could have shown: a share of
    the base median, or, from a base median of 0, the difference itself
    (as `shown` writes a value of the figure's unit)."""
    if call.detectable_pct is not None:
        return f"{call.detectable_pct:.0f} %"
    return shown(call.detectable)


def _median_difference_ci(a: List[float], b: List[float]):
    """95 % bootstrap interval of median(b) - median(a)."""
    from scipy import stats
    if len(set(a)) == 1 and len(set(b)) == 1:
        diff = b[0] - a[0]
        return diff, diff
    result = stats.bootstrap((a, b), lambda x, y, axis=-1: _median(y, axis) - _median(x, axis),
                             n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=0.95,
                             method="percentile", vectorized=True,
                             random_state=SEED)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _median(x, axis):
    import numpy
    return numpy.median(x, axis=axis)


def compare_pass_rates(base: Sequence[bool], patched: Sequence[bool],
                       alpha: float = ALPHA) -> Call:
    """A scenario that passes on base and fails on patched more often than
    chance allows (Fisher's exact test) is a regression."""
    if min(len(base), len(patched)) < 1:
        return Call(NOT_ENOUGH, "no runs on a side")
    from scipy import stats
    table = [[sum(base), len(base) - sum(base)], [sum(patched), len(patched) - sum(patched)]]
    p_value = float(stats.fisher_exact(table).pvalue)
    rate_a, rate_b = sum(base) / len(base), sum(patched) / len(patched)
    text = f"pass rate {sum(base)}/{len(base)} -> {sum(patched)}/{len(patched)}, p = {p_value:.3g}"
    if p_value < alpha:
        return Call(REGRESSION if rate_b < rate_a else IMPROVEMENT, text, rate_a, rate_b,
                    p_value=p_value)
    return Call(NO_CHANGE, text, rate_a, rate_b, p_value=p_value)
