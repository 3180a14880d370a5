"""What `compare` makes of its flags: each side's inputs, and a directory
name that says what was compared."""

import argparse

from harness.paths import REPO_ROOT

from harness.commands import compare


def args(**given):
    parser = argparse.ArgumentParser()
    compare.register(parser.add_subparsers())
    return parser.parse_args(["compare", *given.pop("argv", [])])


def test_the_patched_side_may_have_its_own_tree_and_fragments():
    specs = compare.side_specs(args(argv=["--source", "/a", "--patched-source", "/b",
                                          "--config", "+debug", "--patched-config", "+kmemleak"]))
    assert (specs["base"]["source"], specs["patched"]["source"]) == ("/a", "/b")
    assert "debug" in specs["patched"]["fragments"]
    assert "kmemleak" in specs["patched"]["fragments"]
    assert "kmemleak" not in specs["base"]["fragments"]


def test_the_directory_is_named_by_the_series_and_a_digest_of_every_input():
    specs = compare.side_specs(args(argv=["--base-patches", "fixes/", "--patches",
                                          "tests/controls/wrong-migration-node-series"]))
    kind = compare.dir_kind(specs, ["migration"], 4)
    assert kind.startswith("compare-wrong-migration-node-series-")
    assert kind != compare.dir_kind(specs, ["migration"], 5)
    assert kind == compare.dir_kind(specs, ["migration"], 4)


def test_a_reproduction_is_compared_as_every_one_of_its_conditions():
    from harness.commands.compare import comparable
    names = [sc.name for sc in comparable(["collapse", "collapse-vs-hugepage",
                                           "memcg-moving-window"])]
    assert names == ["collapse", "collapse-vs-hugepage-never-hugepage",
                     "collapse-vs-hugepage-madvise-hugepage",
                     "collapse-vs-hugepage-never-collapse", "memcg-moving-window"]
    by_file = comparable([str(REPO_ROOT / "tests/reproductions/collapse-vs-hugepage.yaml")])
    assert len(by_file) == 3 and all(sc.derived for sc in by_file)
