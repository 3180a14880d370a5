"""Parsing of human sizes such as 1G, 512M, 2GiB."""

import re

U64_MAX = (1 << 64) - 1
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*([-+]?)(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
# More digits than this is more than 2^64-1 whatever the unit (and int() of
# thousands of digits is refused by Python itself).
_MAX_DIGITS = 21


def parse_size(value, minimum: int = 0) -> int:
    """Bytes from an int or a string like '1G', '512MiB'. ValueError if bad.

    A size is a whole number of bytes in minimum..2^64-1 (0 is allowed by
    default: a quota of 0 bytes means "no quota").
    """
    nbytes = _bytes_of(value)
    if nbytes < 0:
        raise ValueError(f"{_shown(value)} is negative")
    if nbytes > U64_MAX:
        raise ValueError(f"{_shown(value)} is more than 2^64-1 bytes")
    if nbytes < minimum:
        need = "positive" if minimum == 1 else f"at least {format_size(minimum)}"
        raise ValueError(f"{_shown(value)} is too small: the size must be {need}")
    return nbytes


def _bytes_of(value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a size: {value!r} (use a whole number of bytes or e.g. 1G)")
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 1G or 512M)")
    sign, digits, unit = match.group(1), match.group(2).lstrip("0"), match.group(3)
    if len(digits) > _MAX_DIGITS:
        return U64_MAX + 1 if sign != "-" else -1
    number = int(digits or "0") * _UNITS[unit.lower()]
    return -number if sign == "-" else number


def _shown(value) -> str:
    return value.strip() if isinstance(value, str) else repr(value)


def format_size(nbytes: int) -> str:
    for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes >= div and nbytes % div == 0:
            return f"{nbytes // div}{unit}"
    return str(nbytes)
