"""run --kernels: its items checked before anything is fetched or built, and
one table of scenario x kernel from the runs' results."""

import pytest

from harness.commands.kernels import parse_kernels
from harness.errors import InputError
from harness.report import ScenarioResult, matrix, matrix_table, result_dict
from harness.verdict import Verdict


def test_items_are_checked_before_anything_is_fetched(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path / "cache"))
    assert parse_kernels("debian:6.1,debian:7.3,default") == ["debian:6.1", "debian:7.3",
                                                              "default"]
    with pytest.raises(InputError, match="--kernels: debian:6.1 is given twice"):
        parse_kernels("debian:6.1,debian:7.3,debian:6.1")
    with pytest.raises(InputError, match="--kernels: Debian has no linux-source for debian:4.19"):
        parse_kernels("debian:4.19")
    with pytest.raises(InputError, match="--kernels: nosuch: not debian:VERSION"):
        parse_kernels("debian:7.3,nosuch")
    with pytest.raises(InputError, match="an empty item"):
        parse_kernels("debian:7.3,,default")
    assert not (tmp_path / "cache").exists()


def result(name, kernel, verdict, message=""):
    return ScenarioResult(name=name, verdict=verdict, kernel_label=kernel, message=message)


def test_the_table_has_a_row_per_scenario_a_column_per_kernel_and_says_why():
    results = [result("collapse", "debian:6.1", Verdict.SKIP, "kernel lacks DAMOS action collapse"),
               result("hint-path", "debian:6.1", Verdict.PASS),
               result("collapse", "debian:7.3", Verdict.PASS),
               result("hint-path", "debian:7.3", Verdict.PASS)]
    assert matrix(results) == {"collapse": {"debian:6.1": ["SKIP"], "debian:7.3": ["PASS"]},
                               "hint-path": {"debian:6.1": ["PASS"], "debian:7.3": ["PASS"]}}
    lines = matrix_table(results).splitlines()
    assert lines[0].split() == ["scenario", "debian:6.1", "debian:7.3"]
    assert lines[1].split() == ["collapse", "SKIP", "PASS"]
    assert lines[-1] == ("  collapse on debian:6.1: SKIP: kernel lacks DAMOS action collapse")
    assert result_dict(results[0])["kernel"] == "debian:6.1"


def test_a_matrix_suite_writes_its_table_for_a_mail(tmp_path):
    from harness.report import write_reports
    results = [result("collapse", "debian:6.1", Verdict.SKIP, "kernel lacks DAMOS action collapse"),
               result("collapse", "debian:7.3", Verdict.PASS)]
    paths = write_reports(results, tmp_path)
    text = paths["matrix"].read_text()
    assert text.splitlines()[1].split() == ["collapse", "SKIP", "PASS"]
    assert "scenarios.debian:6.1" in paths["junit"].read_text()
