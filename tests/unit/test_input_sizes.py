"""parse_size: whole, non-negative byte counts that fit in 64 bits."""

import math

import pytest

from harness.units import U64_MAX, format_size, parse_size


@pytest.mark.parametrize("raw, nbytes", [
    (0, 0), ("0", 0), (4096, 4096), ("1G", 1 << 30), ("512MiB", 512 << 20), ("2kb", 2048),
    (" 3 T ", 3 << 40), (U64_MAX, U64_MAX), (str(U64_MAX), U64_MAX), ("+1M", 1 << 20),
])
def test_good_sizes(raw, nbytes):
    assert parse_size(raw) == nbytes


@pytest.mark.parametrize("raw, words", [
    (-5, "-5 is negative"),
    ("-5", "-5 is negative"),
    ("-1G", "-1G is negative"),
    ("99999999999999999999T", "99999999999999999999T is more than 2^64-1 bytes"),
    ("9" * 5000, "is more than 2^64-1 bytes"),
    (U64_MAX + 1, "is more than 2^64-1 bytes"),
    (True, "not a size: True"),
    (1.5, "not a size: 1.5"),
    (1024.0, "not a size: 1024.0"),
    (math.nan, "not a size: nan"),
    (math.inf, "not a size: inf"),
    ("nan", "not a size: 'nan'"),
    ("1.5G", "not a size"),
    (None, "not a size: None"),
    ([1], "not a size: [1]"),
])
def test_bad_sizes_say_what_is_wrong(raw, words):
    with pytest.raises(ValueError) as err:
        parse_size(raw)
    assert words in str(err.value)


def test_minimum():
    assert parse_size(0) == 0 and parse_size("1", minimum=1) == 1
    with pytest.raises(ValueError, match="0 is too small: the size must be positive"):
        parse_size(0, minimum=1)
    with pytest.raises(ValueError, match="1M is too small: the size must be at least 2M"):
        parse_size("1M", minimum=2 << 20)


def test_format_size():
    assert [format_size(n) for n in (1 << 30, 3 << 20, 3072, 1536)] == ["1G", "3M", "3K", "1536"]
