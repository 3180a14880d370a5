"""A scenario's `reference:` block: a result published on a mailing list
that the scenario reproduces, and how to set ours beside it.

It names the source (message-id, list, authors, date), the published setup
in words, the published numbers (value, unit, spread, the condition each
belongs to), how our run maps onto theirs (a scale in words, and which of
our figures stands for which of their numbers), and the comparisons to
make:
  order   our figures stand in the same order as their numbers (A < B < C)
  ratio   our figure is within `within` % of theirs (after `scale_factor`)
  points  our figure, a percentage, is within `within` points of theirs
  at_most / at_least   our figure against a bound the published result
          implies (0 huge pages; the hot memory all on the fast node)
Everything is validated with the scenario: a mapping to a figure the
scenario does not give, or a comparison of an unknown kind, is refused
before anything runs.
"""

import datetime
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from harness.schema import (At, choice, integer, key, list_of, map_of, model, number, shown,
                            text)

UNITS = ("GiB", "MiB", "KiB", "bytes", "huge pages", "%", "s", "ms", "count",
         "accesses/ms", "TPS")
KINDS = ("order", "ratio", "points", "at_most", "at_least")
_MESSAGE_ID = re.compile(r"^[^\s<>@]+@[^\s<>@]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _message_id(raw, at: At, ctx=None) -> str:
    value = text(raw, at).strip().strip("<>")
    if not _MESSAGE_ID.match(value):
        raise at.error(f"{shown(raw)} is not a message-id (local@domain)")
    return value


def _date(raw, at: At, ctx=None) -> str:
    if isinstance(raw, datetime.date):     # YAML reads an unquoted 2024-01-17 as a date
        return raw.isoformat()
    value = text(raw, at)
    if not _DATE.match(value):
        raise at.error(f"{shown(raw)} is not a date (YYYY-MM-DD)")
    return value


def _url(raw, at: At, ctx=None) -> str:
    value = text(raw, at)
    if not value.startswith(("https://", "http://")):
        raise at.error(f"{shown(raw)} is not an http(s) URL")
    return value


def _point(raw, at: At, ctx=None) -> Tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise at.error(f"{shown(raw)} is not a [seconds, value] pair")
    return number(0, 1e9)(raw[0], at / 0), number(-1e18, 1e18)(raw[1], at / 1)


def _words(raw, at: At, ctx=None) -> str:
    value = text(raw, at).strip()
    if not value:
        raise at.error("must not be empty")
    return value


@dataclass
class Source:
    message_id: str = key(_message_id, required=True)
    list: str = key(_words, required=True)
    authors: List[str] = key(list_of(_words, allow_empty=False, scalar_ok=True),
                             required=True)
    date: str = key(_date, required=True)
    subject: str = key(_words, default="")
    url: str = key(_url, default="")


@dataclass
class Published:
    value: float = key(number(-1e18, 1e18), required=True)
    unit: str = key(choice(*UNITS), required=True)
    condition: str = key(_words, default="")
    spread: Optional[float] = key(number(0, 1e18))     # a standard deviation, same unit
    samples: Optional[int] = key(integer(1, 10 ** 6))   # how many values the mean is of
    # A published series, [seconds, value] in the same unit: drawn on the plot.
    points: List[Tuple[float, float]] = key(list_of(_point), factory=list)
    name: str = ""


@dataclass
class Comparison:
    kind: str = key(choice(*KINDS), required=True)
    of: List[str] = key(list_of(_words, allow_empty=False, scalar_ok=True), required=True)
    within: Optional[float] = key(number(0, 1e6))
    bound: Optional[float] = key(number(-1e18, 1e18))
    note: str = key(_words, default="")     # what may explain a DIFFERS: said beside it

    def validate(self, at: At, ctx) -> None:
        if self.kind == "order" and len(self.of) < 2:
            raise (at / "of").error("an order needs at least two published numbers")
        if self.kind != "order" and len(self.of) != 1:
            raise (at / "of").error(f"a {self.kind} comparison is of one published number")
        needs = {"ratio": "within", "points": "within", "at_most": "bound",
                 "at_least": "bound"}.get(self.kind)
        if needs and getattr(self, needs) is None:
            raise at.error(f"a {self.kind} comparison needs {needs}")


@dataclass
class Reference:
    source: Source = key(model(Source), required=True)
    setup: str = key(_words, required=True)
    published: Dict[str, Published] = key(map_of(model(Published), allow_empty=False),
                                          required=True)
    scale: str = key(_words, default="1:1")             # how our setup maps onto theirs
    scale_factor: float = key(number(1e-9, 1e9), default=1.0)   # ours = theirs x this
    mapping: Dict[str, str] = key(map_of(_words, allow_empty=False), required=True)
    compare: List[Comparison] = key(list_of(model(Comparison), allow_empty=False),
                                    required=True)
    runs: int = key(integer(1, 100), default=1)     # how many runs a reproduction takes

    def validate(self, at: At, ctx) -> None:
        from harness.compare.figures import figure_names_of
        ours = ctx.extra.get("figure_names") or \
            figure_names_of(ctx.lookup("expect", []), ctx.lookup("figures", []))
        for theirs, figure in self.mapping.items():
            if theirs not in self.published:
                raise (at / "mapping" / theirs).error(
                    f"no published number {theirs!r} (published has: "
                    f"{', '.join(self.published)})")
            if figure not in ours:
                raise (at / "mapping" / theirs).error(
                    f"the scenario gives no figure {figure!r} (it gives: "
                    f"{'; '.join(ours) or 'none'})")
        for i, comparison in enumerate(self.compare):
            for name in comparison.of:
                if name not in self.mapping:
                    raise (at / "compare" / i / "of").error(
                        f"{name!r} is not mapped to one of our figures (mapping has: "
                        f"{', '.join(self.mapping)})")


# ------------------------------------------------------------------ verdicts

REPRODUCED, DIFFERS, NOT_COMPARABLE = "REPRODUCED", "DIFFERS", "NOT COMPARABLE"
# Published units in the harness's own: sizes in bytes, times in seconds.
# A huge page is x86's PMD size, 2 MiB.
TO_BASE = {"GiB": float(1 << 30), "MiB": float(1 << 20), "KiB": 1024.0, "ms": 0.001,
           "huge pages": float(2 << 20)}


@dataclass
class Outcome:
    comparison: Comparison
    verdict: str
    reason: str


def theirs_in_base_units(published: Published) -> float:
    return published.value * TO_BASE.get(published.unit, 1.0)


def judge_reference(ref: Reference, medians: Dict[str, Optional[float]]) -> List[Outcome]:
    """Each comparison's verdict, from the median of our runs for each mapped
    published name (None when our runs gave no value)."""
    return [_judge(ref, c, medians) for c in ref.compare]


def _judge(ref: Reference, c: Comparison, medians) -> Outcome:
    missing = [name for name in c.of if medians.get(name) is None]
    if missing:
        return Outcome(c, NOT_COMPARABLE, f"our runs gave no value for {', '.join(missing)}")
    ours = [medians[name] for name in c.of]
    theirs = [theirs_in_base_units(ref.published[name]) for name in c.of]
    if c.kind == "order":
        return _order(c, ours, theirs)
    mine, published = ours[0], theirs[0]
    if c.kind == "ratio":
        if published == 0:
            return Outcome(c, NOT_COMPARABLE, "their number is 0: no ratio")
        ratio = mine / (published * ref.scale_factor)
        held = abs(ratio - 1) * 100 <= c.within
        return Outcome(c, REPRODUCED if held else DIFFERS,
                       f"ours / theirs x {ref.scale_factor:g} = {ratio:.3g} "
                       f"({'within' if held else 'outside'} ±{c.within:g} %)")
    if c.kind == "points":
        gap = mine - published
        held = abs(gap) <= c.within
        return Outcome(c, REPRODUCED if held else DIFFERS,
                       f"ours {mine:.3g} vs theirs {published:.3g}: {gap:+.3g} points "
                       f"({'within' if held else 'outside'} ±{c.within:g})")
    held = mine <= c.bound if c.kind == "at_most" else mine >= c.bound
    word = "<=" if c.kind == "at_most" else ">="
    unit = ref.published[c.of[0]].unit
    return Outcome(c, REPRODUCED if held else DIFFERS,
                   f"ours {_shown(mine, unit)} {word if held else 'not ' + word} "
                   f"{_shown(c.bound, unit)}")


SIZE_UNITS = ("GiB", "MiB", "KiB", "bytes", "huge pages")


def _shown(value: float, unit: str) -> str:
    """A value in the harness's base units, in MiB when it is a size."""
    from harness.compare.figures import shown
    return shown(value, "bytes" if unit in SIZE_UNITS else "")


def _order(c: Comparison, ours: List[float], theirs: List[float]) -> Outcome:
    def ranking(values):
        return sorted(range(len(values)), key=lambda i: values[i])
    if len(set(theirs)) < len(theirs):
        return Outcome(c, NOT_COMPARABLE, "their numbers tie: no order to keep")
    tie = len(set(ours)) < len(ours)
    held = ranking(ours) == ranking(theirs) and not tie
    order = " < ".join(c.of[i] for i in ranking(theirs))
    mine = " < ".join(c.of[i] for i in ranking(ours))
    return Outcome(c, REPRODUCED if held else DIFFERS,
                   f"theirs {order}; ours {mine}" + (" (ours tie)" if tie else ""))
