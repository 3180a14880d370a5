import subprocess
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.kernel import patches as kp

DIFF = """--- a/mm/damon/core.c
+++ b/mm/damon/core.c
@@ -1,2 +1,3 @@
 line one
+added
 line two
"""


def mail(subject: str, body: str = DIFF, sha: str = "0" * 40) -> str:
    return (f"From {sha} Mon Sep 17 00:00:00 2001\nFrom: A Dev <a@example.org>\n"
            f"Date: Mon, 1 Jan 2026 00:00:00 +0000\nSubject: {subject}\n\n"
            f"message\n---\n{body}--\n2.39.0\n\n")


def test_series_file_orders_and_ignores_comments(tmp_path):
    for name in ("a.patch", "b.patch", "c.patch"):
        (tmp_path / name).write_text(DIFF)
    (tmp_path / "series").write_text("# order\nc.patch -p1\n\nb.patch # why\n")
    assert [p.name for p in kp.load(str(tmp_path))] == ["c.patch", "b.patch"]


def test_series_naming_missing_file(tmp_path):
    (tmp_path / "series").write_text("gone.patch\n")
    with pytest.raises(InputError, match="gone.patch"):
        kp.load(str(tmp_path))


def test_directory_without_series_is_sorted_by_name(tmp_path):
    for name in ("0002-b.patch", "0001-a.patch", "notes.txt", "0003-c.diff"):
        (tmp_path / name).write_text(DIFF)
    assert [p.name for p in kp.load(str(tmp_path))] == [
        "0001-a.patch", "0002-b.patch", "0003-c.diff"]


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(InputError, match="--patches: no such file"):
        kp.load(str(tmp_path / "nope"))
    with pytest.raises(InputError, match="no patches found"):
        kp.load(str(tmp_path))


def test_mbox_split_skips_cover_letter_and_names_from_subject(tmp_path):
    cover = mail("[PATCH 0/2] mm/damon: series", body="just words\n")
    box = cover + mail("[PATCH 1/2] mm/damon/core: add a line") + mail("[PATCH v2 2/2] two")
    (tmp_path / "series.mbox").write_text(box)
    patches = kp.load(str(tmp_path / "series.mbox"))
    assert [p.name for p in patches] == ["0001-mm-damon-core-add-a-line.patch", "0002-two.patch"]
    assert all(p.is_mail for p in patches)
    assert patches[0].files() == ["mm/damon/core.c"]


def test_split_mbox_ignores_from_inside_body():
    box = mail("one", body="From here on\n" + DIFF).encode() + mail("two").encode()
    assert len(kp.split_mbox(box)) == 2


def test_digest_is_stable_and_order_sensitive():
    a, b = kp.Patch("a", b"1"), kp.Patch("b", b"2")
    assert kp.digest([a, b]) == kp.digest([kp.Patch("a", b"1"), kp.Patch("b", b"2")])
    assert kp.digest([a, b]) != kp.digest([b, a])
    assert kp.digest([a]) != kp.digest([kp.Patch("a", b"1 ")])


def tree(tmp_path: Path) -> Path:
    (tmp_path / "mm" / "damon").mkdir(parents=True)
    (tmp_path / "mm" / "damon" / "core.c").write_text("line one\nline two\n")
    return tmp_path


def test_plain_apply_and_failure_names_patch_and_file(tmp_path):
    src = tree(tmp_path / "src")
    good = kp.Patch("0001-good.patch", DIFF.encode())
    kp.apply_all(src, [good], use_git=False)
    assert "added" in (src / "mm/damon/core.c").read_text()
    bad = kp.Patch("0002-bad.patch", DIFF.replace("line one", "other").encode())
    with pytest.raises(InputError) as err:
        kp.apply_all(src, [bad], use_git=False)
    assert "0002-bad.patch does not apply to mm/damon/core.c" in str(err.value)
    assert "added" in (src / "mm/damon/core.c").read_text()


def test_plain_apply_missing_file(tmp_path):
    src = tree(tmp_path / "src")
    patch = kp.Patch("p.patch", DIFF.replace("core.c", "gone.c").encode())
    with pytest.raises(InputError, match="p.patch does not apply to mm/damon/gone.c .no such file"):
        kp.apply_all(src, [patch], use_git=False)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def test_git_am_and_failure(tmp_path):
    src = tree(tmp_path / "src")
    git(src, "init", "-q")
    git(src, "add", ".")
    git(src, "commit", "-q", "-m", "base")
    good = kp.Patch("1.patch", mail("[PATCH] add").replace("line one", "line one").encode())
    kp.apply_all(src, [good], use_git=True)
    assert "added" in (src / "mm/damon/core.c").read_text()
    bad = kp.Patch("2.patch", mail("[PATCH] bad", DIFF.replace("line one", "x")).encode())
    with pytest.raises(InputError, match="2.patch does not apply to mm/damon/core.c"):
        kp.apply_all(src, [bad], use_git=True)
    raw = kp.Patch("3.diff", DIFF.replace("+added", "+again").encode())
    with pytest.raises(InputError, match="3.diff does not apply to mm/damon/core.c"):
        kp.apply_all(src, [raw], use_git=True)


def test_failed_file_parsing():
    out = "checking file mm/a.c\nchecking file mm/b.c\nHunk #1 FAILED at 3.\n"
    assert kp.failed_file(out)[0] == "mm/b.c"
    out = "error: patch failed: mm/damon/vaddr.c:120\nerror: mm/damon/vaddr.c: patch does not apply"
    assert kp.failed_file(out) == ("mm/damon/vaddr.c", "hunk at line 120 failed")
