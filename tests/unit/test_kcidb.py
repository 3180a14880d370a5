"""KCIDB output, validated with kcidb-io (the KCIDB I/O library's own schema),
on results and kernel records captured from real runs."""

import json
import shutil
from pathlib import Path

from kcidb_io.schema import V4_5 as kcidb_schema

from harness import judge, kcidb, report
from harness.selftests.results import TestResult

DATA = Path(__file__).parent.parent / "data"
SELFTESTS = json.loads((DATA / "selftests" / "default-7.3.4" / "results.json").read_text())


def scenario_result(tmp_path, name="collapse", vm="vm-debian-kernel.json"):
    run = tmp_path / name
    shutil.copytree(DATA / "runs" / name, run)
    if vm:
        shutil.copyfile(DATA / "kcidb" / vm, run / "vm.json")
    result, _ = judge.judge_dir(run)
    result.run_dir = str(run)
    return result


def test_a_suites_kcidb_file_validates_and_names_the_debian_kernel(tmp_path):
    results = [scenario_result(tmp_path), scenario_result(tmp_path, "migration")]
    path = report.write_reports(results, tmp_path / "out")["kcidb"]
    doc = json.loads(path.read_text())
    kcidb_schema.validate(doc)
    assert doc["version"] == {"major": 4, "minor": 5}
    assert len(doc["checkouts"]) == len(doc["builds"]) == 1     # one kernel, once
    assert "linux-image-7.2.13+deb14-cloud-amd64" in doc["checkouts"][0]["comment"]
    assert [t["path"] for t in doc["tests"]] == ["damon_harness.collapse",
                                                 "damon_harness.migration"]
    assert {t["status"] for t in doc["tests"]} == {"PASS"}
    assert "QEMU tcg guest" in doc["tests"][0]["environment"]["comment"]


def test_selftests_on_a_built_kernel_validate_with_its_source_and_fragments(tmp_path):
    results = [TestResult.from_dict(t) for t in SELFTESTS["tests"]]
    doc = kcidb.Document()
    kcidb.add_selftests(doc, results, SELFTESTS["kernel"], "run-1")
    data = doc.to_dict()
    kcidb_schema.validate(data)
    build = data["builds"][0]
    assert build["config_name"].startswith("base+guest+damon") and build["compiler"]
    assert data["checkouts"][0]["patchset_hash"] == ""          # no patches
    paths = {t["path"]: t["status"] for t in data["tests"]}
    assert any(p.startswith("kselftest.damon.") for p in paths)
    assert any(p.startswith("kunit.") for p in paths)
    assert len(paths) == len(results)


def test_statuses_map_to_kcidbs_and_a_flaky_result_is_no_pass(tmp_path):
    result = scenario_result(tmp_path)
    result.verdict = "FLAKY"
    lost = scenario_result(tmp_path, "hint-path", vm=None)
    lost.verdict = "ERROR"
    doc = kcidb.Document()
    kcidb.add_scenarios(doc, [result, lost])
    data = doc.to_dict()
    kcidb_schema.validate(data)
    assert [t["status"] for t in data["tests"]] == ["FAIL", "ERROR"]
    assert data["tests"][0]["misc"]["verdict"] == "FLAKY"
    assert len(data["builds"]) == 2 and "valid" not in data["builds"][1]


def test_the_same_kernel_gets_the_same_ids_and_patches_their_hash():
    kernel = SELFTESTS["kernel"]
    assert kcidb.checkout_and_build(kernel) == kcidb.checkout_and_build(json.loads(
        json.dumps(kernel)))
    patched = json.loads(json.dumps(kernel))
    patched["origin"]["patches"] = [{"name": "0001-x.patch", "sha256": "a" * 64}]
    checkout, build = kcidb.checkout_and_build(patched)
    assert checkout["id"] != kcidb.checkout_and_build(kernel)[0]["id"]
    import hashlib
    assert checkout["patchset_hash"] == hashlib.sha256(("a" * 64 + "\n").encode()).hexdigest()
    assert kcidb.path_part("sysfs.sh") == "sysfs_sh"


def test_a_run_skipped_before_boot_names_the_kernel_it_was_given(tmp_path):
    from harness import rundir
    result = scenario_result(tmp_path, vm=None)
    rundir.save_kernel(tmp_path / "collapse", SELFTESTS["kernel"])
    result.verdict = "SKIP"
    doc = kcidb.Document()
    kcidb.add_scenarios(doc, [result])
    data = doc.to_dict()
    kcidb_schema.validate(data)
    assert data["tests"][0]["status"] == "SKIP"
    assert data["builds"][0]["config_name"].startswith("base+guest+damon")
