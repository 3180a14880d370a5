"""Output and cache paths that cannot be directories are bad input, not tracebacks."""

import os

import pytest

from harness.errors import InputError
from harness.paths import cache_dir, check_output_dir, new_run_dir, results_dir


def test_output_dir_may_exist_or_be_created(tmp_path):
    assert check_output_dir(tmp_path, "--out") == tmp_path
    assert check_output_dir(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()


def test_output_dir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match=r"^--out: .*/f exists and is not a directory$"):
        check_output_dir(tmp_path / "f", "--out")
    with pytest.raises(InputError, match=r"^--out: .*/f exists and is not a directory$"):
        check_output_dir(tmp_path / "f" / "sub", "--out")


def test_output_dir_under_a_dangling_symlink(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(InputError, match="link exists and is not a directory"):
        check_output_dir(tmp_path / "link" / "x", "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_dir_in_a_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    with pytest.raises(InputError, match="cannot write in"):
        check_output_dir(ro / "out", "--out")


def test_results_variable_naming_a_file(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("DAMON_HARNESS_RESULTS", str(tmp_path / "file"))
    with pytest.raises(InputError, match=r"^DAMON_HARNESS_RESULTS: .*file exists and is not"):
        results_dir()
    with pytest.raises(InputError, match="DAMON_HARNESS_RESULTS"):
        new_run_dir("boot")


def test_results_variable_creates_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_RESULTS", str(tmp_path / "r"))
    run = new_run_dir("boot")
    assert run.parent == tmp_path / "r" and run.is_dir()


def test_cache_component_that_is_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "work").write_text("x")
    with pytest.raises(InputError, match=r"^DAMON_HARNESS_CACHE: .*cache/work is in the cache's"):
        cache_dir("work", "slot")
    with pytest.raises(InputError, match=r"cache/work is in the cache's way"):
        cache_dir("work")
    assert cache_dir("kernels") == tmp_path / "cache" / "kernels"


def test_cache_root_that_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("x")
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="DAMON_HARNESS_CACHE: .*cache is in the cache's way"):
        cache_dir()


def test_check_results_dir_creates_nothing(tmp_path, monkeypatch):
    from harness.paths import check_results_dir
    monkeypatch.setenv("DAMON_HARNESS_RESULTS", str(tmp_path / "r"))
    assert check_results_dir() == tmp_path / "r" and not (tmp_path / "r").exists()


def test_boot_checks_results_and_recipe_before_fetching_a_kernel(tmp_path, monkeypatch):
    from harness.cli import make_parser
    from harness.commands import boot as boot_cmd
    monkeypatch.setattr(boot_cmd, "kernel_from", lambda args: pytest.fail("kernel fetched"))
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("DAMON_HARNESS_RESULTS", str(tmp_path / "file"))
    args = make_parser().parse_args(["boot"])
    args.guest_cmd = []
    with pytest.raises(InputError, match="DAMON_HARNESS_RESULTS"):
        args.func(args)
    monkeypatch.setenv("DAMON_HARNESS_RESULTS", str(tmp_path / "r"))
    args = make_parser().parse_args(["boot", "--image", str(tmp_path / "no-recipe")])
    args.guest_cmd = []
    with pytest.raises(InputError, match="--image: no such image recipe"):
        args.func(args)
