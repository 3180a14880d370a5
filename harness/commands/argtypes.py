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
