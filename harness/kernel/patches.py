"""Patch series: load them from a directory or an mbox, and apply them.

A directory is ordered by its `series` file (quilt style) when it has one,
else by file name (*.patch, *.diff). An mbox (as saved from a mailing list or
written by `git format-patch --stdout`) is split into one patch per message;
messages with no diff, such as a cover letter, are skipped.
"""

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from harness.errors import InputError, HostError
from harness.yamlfile import read_text_input

_MBOX_FROM = re.compile(rb"^From \S+ .*$")
_SUBJECT = re.compile(r"^Subject:\s*(.*)$", re.MULTILINE)
_DIFF = re.compile(rb"^(?:diff --git |--- [^\n]*\n\+\+\+ )", re.MULTILINE)
_TARGET = re.compile(r"^\+\+\+ (?:b/)?(\S+)", re.MULTILINE)


@dataclass
class Patch:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_mail(self) -> bool:
        head = self.data.split(b"\n\n", 1)[0]
        return b"\nSubject:" in b"\n" + head

    def files(self) -> List[str]:
        text = self.data.decode(errors="replace")
        return [f for f in _TARGET.findall(text) if f != "/dev/null"]

    def describe(self) -> dict:
        return {"name": self.name, "sha256": self.sha256}


def load(spec: str) -> List[Patch]:
    """Patches named by one --patches argument, in the order to apply them."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise InputError("--patches", f"no such file or directory: {spec}")
    if path.is_dir():
        patches = _load_dir(path)
        if not patches:
            raise InputError("--patches", f"no patches found in {spec}")
        return patches
    if not path.is_file():
        raise InputError("--patches", f"{spec} is not a file or a directory")
    patches = _load_file(path)
    if not patches:
        raise InputError("--patches", f"no patch in {spec}: it holds no diff")
    return patches


def load_all(specs: Iterable[str]) -> List[Patch]:
    return [patch for spec in specs for patch in load(spec)]


def digest(patches: Iterable[Patch]) -> str:
    """One hash for a whole series: names, order and contents."""
    h = hashlib.sha256()
    for patch in patches:
        h.update(f"{patch.name}\0{patch.sha256}\n".encode())
    return h.hexdigest()


def _load_dir(path: Path) -> List[Patch]:
    series = path / "series"
    if series.is_file():
        names = series_names(read_text_input(series, "--patches"))
    else:
        names = sorted(p.name for p in path.iterdir()
                       if p.suffix in (".patch", ".diff") and p.is_file())
    patches = []
    for name in names:
        file = path / name
        if not file.is_file():
            raise InputError("--patches", f"{series} lists {name}, which does not exist")
        data = file.read_bytes()
        if not has_diff(data):
            raise InputError("--patches", f"{file} is not a patch: it holds no diff")
        patches.append(Patch(name, data))
    return patches


def has_diff(data: bytes) -> bool:
    """A diff header: `diff --git`, or a `---` line followed by a `+++` line."""
    return _DIFF.search(data) is not None


def series_names(text: str) -> List[str]:
    """Patch file names from a quilt series file (comments, options ignored)."""
    names = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line.split()[0])
    return names


def _load_file(path: Path) -> List[Patch]:
    """The patches in one file: a plain diff, or each message of an mbox
    that holds a diff (a cover letter holds none)."""
    data = path.read_bytes()
    if not data.startswith(b"From "):
        return [Patch(path.name, data)] if has_diff(data) else []
    messages = split_mbox(data)
    with_diff = [m for m in messages if has_diff(m)]
    if len(messages) == 1:
        return [Patch(path.name, m) for m in with_diff]
    return [Patch(mail_name(m, i), m) for i, m in enumerate(with_diff, 1)]


def split_mbox(data: bytes) -> List[bytes]:
    """Messages of an mbox: each starts at a `From ` line at a message boundary."""
    messages: List[List[bytes]] = []
    previous_blank = True
    for line in data.splitlines(keepends=True):
        if previous_blank and _MBOX_FROM.match(line.rstrip(b"\r\n")):
            messages.append([])
        if messages:
            messages[-1].append(line)
        previous_blank = line.strip() == b""
    return [b"".join(lines) for lines in messages]


def mail_name(message: bytes, index: int) -> str:
    """A file-like name from the Subject, e.g. 0002-mm-damon-fix-foo.patch."""
    text = message.decode(errors="replace")
    match = _SUBJECT.search(text.split("\n\n", 1)[0])
    subject = match.group(1) if match else "patch"
    subject = re.sub(r"^\s*(\[[^\]]*\]\s*)+", "", subject)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", subject).strip("-")[:52] or "patch"
    return f"{index:04d}-{slug}.patch"


# --- Applying --------------------------------------------------------------------------

def apply_all(tree: Path, patches: Iterable[Patch], use_git: bool) -> None:
    """Apply in order; the first patch that fails stops with one line."""
    for patch in patches:
        if use_git:
            _apply_git(tree, patch)
        else:
            _apply_plain(tree, patch)


def _apply_plain(tree: Path, patch: Patch) -> None:
    base = ["patch", "-p1", "--forward", "--batch", "--no-backup-if-mismatch", "--fuzz=0", "-d", str(tree)]
    dry = subprocess.run(base + ["--dry-run"], input=patch.data, capture_output=True)
    if dry.returncode != 0:
        raise_failure(patch, dry.stdout.decode(errors="replace") + dry.stderr.decode(errors="replace"))
    real = subprocess.run(base, input=patch.data, capture_output=True)
    if real.returncode != 0:
        raise HostError(f"patch {patch.name} passed --dry-run but failed to apply")


def _apply_git(tree: Path, patch: Patch) -> None:
    ident = ["-c", "user.name=damon-harness", "-c", "user.email=damon-harness@localhost"]
    if patch.is_mail:
        cmd = ["git", "-C", str(tree), *ident, "am", "-q", "--keep-cr"]
    else:
        cmd = ["git", "-C", str(tree), *ident, "apply", "--index"]
    proc = subprocess.run(cmd, input=patch.data, capture_output=True)
    if proc.returncode != 0:
        subprocess.run(["git", "-C", str(tree), "am", "--abort"], capture_output=True)
        raise_failure(patch, proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace"))
    if not patch.is_mail:
        subprocess.run(["git", "-C", str(tree), *ident, "commit", "-q", "-m", patch.name],
                       capture_output=True, check=True)


def raise_failure(patch: Patch, output: str) -> None:
    file, why = failed_file(output)
    where = f" to {file}" if file else ""
    raise InputError("--patches", f"{patch.name} does not apply{where}" + (f" ({why})" if why else ""))


def failed_file(output: str) -> Tuple[Optional[str], str]:
    """The file a failed `patch` or `git am/apply` run names, and why."""
    match = re.search(r"error: patch failed: ([^:\n]+):(\d+)", output)
    if match:
        return match.group(1), f"hunk at line {match.group(2)} failed"
    match = re.search(r"error: ([^:\n]+): (does not exist in index|No such file or directory|"
                      r"already exists in (?:index|working directory))", output)
    if match:
        return match.group(1), match.group(2)
    current = None
    for line in output.splitlines():
        found = (re.match(r"^(?:checking|patching) file '?([^']+?)'?$", line)
                 or re.match(r"^\|\+\+\+ (?:b/)?(\S+)", line))
        if found:
            current = found.group(1)
        elif "FAILED" in line:
            return current, line.strip().rstrip(".")
        elif line.startswith("No file to patch"):
            return current, "no such file"
        elif "Reversed (or previously applied)" in line:
            return current, "already applied"
    if "can't find file to patch" in output:
        return None, "can't find file to patch"
    return None, (output.strip().splitlines() or ["failed"])[-1][:120]


_HUNK = re.compile(rb"^@@ [^\n]*\n((?:[ +\-\\][^\n]*\n?)*)", re.MULTILINE)
_FILE_PAIR = re.compile(rb"^--- (\S+)[^\n]*\n\+\+\+ (?:b/)?(\S+)", re.MULTILINE)


def fits(patch: Patch, tree: Path) -> bool:
    """Whether the patch's first hunk finds its context in `tree`: the lines
    it keeps and removes, in order, in the file it changes (a new file must
    not exist yet). A cheap test with no `patch` run, for refusing a series
    that was made for another tree before anything is built."""
    pair = _FILE_PAIR.search(patch.data)
    if pair is None:
        return False
    target = tree / pair.group(2).decode(errors="replace")
    if pair.group(1) == b"/dev/null":
        return not target.exists()
    hunk = _HUNK.search(patch.data, pair.end())
    if hunk is None or not target.is_file():
        return False
    old = [line[1:] for line in hunk.group(1).splitlines() if line[:1] in (b" ", b"-")]
    return b"\n".join(old) in target.read_bytes()


def check_applies(patches: Iterable[Patch], tree: Path, flag: str = "--patches") -> None:
    """InputError when not one patch of the series fits the tree."""
    patches = list(patches)
    if patches and not any(fits(p, tree) for p in patches):
        raise InputError(flag, f"no patch of the series applies to {tree} (first: "
                               f"{patches[0].name}); is it for another kernel version?")
