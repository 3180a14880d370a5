"""Find the first patch of a series that turns a good kernel bad.

Each step builds a prefix of the series (the build tree is incremental, so
a step costs the changed files and a link) and asks a criterion whether that
kernel is good, `repeat` times; the majority decides and the tally is kept.
Both ends are checked first: with no patches the kernel must be good, with
all of them bad.
"""

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Sequence, Union

from harness.errors import InputError
from harness.kernel import patches as kpatches


@dataclass
class Step:
    applied: Union[int, str]    # how many patches of the series, or the commit
    good: bool
    votes: List[bool]       # one per repeat: good?
    notes: List[str] = field(default_factory=list)
    build_s: float = 0.0
    run_s: float = 0.0

    @property
    def unanimous(self) -> bool:
        return len(set(self.votes)) == 1


@dataclass
class Bisection:
    first_bad: Union[int, str]  # 1-based index into the series, or the commit
    patch: str
    steps: List[Step]

    def to_dict(self) -> dict:
        return {"first_bad": self.first_bad, "patch": self.patch,
                "steps": [{**asdict(s), "unanimous": s.unanimous} for s in self.steps]}


def write_prefix(patches: Sequence[kpatches.Patch], count: int, root: Path) -> Path:
    """A patch directory holding the first `count` patches, in order."""
    path = root / f"prefix-{count}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    names = []
    for i, patch in enumerate(patches[:count], 1):
        name = f"{i:04d}-{Path(patch.name).name}"
        (path / name).write_bytes(patch.data)
        names.append(name)
    (path / "series").write_text("".join(n + "\n" for n in names))
    return path


def bisect(patches: Sequence[kpatches.Patch], judge: Callable[[int], Step],
           echo=print) -> Bisection:
    """judge(count) -> Step for the kernel with the first `count` patches."""
    steps = []

    def step(count: int) -> Step:
        steps.append(judge(count))
        tally = f"{sum(steps[-1].votes)}/{len(steps[-1].votes)} good"
        echo(f"bisect: {count} of {len(patches)} patches: "
             f"{'good' if steps[-1].good else 'bad'} ({tally})")
        return steps[-1]

    require_ends(step, (0, "no patches of the series"),
                 (len(patches), f"all {len(patches)} patches"))
    good, bad = 0, len(patches)
    while bad - good > 1:
        middle = (good + bad) // 2
        if step(middle).good:
            good = middle
        else:
            bad = middle
    return Bisection(bad, patches[bad - 1].name, steps)


def require_ends(step: Callable[[object], Step], good_end: tuple, bad_end: tuple) -> None:
    """Test both ends, each (key, name), through step(key); InputError unless
    the good end is good and the bad end bad, since a bisection between two
    ends that agree would name an arbitrary patch."""
    _require_end(step(good_end[0]), True, good_end[1])
    _require_end(step(bad_end[0]), False, bad_end[1])


def _require_end(end: Step, should_be_good: bool, name: str) -> None:
    """InputError unless the good end is good (the bad end bad)."""
    if should_be_good and not end.good:
        raise InputError("bisect", f"the good end ({name}) is not good "
                                   f"({end.notes[-1] if end.notes else 'bad'})")
    if not should_be_good and end.good:
        raise InputError("bisect", f"the bad end ({name}) is good: nothing to bisect")


def confidence(result: Bisection) -> str:
    split = [s for s in result.steps if not s.unanimous]
    if not split:
        runs = min(len(s.votes) for s in result.steps)
        return (f"every step was unanimous ({runs} run(s) each)" +
                ("; one run per step cannot tell flakiness: use --repeat 3" if runs == 1
                 else ""))
    where = ", ".join(f"{s.applied} patches ({sum(s.votes)}/{len(s.votes)} good)"
                      for s in split)
    return f"not sure: split votes at {where}; run again with a larger --repeat"


def timed(action):
    started = time.monotonic()
    value = action()
    return value, round(time.monotonic() - started, 1)
