"""Kernel inputs (--kernel, --source, --patches, --config) are checked before
anything is fetched, unpacked or written into the cache."""

import io
import json
import tarfile
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.kernel import build as kb
from harness.kernel import patches as kp
from harness.kernel import source as ks
from harness.kernel.artifact import is_bzimage, user_kernel

MAKEFILE = "VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 0\nEXTRAVERSION =\n"
DIFF = "--- a/mm/damon/core.c\n+++ b/mm/damon/core.c\n@@ -1 +1,2 @@\n int x;\n+int y;\n"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(path))
    return path


def kernel_tree(path: Path, **overrides) -> Path:
    files = {"Makefile": MAKEFILE, "Kconfig": 'source "arch/$(SRCARCH)/Kconfig"\n',
             "arch/x86/Kconfig": "config X86\n\tdef_bool y\n", "mm/damon/core.c": "int x;\n"}
    files.update(overrides)
    for rel, text in files.items():
        if text is not None:
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            (path / rel).write_text(text)
    return path


def tarball(path: Path, files: dict) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def message(func, *args) -> str:
    with pytest.raises(InputError) as err:
        func(*args)
    return str(err.value)


# --- --kernel --------------------------------------------------------------------------

def fake_bzimage(path: Path) -> Path:
    path.write_bytes(b"\0" * 0x202 + b"HdrS" + b"\0" * 64)
    return path


def test_user_kernel_must_be_a_bzimage(tmp_path):
    good = fake_bzimage(tmp_path / "bzImage")
    assert is_bzimage(good) and user_kernel(str(good)).image == good
    text = tmp_path / "notakernel.txt"
    text.write_text("this is a text file, not a kernel image\n")
    assert message(user_kernel, str(text)) == f"--kernel: {text} is not an x86 bzImage"
    assert message(user_kernel, str(tmp_path)) == \
        f"--kernel: {tmp_path} is a directory, not a kernel image"
    assert "no such kernel file" in message(user_kernel, str(tmp_path / "gone"))


# --- --source --------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, words", [
    ({"Makefile": "", "arch/x86/Kconfig": None, "mm/damon/core.c": None},
     "no arch/x86/Kconfig, mm/"),
    ({"Makefile": ""}, "its Makefile sets no VERSION and PATCHLEVEL"),
    ({"Makefile": "VERSION = 7\n"}, "sets no VERSION and PATCHLEVEL"),
    ({"Kconfig": None}, "no Kconfig"),
])
def test_directory_that_is_not_a_kernel_tree(tmp_path, overrides, words):
    tree = kernel_tree(tmp_path / "linux", **overrides)
    text = message(ks.check_source, str(tree))
    assert text.startswith(f"--source: not a kernel source tree: {tree} (") and words in text


def test_text_file_as_source(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    assert "not a tarball or a directory" in message(ks.resolve, str(tmp_path / "notes.txt"))


def test_kernel_tarball_passes_the_check(tmp_path):
    ball = tarball(tmp_path / "linux.tar.gz", {
        "./linux-7.3/Makefile": MAKEFILE, "./linux-7.3/Kconfig": "",
        "./linux-7.3/arch/x86/Kconfig": "", "./linux-7.3/mm/damon/core.c": "int x;\n"})
    assert ks.check_source(str(ball)) == ball


@pytest.mark.parametrize("files, words", [
    ({"notes/README": "no kernel\n"}, "no Makefile, Kconfig, arch/x86/Kconfig, mm/"),
    ({"linux/Makefile": "", "linux/Kconfig": "", "linux/arch/x86/Kconfig": "",
      "linux/mm/x.c": ""}, "sets no VERSION"),
])
def test_tarball_without_a_kernel_is_refused_before_unpacking(tmp_path, cache, files, words):
    ball = tarball(tmp_path / "nokernel.tar.gz", files)
    text = message(ks.resolve, str(ball))
    assert "--source: not a kernel source tree" in text and words in text
    assert not cache.exists() or not list(cache.rglob("*"))


def test_corrupt_tarball_is_bad_input(tmp_path):
    ball = tarball(tmp_path / "linux.tar.gz", {"linux/Makefile": MAKEFILE})
    data = ball.read_bytes()
    ball.write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="--source"):
        ks.check_source(str(ball))


# --- --patches -------------------------------------------------------------------------

@pytest.mark.parametrize("name, text", [
    ("empty.mbox", "From nobody Mon Sep 17 00:00:00 2001\n\n"),
    ("cover.mbox", "From 0 Mon Sep 17 00:00:00 2001\nSubject: [PATCH 0/2] x\n\nwords\n"),
    ("notes.txt", "Some notes about a change.\n\nThey contain no diff at all.\n"),
    ("empty.patch", ""),
])
def test_file_without_a_diff_is_no_patch(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    assert message(kp.load, str(tmp_path / name)) == \
        f"--patches: no patch in {tmp_path / name}: it holds no diff"


def test_series_entry_without_a_diff_is_refused(tmp_path):
    (tmp_path / "1.patch").write_text(DIFF)
    (tmp_path / "2.patch").write_text("just words\n")
    assert "2.patch is not a patch: it holds no diff" in message(kp.load, str(tmp_path))


def test_plain_diff_and_git_diff_are_patches(tmp_path):
    (tmp_path / "a.diff").write_text(DIFF)
    (tmp_path / "b.diff").write_text("diff --git a/x b/y\nsimilarity index 100%\n"
                                     "rename from x\nrename to y\n")
    assert [len(kp.load(str(tmp_path / n))) for n in ("a.diff", "b.diff")] == [1, 1]


# --- validate_build_inputs and the Builder's order -------------------------------------

def test_validate_build_inputs_accepts_good_inputs_and_writes_nothing(tmp_path, cache):
    tree = kernel_tree(tmp_path / "linux")
    (tmp_path / "p.patch").write_text(DIFF)
    kb.validate_build_inputs(str(tree), [str(tmp_path / "p.patch")], kb.DEFAULT)
    kb.validate_build_inputs(None, (), ())
    assert not cache.exists()


@pytest.mark.parametrize("args, words", [
    (("{d}/missing", (), ()), "--source: no such file"),
    (("{d}/linux", (), ()), "--source: not a kernel source tree"),
    ((None, ["{d}/empty.mbox"], ()), "--patches: no patch in"),
    ((None, (), ["no-such-fragment"]), "--config: no such fragment: no-such-fragment"),
    ((None, (), ["{d}/latin1.config"]), "latin1.config: not UTF-8 text"),
    ((None, (), ["{d}/bad.config"]), "bad.config:2: not a config line"),
])
def test_validate_build_inputs_refuses(tmp_path, cache, args, words):
    (tmp_path / "linux").mkdir()
    (tmp_path / "empty.mbox").write_text("From nobody Mon Sep 17 00:00:00 2001\n\n")
    (tmp_path / "latin1.config").write_bytes(b"# \xe9t\xe9\nCONFIG_DAMON=y\n")
    (tmp_path / "bad.config").write_text("CONFIG_DAMON=y\nthis is not a config line\n")
    source, patches, fragments = args
    fill = lambda text: text.replace("{d}", str(tmp_path))  # noqa: E731
    text = message(kb.validate_build_inputs, source and fill(source),
                   [fill(p) for p in patches], [fill(f) for f in fragments])
    assert words in text
    assert not cache.exists()


def test_builder_checks_patches_and_fragments_before_the_source(tmp_path, cache, monkeypatch):
    resolved = []
    monkeypatch.setattr(kb.ksource, "resolve", lambda spec: resolved.append(spec))
    (tmp_path / "empty.mbox").write_text("From nobody Mon Sep 17 00:00:00 2001\n\n")
    request = kb.Request(None, (str(tmp_path / "empty.mbox"),), kb.DEFAULT, 1)
    with pytest.raises(InputError, match="--patches"):
        kb.Builder(request, io.StringIO())
    with pytest.raises(InputError, match="--config"):
        kb.Builder(kb.Request(None, (), ("no-such-fragment",), 1), io.StringIO())
    assert resolved == [] and not cache.exists()


def test_a_series_that_fails_half_way_is_synced_again_next_time(tmp_path):
    tree = kernel_tree(tmp_path / "linux")
    series = tmp_path / "series"
    series.mkdir()
    (series / "1.patch").write_text(DIFF)
    (series / "2.patch").write_text(DIFF.replace("int x;", "int z;"))
    failing = kb.Builder(kb.Request(str(tree), (str(series),), kb.DEFAULT, 1), io.StringIO())
    with pytest.raises(InputError, match="2.patch does not apply"):
        failing.prepare_tree()
    assert json.loads((failing.slot / "state.json").read_text())["complete"] is False
    (series / "2.patch").unlink()
    fixed = kb.Builder(kb.Request(str(tree), (str(series),), kb.DEFAULT, 1), io.StringIO())
    work = fixed.prepare_tree()
    assert (work / "mm/damon/core.c").read_text() == "int x;\nint y;\n"
    assert json.loads((fixed.slot / "state.json").read_text())["complete"] is True


def test_an_unreadable_state_file_means_sync_again(tmp_path):
    tree = kernel_tree(tmp_path / "linux")
    builder = kb.Builder(kb.Request(str(tree), (), kb.DEFAULT, 1), io.StringIO())
    work = builder.prepare_tree()
    (work / "mm/damon/core.c").write_text("changed behind our back\n")
    (builder.slot / "state.json").write_text('{"identity": ')
    assert (builder.prepare_tree() / "mm/damon/core.c").read_text() == "int x;\n"
