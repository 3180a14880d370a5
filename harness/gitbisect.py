"""Bisect a git range of a user's tree with `git bisect run`.

The user's repository is never touched: the bisection runs in a clone kept
in the cache (one per tree, so its build work copy stays incremental from
one bisect to the next), `git bisect run` checks out each commit there and
runs `python -m harness.gitbisect OUT` (step_main), which builds that
checkout and asks the criterion. Both ends are tested first, as for a series; a commit that does
not build is skipped (exit 125), as `git bisect run` expects.
"""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

from harness.cache import mark_used
from harness.errors import HostError, InputError
from harness.kernel.source import git
from harness.paths import cache_dir

SKIP = 125          # git bisect run: this commit cannot be tested
ABORT = 128         # git bisect run: anything above 127 stops the bisection
STEP_REQUEST = "step-request.json"


def check_range(tree: str, good: str, bad: str) -> Tuple[str, str]:
    """(good commit, bad commit), or InputError naming the flag at fault."""
    if tree is None:
        raise InputError("--good", "a git range needs --source, the git tree it is in")
    path = Path(tree).expanduser()
    if not (path / ".git").exists():
        raise InputError("--source", f"{tree} is not a git tree (no .git); --good/--bad "
                                     f"name commits in one")
    commits = []
    for flag, rev in (("--good", good), ("--bad", bad)):
        proc = git(path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            raise InputError(flag, f"{rev!r} is no commit in {tree}")
        commits.append(proc.stdout.strip())
    if commits[0] == commits[1]:
        raise InputError("--bad", "is the same commit as --good: nothing to bisect")
    if git(path, "merge-base", "--is-ancestor", *commits, check=False).returncode != 0:
        raise InputError("--good", f"{good} is not an ancestor of {bad}")
    return commits[0], commits[1]


def clone_for(tree: str, *commits: str) -> Path:
    """The cache's clone of `tree` (made once), holding `commits`."""
    source = Path(tree).expanduser().resolve()
    slot = cache_dir("bisect", hashlib.sha256(str(source).encode()).hexdigest()[:16])
    mark_used(slot)
    clone = slot / "tree"
    if not (clone / ".git").exists():
        git(slot, "clone", "-q", "--local", "--no-checkout", str(source), clone.name)
    git(clone, "bisect", "reset", check=False)
    git(clone, "fetch", "-q", str(source), *commits)
    return clone


def checkout(clone: Path, commit: str) -> None:
    git(clone, "checkout", "-q", "-f", "--detach", commit)
    git(clone, "clean", "-q", "-fdx")


def run(clone: Path, good: str, bad: str, out: Path, echo=print) -> Tuple[str, List[str]]:
    """(first bad commit, git's log of the bisection) through `git bisect run`."""
    try:
        git(clone, "bisect", "start", bad, good)
        proc = subprocess.run(["git", "-C", str(clone), "bisect", "run", sys.executable, "-m",
                               "harness.gitbisect", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        (out / "git-bisect-run.log").write_text(proc.stdout)
        log = git(clone, "bisect", "log").stdout
        (out / "git-bisect.log").write_text(log)
        found = re.search(r"^([0-9a-f]{40}) is the first bad commit", proc.stdout, re.M)
        if proc.returncode != 0 or not found:
            tail = "\n".join(proc.stdout.strip().splitlines()[-3:])
            raise HostError(f"git bisect run did not finish ({tail}); see "
                            f"{out / 'git-bisect-run.log'}")
        return found.group(1), log.splitlines()
    finally:
        git(clone, "bisect", "reset", check=False)


def load_steps(out: Path) -> list:
    from harness.bisect import Step
    steps = []
    for path in sorted((out / "steps").glob("*.json")):
        data = json.loads(path.read_text())
        if not data.pop("skipped", False):
            steps.append(Step(**data))
    return steps


def subject(clone: Path, commit: str) -> str:
    return git(clone, "log", "-1", "--format=%h %s", commit).stdout.strip()


def save_request(out: Path, args, clone: Path) -> None:
    """What every step needs to judge its commit as the command would."""
    request = {k: v for k, v in vars(args).items() if k != "func"}
    (out / STEP_REQUEST).write_text(json.dumps({"args": request, "clone": str(clone)},
                                               indent=2) + "\n")


def step_main(out: Path) -> int:
    """One `git bisect run` step: judge the clone's HEAD; 0 good, 1 bad,
    SKIP when it does not build, ABORT when the harness cannot tell."""
    import argparse
    from dataclasses import asdict
    from harness.bisect import Step
    from harness.commands.bisect import criterion_for
    from harness.kernel.build import BuildError
    request = json.loads((out / STEP_REQUEST).read_text())
    args, clone = argparse.Namespace(**request["args"]), Path(request["clone"])
    commit = git(clone, "rev-parse", "HEAD").stdout.strip()
    judge = criterion_for(args)(lambda key: (str(clone), list(args.base_patches)), out)
    steps = out / "steps"
    steps.mkdir(exist_ok=True)
    try:
        step = judge(commit)
    except BuildError as exc:
        step, code = Step(commit, False, [], [f"skipped: does not build: {exc}"]), SKIP
    except Exception as exc:        # any harness failure: stop, do not call the commit bad
        print(f"bisect step at {commit[:12]} failed: {exc}", file=sys.stderr)
        return ABORT
    else:
        code = 0 if step.good else 1
    number = len(list(steps.glob("*.json"))) + 1
    (steps / f"{number:03d}.json").write_text(json.dumps({**asdict(step), "skipped":
                                                          code == SKIP}) + "\n")
    print(f"bisect: {subject(clone, commit)}: "
          f"{'skip' if code == SKIP else 'good' if code == 0 else 'bad'} "
          f"({sum(step.votes)}/{len(step.votes)} good)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(step_main(Path(sys.argv[1])))
