from pathlib import Path

import pytest

from harness.errors import InputError
from harness.kernel import config as kc


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_parse_set_unset_and_comments():
    opts = kc.parse("# a comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\n\n")
    assert opts == {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": '"x y"'}


def test_parse_rejects_garbage_with_line_number():
    with pytest.raises(InputError, match=r"frag:2: not a config line"):
        kc.parse("CONFIG_A=y\nDAMON=y\n", where="frag")


def test_merge_later_fragment_wins_and_keeps_order(tmp_path):
    a = write(tmp_path / "a.config", "CONFIG_A=y\nCONFIG_B=y\n")
    b = write(tmp_path / "b.config", "# CONFIG_B is not set\nCONFIG_C=m\n")
    merged = kc.merge([a, b])
    assert merged == {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "m"}
    assert kc.render(merged) == "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\n"


def test_mismatches():
    requested = {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "y", "CONFIG_D": '"s"'}
    actual = {"CONFIG_A": "y", "CONFIG_C": "m", "CONFIG_D": "s"}
    assert kc.mismatches(requested, actual) == [("CONFIG_C", "y", "m")]
    assert kc.mismatches({"CONFIG_X": "y"}, {}) == [("CONFIG_X", "y", "n")]


def test_default_fragments_exist_and_parse():
    for name in kc.DEFAULT_FRAGMENTS + ("debug.config",):
        opts = kc.parse(kc.resolve_fragment(name).read_text())
        assert opts, name
    damon = kc.parse(kc.resolve_fragment("damon").read_text())
    assert damon["CONFIG_DAMON_SYSFS"] == "y"


def test_resolve_fragment_unknown_names_known_ones():
    with pytest.raises(InputError, match=r"--config: no such fragment: nope .*damon"):
        kc.resolve_fragment("nope")


def fake_tree(tmp_path: Path) -> Path:
    (tmp_path / "mm").mkdir(parents=True)
    write(tmp_path / "Kconfig", "source \"mm/Kconfig\"\nconfig SYSFS\n\tbool \"sysfs\"\n")
    write(tmp_path / "mm" / "Kconfig", (
        "config DAMON\n\tbool \"DAMON\"\n\n"
        "config DAMON_SYSFS\n\tbool \"sysfs\"\n\tdepends on DAMON && SYSFS\n\tdefault DAMON\n"
        "\thelp\n\t  depends on NOTHING in help text\n\n"
        "config DAMON_OR\n\tbool \"x\"\n\tdepends on A || B\n"))
    return tmp_path


def test_kconfig_index_reads_depends(tmp_path):
    index = kc.kconfig_index(fake_tree(tmp_path))
    assert index["DAMON_SYSFS"] == ["DAMON && SYSFS"]
    assert index["DAMON"] == []
    assert "NOTHING" not in str(index)


def test_explain_names_unmet_dependency_or_missing_option(tmp_path):
    index = kc.kconfig_index(fake_tree(tmp_path))
    actual = {"CONFIG_SYSFS": "y"}
    text = kc.explain("CONFIG_DAMON_SYSFS", "y", "n", index, actual)
    assert text == "CONFIG_DAMON_SYSFS=y (got n; unmet dependency: DAMON)"
    text = kc.explain("CONFIG_DAMON_HUGEPAGE", "y", "n", index, actual)
    assert "no such option in this kernel" in text


def test_verify_raises_one_line_listing_each_option(tmp_path):
    src = fake_tree(tmp_path / "src")
    cfg = write(tmp_path / ".config", "CONFIG_SYSFS=y\n# CONFIG_DAMON is not set\n")
    requested = {"CONFIG_SYSFS": "y", "CONFIG_DAMON_SYSFS": "y", "CONFIG_DAMON_HUGEPAGE": "y"}
    with pytest.raises(InputError) as err:
        kc.verify(src, requested, cfg)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("--config: 2 option(s) did not hold")
    assert "CONFIG_DAMON_SYSFS=y" in message and "CONFIG_DAMON_HUGEPAGE=y" in message
    kc.verify(src, {"CONFIG_SYSFS": "y"}, cfg)


def test_an_option_marked_if_in_tree_is_left_out_only_where_the_tree_lacks_it(tmp_path):
    frag = write(tmp_path / "a.config", "CONFIG_SYSFS=y\n"
                 "CONFIG_DAMON_HUGEPAGE=y  # if in tree\n"
                 "CONFIG_DAMON_SYSFS=y # if in tree\n")
    marked: set = set()
    requested = kc.merge([frag], marked)
    assert requested["CONFIG_DAMON_HUGEPAGE"] == "y" and "#" not in str(requested)
    assert marked == {"CONFIG_DAMON_HUGEPAGE", "CONFIG_DAMON_SYSFS"}
    src = fake_tree(tmp_path / "src")
    cfg = write(tmp_path / ".config", "CONFIG_SYSFS=y\nCONFIG_DAMON=y\nCONFIG_DAMON_SYSFS=y\n")
    assert kc.verify(src, requested, cfg, marked) == ["CONFIG_DAMON_HUGEPAGE"]
    # The tree has DAMON_SYSFS: marked or not, an unmet dependency stops the build.
    off = write(tmp_path / "off.config", "CONFIG_SYSFS=y\n")
    with pytest.raises(InputError, match="1 option.*CONFIG_DAMON_SYSFS=y .*unmet dependency"):
        kc.verify(src, requested, off, marked)
    # A later fragment that asks for it without the mark makes it required.
    later = write(tmp_path / "b.config", "CONFIG_DAMON_HUGEPAGE=y\n")
    marked = set()
    requested = kc.merge([frag, later], marked)
    assert "CONFIG_DAMON_HUGEPAGE" not in marked
    with pytest.raises(InputError, match="no such option in this kernel"):
        kc.verify(src, requested, cfg, marked)


def test_failing_terms():
    actual = {"CONFIG_A": "y", "CONFIG_B": "m"}
    assert kc.failing_terms("A && B", actual) == []
    assert kc.failing_terms("A && !C", actual) == []
    assert kc.failing_terms("A && C && !B", actual) == ["C", "!B"]
    assert kc.failing_terms("A || C", actual) == ["A || C"]


def test_merge_refuses_a_fragment_that_is_not_utf8(tmp_path):
    bad = tmp_path / "latin.config"
    bad.write_bytes("CONFIG_A=y\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.config: not UTF-8 text"):
        kc.merge([bad])


def test_kbuild_runs_as_a_make_of_its_own_under_an_outer_make(tmp_path, monkeypatch):
    # As under `make bench-test`: make test ran as a sub-make, so the
    # kernel's `make -s -C ... kernelrelease` printed "Entering directory".
    import subprocess
    (tmp_path / "Makefile").write_text("kernelrelease:\n\t@echo 7.3.4\n")
    monkeypatch.setenv("MAKELEVEL", "2")
    monkeypatch.setenv("MAKEFLAGS", "w")
    polluted = subprocess.run(["make", "-s", "-C", str(tmp_path), "kernelrelease"],
                              capture_output=True, text=True).stdout
    assert "Entering directory" in polluted
    clean = subprocess.run(["make", "-s", "-C", str(tmp_path), "kernelrelease"],
                           capture_output=True, text=True, env=kc.own_make_env()).stdout
    assert clean == "7.3.4\n"
