"""The calls a comparison makes on repeated runs' figures (SciPy underneath)."""

import pytest

from harness.compare import stats


def test_a_clear_slowdown_is_a_regression_with_its_numbers():
    base = [2.0, 2.1, 1.9, 2.2, 2.0]
    patched = [8.0, 8.4, 7.9, 8.2, 8.1]
    call = stats.compare(base, patched, "lower")
    assert call.call == stats.REGRESSION
    assert call.change_pct == pytest.approx(305.0)     # median 2.0 -> 8.1
    assert call.p_value < 0.05 and call.ci_low > 0
    assert "threshold 10 %" in call.reason


def test_the_same_change_the_other_way_is_an_improvement():
    call = stats.compare([8.0, 8.4, 7.9, 8.2, 8.1], [2.0, 2.1, 1.9, 2.2, 2.0], "lower")
    assert call.call == stats.IMPROVEMENT
    assert stats.compare([8.0, 8.4, 7.9, 8.2, 8.1], [2.0, 2.1, 1.9, 2.2, 2.0],
                         "higher").call == stats.REGRESSION


def test_noise_is_no_change_and_says_what_could_have_been_seen():
    base = [2.0, 3.1, 1.8, 2.6, 2.2]
    patched = [2.4, 1.9, 2.9, 2.1, 2.5]
    call = stats.compare(base, patched, "lower")
    assert call.call == stats.NO_CHANGE
    assert call.detectable_pct > 0 and "could show" in call.reason


def test_a_significant_but_small_change_is_no_change():
    base = [10.0, 10.01, 10.02, 10.03, 10.04]
    patched = [10.5, 10.51, 10.52, 10.53, 10.54]
    call = stats.compare(base, patched, "lower")
    assert call.call == stats.NO_CHANGE and "under the 10 % threshold" in call.reason


def test_too_few_values_is_not_enough_data():
    assert stats.compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], "lower").call == \
        stats.NOT_ENOUGH
    assert stats.compare([1.0, None, None, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], "lower").call == \
        stats.NOT_ENOUGH


def test_three_runs_a_side_could_never_reach_significance():
    from scipy import stats as sst
    assert sst.mannwhitneyu([1, 2, 3], [7, 8, 9]).pvalue >= 0.05
    assert sst.mannwhitneyu([1, 2, 3, 4], [7, 8, 9, 10]).pvalue < 0.05


def test_identical_constant_runs_are_no_change():
    call = stats.compare([5.0] * 5, [5.0] * 5, "lower")
    assert call.call == stats.NO_CHANGE and call.ci_low == call.ci_high == 0


def test_the_call_is_reproducible():
    base, patched = [2.0, 2.5, 1.9, 2.2, 2.4], [2.6, 2.9, 2.4, 3.0, 2.7]
    assert stats.compare(base, patched, "lower") == stats.compare(base, patched, "lower")


def test_pass_rates():
    assert stats.compare_pass_rates([True] * 5, [False] * 5).call == stats.REGRESSION
    assert stats.compare_pass_rates([True] * 5, [True, True, True, False, True]).call == \
        stats.NO_CHANGE


def test_a_change_under_the_measurements_resolution_is_no_change():
    """Self-comparison 3: a spread of about 0.07 % on base and 0.03 % on the
    same kernel, every run separated: significant and -52 %, but far under the
    1-point resolution of a percentage figure."""
    base = [0.0715, 0.0381, 0.0802, 0.0690, 3.59]
    patched = [0.0341, 0.0, 0.0476, 0.0301, 0.0320]
    unresolved = stats.compare(base, patched, "lower", resolution=0.0)
    assert unresolved.call == "IMPROVEMENT"
    call = stats.compare(base, patched, "lower", resolution=1.0)
    assert call.call == "NO CHANGE" and "resolution (1)" in call.reason
    assert stats.compare([2.1, 2.2, 2.1, 2.2, 2.1], [12.1, 13.2, 11.2, 12.3, 12.1], "lower",
                   resolution=1.0).call == "REGRESSION"


def test_each_unit_has_its_resolution():
    from types import SimpleNamespace
    from harness.compare.analysis import resolution
    sc = SimpleNamespace(sample=SimpleNamespace(interval=2.0))
    assert resolution(sc, "s") == 2.0 and resolution(sc, "%") == 1.0
    assert resolution(sc, "bytes") == 4096 and resolution(sc, "") == 0.0


def test_what_no_change_could_show_is_never_under_the_resolution():
    """Demotion times spread 6.16-6.18 s, but samples are 2 s apart: these
    runs could not have shown a change under 2 s (32 %), not 0 %."""
    base = [6.16, 6.17, 6.18, 6.16, 6.17]
    patched = [6.17, 6.16, 6.18, 6.17, 6.16]
    call = stats.compare(base, patched, "lower", resolution=2.0)
    assert call.call == stats.NO_CHANGE
    assert call.detectable == 2.0 and call.detectable_pct == pytest.approx(32.4, abs=0.1)
    assert "could show a change of about 32 %" in call.reason


def test_a_base_median_of_zero_gives_no_percentages():
    same = stats.compare([0.0] * 5, [0.0, 0.0, 1.0, 0.0, 0.0], "lower", resolution=1.0)
    assert same.call == stats.NO_CHANGE and same.change_pct is None
    assert same.detectable_pct is None and same.detectable == 1.0
    assert "(from 0)" in same.reason and "could show a change of about 1" in same.reason
    grown = stats.compare([0.0] * 5, [5.0, 6.0, 5.0, 7.0, 6.0], "lower", resolution=1.0)
    assert grown.call == stats.REGRESSION and grown.change_pct is None
