"""The bisection itself: prefixes of a series, the search, the ends checked,
and how sure it says it is. Each step's judge here is a table of which
prefixes are good; the real judges boot guests (tests/e2e)."""

import pytest

from harness import bisect
from harness.errors import InputError
from harness.kernel import patches as kpatches

DIFF = b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"


def series(n):
    return [kpatches.Patch(f"{i:04d}-change-{i}.patch", DIFF + str(i).encode())
            for i in range(1, n + 1)]


def judge_from(first_bad, votes_per_step=3, split_at=None):
    def judge(count):
        good = count < first_bad
        votes = [good] * votes_per_step
        if count == split_at:
            votes[0] = not good
        return bisect.Step(count, good, votes, [f"{count} patches"])
    return judge


@pytest.mark.parametrize("n,first_bad", [(1, 1), (3, 2), (3, 3), (7, 1), (7, 5), (8, 8)])
def test_the_first_bad_patch_is_found(n, first_bad):
    result = bisect.bisect(series(n), judge_from(first_bad), echo=lambda _: None)
    assert result.first_bad == first_bad
    assert result.patch == f"{first_bad:04d}-change-{first_bad}.patch"
    assert [s.applied for s in result.steps][:2] == [0, n]


def test_a_good_end_that_is_not_good_is_refused():
    with pytest.raises(InputError, match="good end"):
        bisect.bisect(series(3), judge_from(0), echo=lambda _: None)


def test_a_bad_end_that_is_good_is_refused():
    with pytest.raises(InputError, match="nothing to bisect"):
        bisect.bisect(series(3), judge_from(4), echo=lambda _: None)


def test_split_votes_make_it_unsure():
    result = bisect.bisect(series(3), judge_from(2, split_at=1), echo=lambda _: None)
    assert "not sure" in bisect.confidence(result) and "1 patches (2/3 good)" in \
        bisect.confidence(result)
    sure = bisect.bisect(series(3), judge_from(2), echo=lambda _: None)
    assert bisect.confidence(sure).startswith("every step was unanimous (3 run(s) each)")


def test_a_prefix_directory_applies_in_order(tmp_path):
    path = bisect.write_prefix(series(3), 2, tmp_path)
    loaded = kpatches.load(str(path))
    assert [p.data for p in loaded] == [p.data for p in series(3)[:2]]
