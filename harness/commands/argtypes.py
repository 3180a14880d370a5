"""argparse types for bounded numbers: a value out of range is a usage
error (one line, exit 2) naming the flag, like every other bad input."""

import argparse
import math


def integer(low: int, high: int, what: str):
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"not a number of {what} from {low} to {high}: "
                                             f"{text}")
        return int(text)
    return parse


def positive_number(high: float, what: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 < value <= high:
            raise argparse.ArgumentTypeError(f"not {what} above 0: {text}")
        return value
    return parse


def kernel_parameter(text: str) -> str:
    from harness.errors import InputError
    from harness.schema import At, kernel_parameter as parameter
    try:
        return parameter(text, At(""))
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def flags_given(parser, args, keep) -> list:
    """The flags (or positional metavars) of `parser` whose value in `args`
    differs from the default, except the destinations in `keep`: for a mode
    like --report-only that takes no other input."""
    return [action.option_strings[0] if action.option_strings else action.metavar
            for action in parser._actions
            if action.dest not in set(keep) | {"help"}
            and getattr(args, action.dest, action.default) not in (action.default, [])]
