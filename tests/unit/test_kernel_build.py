import argparse
import io
import json
from pathlib import Path

import pytest

from harness.commands import build as build_cmd
from harness.errors import InputError
from harness.kernel import build as kb

DIFF = """--- a/mm/damon/core.c
+++ b/mm/damon/core.c
@@ -1 +1,2 @@
 int x;
+int y;
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def tree(tmp_path) -> Path:
    path = tmp_path / "linux"
    (path / "mm" / "damon").mkdir(parents=True)
    (path / "Makefile").write_text("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 0\n")
    (path / "Kconfig").write_text("")
    (path / "arch/x86").mkdir(parents=True)
    (path / "arch/x86/Kconfig").write_text("config X86\n\tdef_bool y\n")
    (path / "mm/damon/core.c").write_text("int x;\n")
    return path


def builder(tree: Path, patches=(), fragments=kb.DEFAULT) -> kb.Builder:
    return kb.Builder(kb.Request(str(tree), tuple(patches), tuple(fragments), 2), io.StringIO())


def test_request_key_is_stable_and_tracks_every_input(tree, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "1.patch").write_text(DIFF)
    key = builder(tree).request_key()
    assert key == builder(tree).request_key()
    assert key != builder(tree, patches=[str(tmp_path / "p")]).request_key()
    assert key != builder(tree, fragments=["base", "guest"]).request_key()
    (tmp_path / "p" / "1.patch").write_text(DIFF + "\n")
    with_patch = builder(tree, patches=[str(tmp_path / "p")]).request_key()
    (tmp_path / "p" / "1.patch").write_text(DIFF)
    assert with_patch != builder(tree, patches=[str(tmp_path / "p")]).request_key()


def test_a_series_for_another_tree_is_refused_before_anything(tree, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "0001-bad.patch").write_text(DIFF.replace("int x;", "int z;"))
    with pytest.raises(InputError, match="no patch of the series applies .*0001-bad.patch"):
        builder(tree, patches=[str(tmp_path / "p")])
    assert not (tmp_path / "cache" / "work").exists()


def test_failing_patch_stops_before_make_and_leaves_no_artefact(tree, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "0001-good.patch").write_text(DIFF)
    (tmp_path / "p" / "0002-bad.patch").write_text(
        DIFF.replace("int x;", "int z;").replace("+int y;", "+int w;"))
    with pytest.raises(InputError, match="0002-bad.patch does not apply to mm/damon/core.c"):
        builder(tree, patches=[str(tmp_path / "p")]).run()
    kernels = tmp_path / "cache" / "kernels"
    assert [p.name for p in kernels.iterdir()] in ([], ["requests"])
    assert (tree / "mm/damon/core.c").read_text() == "int x;\n"


def test_request_hit_loads_artefact(tree):
    b = builder(tree)
    art = b.kernels / "abc"
    (art / "modroot/lib/modules/7.3.0").mkdir(parents=True)
    (art / "bzImage").write_bytes(b"k")
    (art / "metadata.json").write_text(json.dumps({"release": "7.3.0"}))
    assert b.request_hit() is None
    b.remember_request("abc")
    kernel = builder(tree).run()
    assert kernel.image == art / "bzImage" and kernel.release == "7.3.0"
    assert kernel.modules_dir == art / "modroot/lib/modules"


def test_log_helpers(tmp_path):
    log = tmp_path / "build.log"
    log.write_text("  CC      mm/a.o\n  LD      x\n  CC [M]  y.o\n  CC      mm/b.o\n"
                   "mm/b.c:1:2: error: boom\nmake: *** Error 1\n")
    assert kb.count_compiled(log) == 3
    assert kb.first_error(log) == "mm/b.c:1:2: error: boom"
    cfg = tmp_path / ".config"
    cfg.write_text("CONFIG_A=y\n")
    assert not kb.has_modules(cfg)
    cfg.write_text("CONFIG_A=y\nCONFIG_B=m\n")
    assert kb.has_modules(cfg)


def test_cli_parses_repeated_flags():
    parser = argparse.ArgumentParser()
    build_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["build", "--source", "/x", "--patches", "a", "--patches", "b",
                              "--config", "damon", "-j", "3"])
    assert (args.source, args.patches, args.config, args.jobs) == ("/x", ["a", "b"], ["damon"], 3)
    assert args.func is build_cmd.run
    with pytest.raises(SystemExit):
        parser.parse_args(["build", "--jobs", "0"])


def test_prepare_tree_reuses_work_copy_and_restores_after_patch_removal(tree, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "1.patch").write_text(DIFF)
    patched = builder(tree, patches=[str(tmp_path / "p")])
    work = patched.prepare_tree()
    assert (work / "mm/damon/core.c").read_text() == "int x;\nint y;\n"
    marker = work / "Makefile"
    stamp = marker.stat().st_mtime
    assert patched.prepare_tree() == work and marker.stat().st_mtime == stamp
    before = (work / "mm/damon/core.c").stat().st_mtime
    plain = builder(tree).prepare_tree()
    assert (plain / "mm/damon/core.c").read_text() == "int x;\n"
    assert (plain / "mm/damon/core.c").stat().st_mtime >= before
    assert marker.stat().st_mtime == stamp
    assert (tree / "mm/damon/core.c").read_text() == "int x;\n"


def test_cli_fragment_defaults_and_additions():
    assert build_cmd.fragments_from(None) == tuple(kb.DEFAULT)
    assert build_cmd.fragments_from(["+debug"]) == tuple(kb.DEFAULT) + ("debug",)
    assert build_cmd.fragments_from(["base", "+damon"]) == ("base", "damon")


def test_sigterm_stops_make_and_raises_system_exit(tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import threading
    started = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(kb, "_make_cmd", lambda *a: ["sleep", "30"])
    monkeypatch.setattr(kb, "PROGRESS_EVERY_S", 0.1)
    monkeypatch.setattr(kb.subprocess, "Popen", popen)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    with pytest.raises(SystemExit):
        kb.run_make(tmp_path, tmp_path, 1, tmp_path / "log", lambda m: None)
    assert started and started[0].poll() is not None
