"""The engine's flow against a fake guest: no QEMU."""

import contextlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness import engine, judge
from harness.guest import setup as guest_setup
from harness.guest.protocol import Guest
from harness.metrics import SECTION
from harness.scenario import load_scenario, parse_scenario
from harness.verdict import RunEnded, Verdict

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
HOT = "region name=hot start=0x7f0000000000 end=0x7f0004000000 size=67108864"
COLD = "region name=cold start=0x7f0004200000 end=0x7f0008200000 size=67108864"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str = ""


class FakeVM(Guest):
    """Answers the engine's commands; hot_thp grows by 8 MiB per sample."""

    def __init__(self, run_dir, fail_on=None, lacks=""):
        self.run_dir = run_dir
        self.uploads = []
        self.commands = []
        self.samples = 0
        self.fail_on = fail_on
        self.lacks = lacks          # what the sysfs feature probe prints

    def upload(self, local, remote, mode=0o755):
        self.uploads.append((str(local), remote))

    def run(self, command, timeout=60, check=False):
        self.commands.append(command)
        if self.fail_on and self.fail_on in command:
            return Result(1, "", "sh: write error: Device or resource busy")
        if "meminfo" in command:
            return Result(0, "Node 0 MemTotal: 1048576 kB\nNode 0 MemFree: 1000 kB\n")
        if command.startswith("cat /tmp/workload-"):
            return Result(0, f"{HOT}\n{COLD}\nready pid=4242\n")
        if command.startswith(f"echo '{SECTION} uptime'"):
            return Result(0, self._sample())
        if "avail_operations" in command:
            return Result(0, self.lacks)
        return Result(0, "started\n" if "setsid" in command else "")

    def _sample(self):
        hot_kb = min(self.samples * 8, 64) * 1024
        self.samples += 1
        smaps = (f"7f0000000000-7f0004000000 rw-p 00000000 00:00 0\nAnonHugePages: {hot_kb} kB\n"
                 "7f0004200000-7f0008200000 rw-p 00000000 00:00 0\nAnonHugePages: 0 kB\n")
        return (f"{SECTION} uptime\n{10 + self.samples}.0 1.0\n"
                f"{SECTION} smaps toucher\n{smaps}"
                f"{SECTION} vmstat\nthp_fault_alloc 5\nthp_collapse_alloc {self.samples * 4}\n"
                f"{SECTION} damos collapse_hot\nstats/sz_applied:0\nquotas/effective_bytes:0\n")


def fast_collapse():
    """collapse.yaml sampled every 10 ms for 0.1 s: as data, so the run
    directory keeps the scenario that really ran."""
    raw = yaml.safe_load((SCENARIOS / "collapse.yaml").read_text())
    raw["sample"].update(interval=0.01, duration=0.1)
    for e in raw["expect"]:
        if "reaches" in e:
            e["reaches"]["within"] = 0.1
    return parse_scenario(raw, "collapse.yaml")


def test_run_drives_setup_damon_sampling_and_judging(tmp_path):
    sc = fast_collapse()
    vm = FakeVM(tmp_path)
    run = engine.Run(vm, sc, Path("/bin/true"))
    engine._drive(run)
    assert run.facts.pids == {"toucher": 4242}
    assert run.facts.regions["toucher"]["hot"] == (0x7f0000000000, 0x7f0004000000)
    assert vm.uploads == [("/bin/true", guest_setup.GUEST_BIN)]
    writes = (tmp_path / "damon-writes.txt").read_text()
    assert "pid_target = 4242" in writes and writes.rstrip().endswith("state = on")
    assert len(run.series["hot_thp"].values) == 11
    verdicts = {c.name: c.verdict for c in run.judge()}
    assert verdicts["hot region becomes huge"] == "PASS"
    assert verdicts["no THP at fault time"] == "PASS"
    assert (tmp_path / "damon-tree.txt").exists() and (tmp_path / "dmesg.txt").exists()
    first = vm.commands[0]
    assert "damon_stat" in first                     # DAMON_STAT is off before anything


def test_a_kernel_without_a_feature_the_scenario_uses_is_a_skip_before_damon_starts(tmp_path):
    from harness.verdict import RunEnded, Verdict
    vm = FakeVM(tmp_path, lacks="lacks action collapse\n")
    with pytest.raises(RunEnded) as ended:
        engine._drive(engine.Run(vm, fast_collapse(), Path("/bin/true")))
    assert ended.value.verdict == Verdict.SKIP
    assert str(ended.value.message) == "kernel lacks DAMOS action collapse"
    assert not (tmp_path / "damon-writes.txt").exists()       # DAMON never set up


def test_the_feature_probe_is_valid_shell_and_tries_each_feature():
    from harness.kernel import needs
    sc = load_scenario(SCENARIOS / "memcg-convergence.yaml")
    script = needs.probe_script(sc)
    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0
    assert needs.features(sc)[:2] == [("operations", "paddr"), ("action", "migrate_hot")]
    assert "target_metric" in script and script.rstrip().endswith("nr_kdamonds")


def test_a_failed_damon_write_is_a_setup_error(tmp_path):
    run = engine.Run(FakeVM(tmp_path, fail_on="state"), fast_collapse(), Path("/bin/true"))
    with pytest.raises(engine.GuestSetupError) as info:
        engine._drive(run)
    assert "Device or resource busy" in str(info.value)


def test_workload_command_joins_cgroup_then_execs():
    sc = load_scenario(SCENARIOS / "memcg-convergence.yaml")
    cmd = guest_setup.workload_command(sc.workloads["wa"])
    assert "echo $$ > /sys/fs/cgroup/a/cgroup.procs; exec numactl --physcpubind=0" in cmd
    assert "--first-touch-node 1" in cmd and cmd.startswith("setsid sh -c")
    assert subprocess.run(["sh", "-n", "-c", cmd]).returncode == 0


def test_guest_setup_script_is_valid_shell_and_records_values():
    for name in ("collapse", "hint-path", "memcg-convergence"):
        script = guest_setup.guest_setup_script(load_scenario(SCENARIOS / f"{name}.yaml"))
        assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0
        assert "before: numa_balancing" in script and "after: thp" in script
    script = guest_setup.guest_setup_script(load_scenario(SCENARIOS / "hint-path.yaml"))
    assert "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled" in script
    assert "scan_sleep_millisecs" in script


def _fake_boot(exc):
    @contextlib.contextmanager
    def boot(*args, **kwargs):
        raise exc
        yield  # pragma: no cover
    return boot


def test_run_scenario_turns_a_crash_into_its_verdict(tmp_path, monkeypatch):
    import harness.vm.machine as machine
    monkeypatch.setattr(machine, "boot", _fake_boot(
        RunEnded(Verdict.CRASH, "BUG: unable to handle page fault", "[ 1.0] BUG: ...")))
    monkeypatch.setattr("harness.workloads.build.build", lambda name="hotcold": Path("/bin/true"))
    result = engine.run_scenario(fast_collapse(), run_dir=tmp_path)
    assert result.verdict == "CRASH" and "page fault" in result.message
    assert (tmp_path / "scenario.yaml").exists() and (tmp_path / "result.json").exists()
    assert engine.exit_code([result]) == 4


def test_run_scenario_setup_failure_is_error(tmp_path, monkeypatch):
    import harness.vm.machine as machine
    monkeypatch.setattr(machine, "boot", _fake_boot(engine.GuestSetupError("guest setup failed: x")))
    monkeypatch.setattr("harness.workloads.build.build", lambda name="hotcold": Path("/bin/true"))
    result = engine.run_scenario(fast_collapse(), run_dir=tmp_path)
    assert result.verdict == "ERROR" and "guest setup failed" in result.message


def test_parse_state_lines():
    text = "before: thp=always [madvise] never\nbefore: numa_balancing=1\nafter: numa_balancing=0\n"
    assert guest_setup.parse_state_lines(text) == {"before thp": "always [madvise] never",
                                              "before numa_balancing": "1",
                                              "after numa_balancing": "0"}


def test_run_scenario_unexpected_exception_is_error(tmp_path, monkeypatch):
    import harness.vm.machine as machine
    monkeypatch.setattr(machine, "boot", _fake_boot(OSError("connection reset")))
    monkeypatch.setattr("harness.workloads.build.build", lambda name="hotcold": Path("/bin/true"))
    result = engine.run_scenario(fast_collapse(), run_dir=tmp_path)
    assert result.verdict == "ERROR" and "OSError: connection reset" in result.message


def _boot_fake_vm(vm):
    @contextlib.contextmanager
    def boot(*args, **kwargs):
        yield vm
    return boot


def test_a_run_directory_is_judged_again_to_the_same_numbers(tmp_path, monkeypatch):
    """The live run and `judge RUN_DIR` give the same verdicts and numbers;
    edited expectations give new ones, without a guest."""
    import harness.vm.machine as machine
    monkeypatch.setattr(machine, "boot", _boot_fake_vm(FakeVM(tmp_path)))
    monkeypatch.setattr("harness.workloads.build.build", lambda name="hotcold": Path("/bin/true"))
    live = engine.run_scenario(fast_collapse(), run_dir=tmp_path)
    assert live.verdict == Verdict.PASS
    again, recorded = judge.judge_dir(tmp_path)
    assert judge.differences(again, recorded) == []
    assert [(c.verdict, c.summary) for c in again.checks] == \
        [(c.verdict, c.summary) for c in live.checks]
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text("expect:\n  - metric: hot_thp\n    reaches: {at_least: 100%, "
                        "within: 0.05s}\n")
    edited, _ = judge.judge_dir(tmp_path, stricter)
    assert edited.verdict == Verdict.FAIL and len(edited.checks) == 1


def test_a_next_phase_step_signals_the_workload_to_end_its_phase():
    from harness.rundir import RunFacts
    sc = load_scenario(SCENARIOS / "monitoring-adaptation.yaml")
    [move] = sc.steps
    assert engine.step_command(move, sc, RunFacts(pids={"toucher": 4321})) == "kill -USR1 4321"
