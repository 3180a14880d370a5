"""Reproductions: our figures from runs captured from a real guest, set beside
published numbers, with a verdict, a report for a mail, JSON and a plot."""

import json
from pathlib import Path

import pytest

from harness import judge, reproduce
from harness.errors import InputError
from harness.reference import (DIFFERS, NOT_COMPARABLE, REPRODUCED, Comparison, Published,
                               Reference, Source)

RUNS = Path(__file__).parent.parent / "data" / "runs"
PROMOTED = "hot region promoted to node 0: time to reach"


def migration_with(compare, published=None):
    """The captured migration run, and an experiment of its scenario with a
    reference."""
    result, _ = judge.judge_dir(RUNS / "migration")
    sc = judge.load_run(RUNS / "migration")
    published = published or {"promote": Published(2.0, "s", condition="hot 64 MiB"),
                              "demote": Published(6.0, "s")}
    sc.reference = Reference(
        Source("1234@example.org", "damon", ["A Author", "B Author"], "2024-01-17",
               subject="[RFC] tiering"),
        "two nodes, one CPU-less", published, "1:1, smaller regions", 1.0,
        {"promote": PROMOTED, "demote": "idle region demoted to node 1: time to reach"},
        compare)
    return reproduce.Experiment(sc.name, sc.description, sc.reference, {"": sc}, ""), result


def test_measured_figures_are_taken_per_published_name_from_every_run():
    sc, result = migration_with([Comparison("ratio", ["promote"], within=50.0)])
    figures = reproduce.measured(sc, {"": [result, result]})
    reach = next(c for c in result.checks if c.name.startswith("hot region"))
    assert figures["promote"].values == [reach.numbers["reached_at"]] * 2
    assert figures["promote"].median == reach.numbers["reached_at"]
    assert figures["promote"].unit == "s"


def test_the_verdict_of_a_reproduction_is_its_worst_comparison():
    sc, result = migration_with([Comparison("order", ["promote", "demote"],
                                            note="never shown"),
                                 Comparison("at_most", ["promote"], bound=0.001,
                                            note="TCG is slower than their machine")])
    rep = reproduce.judge(sc, {"": [result]})
    assert [o.verdict for o in rep.outcomes] == [REPRODUCED, DIFFERS]
    body = reproduce.text(rep, "k")
    assert "note: TCG is slower than their machine" in body and "never shown" not in body
    assert rep.verdict == DIFFERS
    assert reproduce.overall([REPRODUCED, NOT_COMPARABLE]) == NOT_COMPARABLE
    assert reproduce.overall([REPRODUCED, REPRODUCED]) == REPRODUCED


def test_the_report_cites_the_source_and_sets_both_side_by_side(tmp_path):
    sc, result = migration_with([Comparison("order", ["promote", "demote"])])
    rep = reproduce.judge(sc, {"": [result]})
    body = reproduce.write(rep, "7.3.4 (default fragments)", tmp_path)
    assert "Message-ID: <1234@example.org>" in body
    assert "A Author, B Author, 2024-01-17, damon" in body
    assert "[RFC] tiering" in body and "Kernel: 7.3.4" in body
    promote = next(line for line in body.splitlines() if line.startswith("promote"))
    assert "2 s" in promote and "1 of 1" in promote and "\n  hot 64 MiB\n" in body
    assert body.rstrip().endswith(f"reproduce {sc.name}: REPRODUCED")
    assert all(len(line) <= 100 for line in body.splitlines())
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["verdict"] == REPRODUCED
    assert saved["source"]["message_id"] == "1234@example.org"
    assert saved["published"]["promote"]["ours_median"] == rep.figures["promote"].median
    assert (tmp_path / f"{sc.name}.png").stat().st_size > 1000


def test_a_figure_no_run_gave_is_not_comparable():
    sc, result = migration_with([Comparison("ratio", ["promote"], within=10.0)])
    rep = reproduce.judge(sc, {"": []})
    assert rep.verdict == NOT_COMPARABLE
    assert "no value for promote" in rep.outcomes[0].reason


def test_the_shipped_reproductions_are_valid_and_cite_their_source():
    shipped = reproduce.available()
    assert "hotcold-tiering" in shipped
    for exp in reproduce.load(list(shipped.values()), check_kernel=False):
        assert exp.reference.source.message_id and exp.reference.compare


def test_an_unknown_name_or_a_scenario_without_reference_is_refused(tmp_path):
    with pytest.raises(InputError, match="no reproduction 'nosuch'"):
        reproduce.paths_for(["nosuch"])
    plain = Path(__file__).parent.parent / "scenarios" / "migration.yaml"
    with pytest.raises(InputError, match="needs a reference"):
        reproduce.load([plain], check_kernel=False)


# ------------------------------------------------------------------ conditions

def test_conditions_override_key_paths_and_name_each_variant():
    from harness import conditions
    from harness.schema import At
    raw = {"name": "x", "guest": {"thp": "never", "cgroups": {"a": {"memory.max": "1G"}}},
           "damon": {"kdamonds": [{"contexts": [{"schemes": [{"action": "collapse"}]}]}]},
           "reference": {}, "conditions": {
               "madvise": {"guest.thp": "madvise",
                           "damon.kdamonds[0].contexts[0].schemes[0].action": "hugepage",
                           "guest.cgroups.a.memory.max": "2G"}}}
    [(cond, doc)] = conditions.variants(raw, At("f.yaml"))
    assert cond == "madvise" and doc["name"] == "x-madvise"
    assert doc["guest"]["thp"] == "madvise" and doc["guest"]["cgroups"]["a"]["memory.max"] == "2G"
    assert doc["damon"]["kdamonds"][0]["contexts"][0]["schemes"][0]["action"] == "hugepage"
    assert "reference" not in doc and "conditions" not in doc
    assert raw["guest"]["thp"] == "never"
    for bad, words in (({"damon.kdamonds[3].x": 1}, "no item 3"),
                       ({"nosuch.thp": 1}, "no key 'nosuch'")):
        raw["conditions"] = {"c": bad}
        with pytest.raises(InputError, match=words):
            conditions.variants(raw, At("f.yaml"))


def test_a_control_extends_a_reproduction_and_saves_it_whole(tmp_path):
    """The shipped control is hotcold-tiering with one override: its demote
    scheme only counts, and the 50 MiB idle part must not reach the slow node.
    Its saved copy stands alone, so --report-only can load it."""
    control = reproduce.REPRODUCTION_DIR / "controls" / "hotcold-tiering-no-demotion.yaml"
    exp = reproduce.load_one(control, check_kernel=False)
    base = reproduce.load_one(reproduce.REPRODUCTION_DIR / "hotcold-tiering.yaml",
                              check_kernel=False)
    sc, orig = exp.variants[""], base.variants[""]
    assert exp.name == sc.name == "hotcold-tiering-no-demotion"
    assert [s.action for s in sc.damon.kdamonds[0].contexts[0].schemes] == \
        ["migrate_hot", "stat"]
    assert [e.should for e in sc.expect] == ["pass"] * 3 + ["fail"] + ["pass"] * 2
    assert sc.workloads == orig.workloads and sc.reference == orig.reference
    reproduce.save_inputs(exp, tmp_path, "k")
    again = reproduce.load_one(tmp_path / reproduce.SAVED, check_kernel=False)
    assert again.variants[""].damon == sc.damon and again.variants[""].expect == sc.expect


def test_the_collapse_reproduction_has_three_conditions_and_prefixed_figures():
    [exp] = reproduce.load([reproduce.available()["collapse-vs-hugepage"]], check_kernel=False)
    assert list(exp.variants) == ["never-hugepage", "madvise-hugepage", "never-collapse"]
    assert exp.variants["madvise-hugepage"].guest.thp == "madvise"
    assert exp.variants["never-hugepage"].damon.kdamonds[0].contexts[0].schemes[0].action \
        == "hugepage"
    assert exp.reference.mapping["never-collapse-final"] == \
        "never-collapse: huge pages at the end"


# ------------------------------------------------------------------ report-only

REFERENCE = {
    "source": {"message_id": "1234@example.org", "list": "damon", "authors": ["A Author"],
               "date": "2024-01-17"},
    "setup": "two nodes, one CPU-less",
    "published": {"promote": {"value": 2, "unit": "s"}, "demote": {"value": 6, "unit": "s"}},
    "mapping": {"promote": PROMOTED,
                "demote": "idle region demoted to node 1: time to reach"},
    "compare": [{"kind": "order", "of": ["promote", "demote"]}],
}


def saved_reproduction(tmp_path, runs=("run-1", "run-2")):
    """A reproduce output directory made of the captured migration run."""
    import shutil
    import yaml
    out = tmp_path / "results" / "migration"
    out.mkdir(parents=True)
    raw = yaml.safe_load((RUNS / "migration" / "scenario.yaml").read_text())
    raw["reference"] = REFERENCE
    (out / reproduce.SAVED).write_text(yaml.safe_dump(raw))
    (out / reproduce.KERNEL).write_text("7.2.13 (test)\n")
    for name in runs:
        shutil.copytree(RUNS / "migration", out / name)
    return out


def test_report_only_judges_the_saved_runs_again(tmp_path):
    out = saved_reproduction(tmp_path)
    (out / "run-3").mkdir()                       # interrupted: no result.json
    skipped = []
    rep, kernel = reproduce.rejudge(out, echo=skipped.append)
    assert kernel == "7.2.13 (test)" and rep.verdict == REPRODUCED
    assert len(rep.results[""]) == 2 and rep.figures["promote"].runs == 2
    assert skipped and "run-3" in skipped[0]


def test_report_only_from_the_command_line_rewrites_the_reports(tmp_path):
    import subprocess
    import sys
    from harness.paths import REPO_ROOT
    out = saved_reproduction(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "harness", "reproduce", "--report-only",
                           str(out.parent)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "reproduce migration: REPRODUCED" in proc.stdout
    assert (out / "report.txt").read_text() in proc.stdout
    assert json.loads((out / "report.json").read_text())["kernel"] == "7.2.13 (test)"
    refused = subprocess.run([sys.executable, "-m", "harness", "reproduce", "--report-only",
                              str(out), "--repeat", "3"], cwd=REPO_ROOT, capture_output=True,
                             text=True)
    assert refused.returncode == 2 and "--repeat" in refused.stderr


CAPTURED = Path(__file__).parent.parent / "data" / "reproductions"


def test_a_captured_three_condition_reproduction_is_judged_again(tmp_path):
    """collapse-vs-hugepage as it ran on a real guest (default kernel, one run
    per condition): every comparison holds, and each condition's run was
    saved as that condition's scenario, not the reproduction file."""
    import shutil
    out = tmp_path / "collapse-vs-hugepage"
    shutil.copytree(CAPTURED / "collapse-vs-hugepage", out)
    rep, kernel = reproduce.rejudge(out)
    assert kernel.startswith("7.2.13")
    assert list(rep.results) == ["never-hugepage", "madvise-hugepage", "never-collapse"]
    assert rep.verdict == REPRODUCED
    assert rep.figures["never-hugepage-final"].values == [0.0]
    assert rep.figures["never-collapse-final"].median == 188 << 20
    assert rep.figures["never-collapse-ramp"].median < rep.figures["madvise-hugepage-ramp"].median
    body = reproduce.write(rep, kernel, out)
    assert "ours 0.0 MiB <= 2.0 MiB" in body
    assert (out / "collapse-vs-hugepage.png").stat().st_size > 1000


def test_a_condition_run_saves_its_own_scenario(tmp_path):
    import yaml
    from harness import engine
    [exp] = reproduce.load([reproduce.available()["collapse-vs-hugepage"]])
    engine._save_scenario(exp.variants["madvise-hugepage"], tmp_path)
    saved = yaml.safe_load((tmp_path / "scenario.yaml").read_text())
    assert "conditions" not in saved and saved["guest"]["thp"] == "madvise"
    assert saved["name"] == "collapse-vs-hugepage-madvise-hugepage"


def test_a_run_of_an_extending_file_saves_what_ran_not_the_file(tmp_path):
    """The control's run saved its `extends:` file, which judge then refused."""
    import yaml
    from harness import engine, judge
    control = reproduce.REPRODUCTION_DIR / "controls" / "hotcold-tiering-no-demotion.yaml"
    sc = reproduce.load_one(control, check_kernel=False).variants[""]
    engine._save_scenario(sc, tmp_path)
    saved = yaml.safe_load((tmp_path / "scenario.yaml").read_text())
    assert "extends" not in saved and "overrides" not in saved
    assert saved["damon"]["kdamonds"][0]["contexts"][0]["schemes"][1]["action"] == "stat"
    (tmp_path / "result.json").write_text("{}")
    assert judge.load_run(tmp_path).expect[3].should == "fail"
    plain = reproduce.REPRODUCTION_DIR / "hotcold-tiering.yaml"
    engine._save_scenario(reproduce.load_one(plain, check_kernel=False).variants[""], tmp_path)
    assert (tmp_path / "scenario.yaml").read_text() == plain.read_text()


def test_a_captured_memcg_reproduction_compares_scale_free_figures(tmp_path):
    """memcg-moving-window as it ran on a real guest: both cgroups' relative
    error and relative spread within the published ones' bands."""
    import shutil
    out = tmp_path / "memcg-moving-window"
    shutil.copytree(CAPTURED / "memcg-moving-window", out)
    rep, _ = reproduce.rejudge(out)
    assert rep.verdict == REPRODUCED
    assert 0 < rep.figures["a-error"].median < 16.5 and 0 < rep.figures["b-spread"].median < 29
    assert rep.figures["a-node0"].median < rep.figures["b-node0"].median
    assert [o.verdict for o in rep.outcomes] == [REPRODUCED] * 5


def test_list_names_every_reproduction_with_its_source_and_conditions():
    import subprocess
    import sys
    from harness.paths import REPO_ROOT
    proc = subprocess.run([sys.executable, "-m", "harness", "reproduce", "--list"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name, exp in reproduce.available().items():
        assert name in proc.stdout
    assert "<20260426231619.107231-5-sj@kernel.org>" in proc.stdout
    assert "conditions never-hugepage, madvise-hugepage, never-collapse" in proc.stdout


def test_a_captured_hot_cold_reproduction_puts_each_part_on_its_tier(tmp_path):
    """hotcold-tiering as it ran on a real guest (fvaddr, flat-out workloads):
    every hot part on node 0 and every idle part on node 2 at the end."""
    import shutil
    out = tmp_path / "hotcold-tiering"
    shutil.copytree(CAPTURED / "hotcold-tiering", out)
    rep, _ = reproduce.rejudge(out)
    assert rep.verdict == REPRODUCED
    sizes = {"p3-node0": 3, "p3-node2": 5, "p30-node0": 30, "p30-node2": 50,
             "p300-node0": 300, "p300-node2": 500}
    for name, mib in sizes.items():
        assert rep.figures[name].median >= 0.95 * (mib << 20), name
