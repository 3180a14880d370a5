"""Which boot crashes are retried as the emulator's race, and what is kept."""

import json

from harness.vm.machine import is_tcg_boot_race, set_aside_attempt
from harness.verdict import RunEnded, Verdict

INT3 = "oops: [    1.163096] Oops: int3: 0000 [#1] SMP NOPTI"


def test_int3_oops_under_tcg_is_the_known_race():
    assert is_tcg_boot_race("tcg", RunEnded(Verdict.CRASH, INT3))


def test_int3_oops_under_kvm_is_not_retried():
    assert not is_tcg_boot_race("kvm", RunEnded(Verdict.CRASH, INT3))


def test_other_crashes_and_verdicts_are_not_retried():
    panic = "panic: Kernel panic - not syncing: VFS: Unable to mount root fs"
    assert not is_tcg_boot_race("tcg", RunEnded(Verdict.CRASH, panic))
    assert not is_tcg_boot_race("tcg", RunEnded(Verdict.CRASH, "oops: Oops: 0002 [#1]"))
    assert not is_tcg_boot_race("tcg", RunEnded(Verdict.BOOT_FAIL, INT3))


def test_failed_attempt_keeps_its_console_and_metadata(tmp_path, capsys):
    (tmp_path / "console.log").write_text("boot one\n")
    (tmp_path / "vm.json").write_text(json.dumps({"accel": "tcg"}))
    kept = set_aside_attempt(tmp_path, 1, RunEnded(Verdict.CRASH, INT3))
    assert (tmp_path / "console.boot1.log").read_text() == "boot one\n"
    assert (tmp_path / "vm.boot1.json").exists()
    assert not (tmp_path / "console.log").exists()
    assert kept == {"attempt": 1, "verdict": "CRASH", "reason": INT3,
                    "console": "console.boot1.log", "vm": "vm.boot1.json"}
    assert "console.boot1.log" in capsys.readouterr().err
