"""Numeric CLI flags refuse non-finite and out-of-range values at parse time."""

import pytest

from harness.cli import make_parser


def parse(*argv):
    return make_parser().parse_args(list(argv))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "x", ""])
def test_older_than_refuses(value, capsys):
    with pytest.raises(SystemExit) as exc:
        parse("cache", "prune", "--older-than", value)
    assert exc.value.code == 2 and "--older-than" in capsys.readouterr().err


def test_older_than_accepts_days():
    assert parse("cache", "prune", "--older-than", "0").older_than == 0
    assert parse("cache", "prune", "--older-than", "1.5").older_than == 1.5


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "soon"])
def test_boot_timeout_refuses(value, capsys):
    with pytest.raises(SystemExit) as exc:
        parse("boot", f"--timeout={value}")
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--timeout" in err and len(err.splitlines()) == 1


def test_boot_timeout_accepts_seconds():
    assert parse("boot", "--timeout", "2.5").timeout == 2.5
    assert parse("boot").timeout == 600
