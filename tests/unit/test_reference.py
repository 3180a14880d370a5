"""Setting our figures beside published numbers: each kind of comparison
gives REPRODUCED, DIFFERS or NOT COMPARABLE, with the reason."""

from harness.reference import (DIFFERS, NOT_COMPARABLE, REPRODUCED, Comparison, Published,
                               Reference, Source, judge_reference)


def reference(compare, published=None, scale_factor=1.0):
    published = published or {
        "never": Published(0.0, "MiB"), "madvise": Published(190.0, "MiB"),
        "collapse": Published(188.0, "MiB"), "a-error": Published(6.5, "%"),
        "slow": Published(40.0, "s"), "fast": Published(2.0, "s")}
    return Reference(Source("x@y", "linux-mm", ["A"], "2026-01-01"), "setup", published,
                     "1:1", scale_factor, {n: "fig" for n in published}, compare)


def verdict(comparison, medians, **kw):
    outcome = judge_reference(reference([comparison], **kw), medians)[0]
    return outcome.verdict, outcome.reason


def test_an_order_is_kept_or_not():
    c = Comparison("order", ["fast", "slow"])
    assert verdict(c, {"fast": 1.5, "slow": 30.0})[0] == REPRODUCED
    v, why = verdict(c, {"fast": 31.0, "slow": 30.0})
    assert v == DIFFERS and "theirs fast < slow; ours slow < fast" in why


def test_a_ratio_is_taken_after_the_scale_and_in_the_same_units():
    c = Comparison("ratio", ["collapse"], within=20.0)
    assert verdict(c, {"collapse": 188 * (1 << 20) / 4}, scale_factor=0.25)[0] == REPRODUCED
    assert verdict(c, {"collapse": 188 * (1 << 20) / 2}, scale_factor=0.25)[0] == DIFFERS


def test_a_ratio_to_zero_is_not_comparable():
    c = Comparison("ratio", ["never"], within=20.0)
    assert verdict(c, {"never": 0.0})[0] == NOT_COMPARABLE


def test_points_bounds_and_missing_values():
    assert verdict(Comparison("points", ["a-error"], within=5.0), {"a-error": 9.0})[0] == \
        REPRODUCED
    assert verdict(Comparison("points", ["a-error"], within=5.0), {"a-error": 12.0})[0] == \
        DIFFERS
    assert verdict(Comparison("at_most", ["never"], bound=0.0), {"never": 0.0})[0] == REPRODUCED
    assert verdict(Comparison("at_most", ["never"], bound=0.0), {"never": 2.0})[0] == DIFFERS
    v, why = verdict(Comparison("at_least", ["slow"], bound=1.0), {"slow": None})
    assert v == NOT_COMPARABLE and "slow" in why
