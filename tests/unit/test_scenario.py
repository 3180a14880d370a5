"""Scenario parsing and validation: every error names the file and key path."""

import copy
from pathlib import Path

import pytest
import yaml

from harness.errors import InputError
from harness.scenario import U32_MAX, U64_MAX, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

BASE = {
    "topology": "two-node",
    "guest": {"thp": "never", "numa_balancing": 0,
              "cgroups": {"a": {"memory.max": "512M"}}},
    "workloads": {"w": {"hot": "64MiB", "cold": "32MiB", "cgroup": "a", "cpus": [0]}},
    "damon": {"kdamonds": [{"contexts": [{
        "operations": "vaddr",
        "targets": [{"workload": "w"}],
        "schemes": [{
            "name": "s",
            "action": "collapse",
            "access_pattern": {"sz": ["2MiB", "max"], "nr_accesses": ["10%", "max"],
                               "age": [5, "max"]},
            "quotas": {"reset_interval_ms": 1000, "goal_tuner": "temporal",
                       "goals": [{"metric": "node_memcg_used_bp", "value": "10%",
                                  "nid": 0, "cgroup": "a"}]},
            "filters": [{"type": "memcg", "cgroup": "a", "allow": True}],
        }],
    }]}]},
    "sample": {"interval": "1s", "duration": "40s",
               "metrics": {"hot": {"smaps": "w.hot"},
                           "fa": {"vmstat": "thp_fault_alloc"},
                           "n0": {"memcg_numa": "a", "node": 0},
                           "st": {"damos": "s"}}},
    "expect": [
        {"metric": "hot", "reaches": {"at_least": "50%", "within": "30s"}},
        {"metric": "fa", "stays": {"at_most": 0, "delta": True}},
        {"metric": "n0", "converges": {"target": "1000bp", "tolerance": "15%",
                                       "settle": "10s", "samples": 20}},
    ],
}


def parse(mutate=None):
    raw = copy.deepcopy(BASE)
    if mutate:
        mutate(raw)
    return parse_scenario(raw, "t.yaml", "t.yaml")


def error_of(mutate) -> str:
    with pytest.raises(InputError) as info:
        parse(mutate)
    return str(info.value)


def ctx(raw):
    return raw["damon"]["kdamonds"][0]["contexts"][0]


def scheme(raw):
    return ctx(raw)["schemes"][0]


def test_base_parses_into_typed_values():
    sc = parse()
    assert sc.name == "t"
    assert sc.workloads["w"].hot == 64 << 20
    assert sc.workloads["w"].program_args()[:2] == ["--hot", str(64 << 20)]
    s = sc.damon.kdamonds[0].contexts[0].schemes[0]
    assert s.access_pattern.sz == (2 << 20, U64_MAX)
    assert s.access_pattern.nr_accesses == (2, U32_MAX)   # 10 % of 20
    assert s.quotas.goals[0].value == 1000
    assert s.filters[0].layer == "ops"
    assert sc.sample.interval == 1.0 and sc.sample.duration == 40.0
    assert sc.expect[0].rule.at_least.fraction and sc.expect[0].rule.at_least.value == 0.5
    assert sc.expect[2].rule.target.value == pytest.approx(0.1)
    assert sc.expect[1].delta is True


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_builtin_scenarios_are_valid(path):
    sc = load_scenario(path)
    assert sc.expect


def test_every_builtin_has_a_negative_control():
    names = {p.stem for p in SCENARIOS.glob("*.yaml")}
    for main in ("collapse", "hint-path", "migration", "memcg-convergence"):
        assert main in names
        assert any(n.startswith(main.split("-")[0]) and n.endswith("-control")
                   for n in names), main
    for p in SCENARIOS.glob("*-control.yaml"):
        assert any(e.should == "fail" for e in load_scenario(p).expect), p.stem


@pytest.mark.parametrize("mutate, where, words", [
    (lambda r: r.update(bogus=1), "t.yaml: bogus", "unknown key"),
    (lambda r: r["workloads"]["w"].update(hott=1), "t.yaml: workloads.w.hott", "unknown key"),
    (lambda r: r["workloads"]["w"].update(hot="lots"), "t.yaml: workloads.w.hot", "not a size"),
    (lambda r: r["workloads"]["w"].update(cgroup="zz"), "t.yaml: workloads.w.cgroup",
     "unknown cgroup 'zz'"),
    (lambda r: r["workloads"]["w"].update(cpus=[5]), "t.yaml: workloads.w.cpus",
     "CPU 5 does not exist"),
    (lambda r: r["workloads"]["w"].update(first_touch_node=3),
     "t.yaml: workloads.w.first_touch_node", "node 3 does not exist"),
    (lambda r: r["workloads"]["w"].update(hot="4G"), "t.yaml: workloads.w", "does not fit"),
    (lambda r: r["workloads"]["w"].update(small_vma_below="2MiB"),
     "t.yaml: workloads.w.small_vma_below", "less than a 2 MiB huge page"),
    (lambda r: r["workloads"]["w"].update(small_vma_below=6000),
     "t.yaml: workloads.w.small_vma_below", "whole 4 KiB pages"),
    (lambda r: r["sample"]["metrics"].update(k={"kretprobe": "madvise_collapse; reboot",
                                                "ret": -22}),
     "t.yaml: sample.metrics.k.kretprobe", "not a kernel function name"),
    (lambda r: r["sample"]["metrics"].update(k={"kretprobe": "madvise_collapse"}),
     "t.yaml: sample.metrics.k.ret", "is required"),
    (lambda r: r["workloads"]["w"].update(phases="hot:1,nap:2"),
     "t.yaml: workloads.w.phases[1]", "not one of"),
    (lambda r: ctx(r)["targets"][0].update(workload="nope"),
     "t.yaml: damon.kdamonds[0].contexts[0].targets[0].workload", "unknown workload"),
    (lambda r: scheme(r).update(action="colapse"),
     "t.yaml: damon.kdamonds[0].contexts[0].schemes[0].action", "not one of"),
    (lambda r: scheme(r)["access_pattern"].pop("age"),
     "t.yaml: damon.kdamonds[0].contexts[0].schemes[0].access_pattern.age", "is required"),
    (lambda r: scheme(r)["access_pattern"].update(nr_accesses=[30, "max"]),
     "schemes[0].access_pattern.nr_accesses.min", "can never be seen"),
    (lambda r: scheme(r)["access_pattern"].update(sz=["4MiB", "2MiB"]),
     "schemes[0].access_pattern.sz", "greater than max"),
    (lambda r: scheme(r)["quotas"]["goals"][0].update(cgroup="b"),
     "schemes[0].quotas.goals[0].cgroup", "unknown cgroup 'b'"),
    (lambda r: scheme(r)["quotas"]["goals"][0].update(value=0),
     "schemes[0].quotas.goals[0].value", "skipped silently"),
    (lambda r: scheme(r)["quotas"]["goals"][0].pop("nid"),
     "schemes[0].quotas.goals[0].nid", "needs nid"),
    (lambda r: scheme(r)["quotas"]["goals"][0].update(nid=2),
     "schemes[0].quotas.goals[0].nid", "node 2 does not exist"),
    (lambda r: scheme(r)["filters"][0].update(cgroup="x"),
     "schemes[0].filters[0].cgroup", "unknown cgroup"),
    (lambda r: scheme(r)["filters"][0].update(type="addr"),
     "schemes[0].filters[0].cgroup", "takes no cgroup"),
    (lambda r: ctx(r).update(operations="paddr", targets=[{"nodes": [1]}]),
     "schemes[0].action", "needs vaddr"),
    (lambda r: scheme(r).update(action="migrate_hot"),
     "schemes[0].target_nid", "needs target_nid"),
    (lambda r: r["sample"]["metrics"].update(x={"smaps": "v.hot"}),
     "t.yaml: sample.metrics.x.smaps", "unknown workload 'v'"),
    (lambda r: r["sample"]["metrics"].update(x={"smaps": "w.warm"}),
     "t.yaml: sample.metrics.x.smaps", "has no region 'warm'"),
    (lambda r: r["sample"]["metrics"].update(x={"damos": "nos"}),
     "t.yaml: sample.metrics.x.damos", "unknown scheme"),
    (lambda r: r["sample"]["metrics"].update(x={"memcg_numa": "q", "node": 0}),
     "t.yaml: sample.metrics.x.memcg_numa", "unknown cgroup"),
    (lambda r: r["sample"]["metrics"].update(x={"sizes": 1}),
     "t.yaml: sample.metrics.x", "exactly one source"),
    (lambda r: r["expect"][0].update(metric="nope"), "t.yaml: expect[0].metric",
     "unknown metric 'nope'"),
    (lambda r: r["expect"][1]["stays"].update(at_most="5%"), "t.yaml: expect[1].stays.at_most",
     "needs a reference"),
    (lambda r: r["expect"][0]["reaches"].update(within="90s"),
     "t.yaml: expect[0].reaches.within", "longer than sample.duration"),
    (lambda r: r["expect"][2]["converges"].update(samples=100),
     "t.yaml: expect[2].converges.samples", "do not fit"),
    (lambda r: r["expect"][0].update(stays={"at_most": 1}), "t.yaml: expect[0]",
     "exactly one of"),
    (lambda r: r["expect"][0].update(should="maybe"), "t.yaml: expect[0].should",
     "not one of"),
    (lambda r: r.update(topology="no-such-topology"), "t.yaml: topology",
     "no such file or built-in"),
    (lambda r: r.update(topology={"nodes": [{"id": 0, "memory": "1G", "cpus": []}]}),
     "topology", "no node has a CPU"),
    (lambda r: r["guest"].update(thp="sometimes"), "t.yaml: guest.thp", "not one of"),
    (lambda r: r["guest"].update(numa_balancing="off"), "t.yaml: guest.numa_balancing",
     "must be an integer"),
    (lambda r: r.pop("expect"), "t.yaml: expect", "is required"),
    (lambda r: r["damon"].update(module={"name": "damon_reclaim"}), "t.yaml: damon",
     "exactly one of"),
    (lambda r: r.update(damon={"module": {"name": "damon_hugepage", "workloads": ["zz"]}}),
     "t.yaml: damon.module.workloads[0]", "unknown workload 'zz'"),
])
def test_bad_input_names_file_and_key(mutate, where, words):
    message = error_of(mutate)
    assert where in message
    assert words in message
    assert message.startswith("t.yaml") or where == "topology"


def test_module_setup():
    def to_module(r):
        r["damon"] = {"module": {"name": "damon_lru_sort",
                                 "params": {"hot_thres_access_freq": 500}}}
        r["sample"]["metrics"].pop("st")
    sc = parse(to_module)
    assert sc.damon.module.params == {"hot_thres_access_freq": "500"}


def test_module_enabled_param_is_refused():
    def mutate(r):
        r["damon"] = {"module": {"name": "damon_lru_sort", "params": {"enabled": "Y"}}}
        r["sample"]["metrics"].pop("st")
    assert "damon.module.params.enabled" in error_of(mutate)


def test_paddr_target_nodes_and_dests_refused():
    def mutate(r):
        c = ctx(r)
        c.update(operations="paddr", targets=[{"nodes": [0, 1]}])
        c["schemes"][0].update(action="migrate_hot", target_nid=0,
                               dests=[{"nid": 0}])
    assert "dests is vaddr-only" in error_of(mutate)


def test_malformed_yaml_gives_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nworkloads: [\n")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert "bad.yaml line" in str(info.value)
    assert "malformed" in str(info.value)


def test_missing_file():
    with pytest.raises(InputError):
        load_scenario("/nonexistent/x.yaml")


def test_roundtrip_through_yaml_text(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(BASE))
    sc = load_scenario(path)
    assert sc.name == "ok" and sc.path == str(path)


def _module_scenario(r):
    r["damon"] = {"module": {"name": "damon_hugepage", "workloads": ["w"]}}
    r["sample"]["metrics"].pop("st")


@pytest.mark.parametrize("steps, where, words", [
    ([{"at": "5s", "params": {"monitored_pids": "{pid:nope}"}}],
     "t.yaml: steps[0].params.monitored_pids", "unknown workload 'nope'"),
    ([{"at": "50s", "run": "true"}], "t.yaml: steps[0].at", "longer than sample.duration"),
    ([{"at": "1s", "run": "true", "kill": "w"}], "t.yaml: steps[0]", "exactly one of"),
    ([{"at": "1s"}], "t.yaml: steps[0]", "exactly one of"),
    ([{"at": "1s", "run": "a", "name": "x"}, {"at": "2s", "run": "b", "name": "x"}],
     "t.yaml: steps[1].name", "used twice"),
    ([{"at": "1s", "run": "true", "should": "maybe"}], "t.yaml: steps[0].should",
     "not one of"),
])
def test_bad_steps(steps, where, words):
    message = error_of(lambda r: (_module_scenario(r), r.update(steps=steps)))
    assert where in message and words in message


def test_module_params_steps_need_a_module():
    message = error_of(lambda r: r.update(steps=[{"at": 1, "params": {"x": "1"}}]))
    assert "t.yaml: steps[0].params" in message and "needs damon.module" in message


def test_steps_parse_with_pid_references():
    sc = parse(lambda r: (_module_scenario(r), r.update(steps=[
        {"at": "2s", "params": {"monitored_pids": "{pid:w}", "commit_inputs": "Y"}},
        {"at": 3, "kill": "w", "should": "succeed"}])))
    assert [s.action for s in sc.steps] == ["params", "kill"]
    assert sc.steps[0].name == "params at 2 s"
    from harness.scenario import with_pids
    assert with_pids(sc.steps[0].params["monitored_pids"], {"w": 42}) == "42"


def test_stays_until_must_not_precede_after():
    message = error_of(lambda r: r["expect"][1]["stays"].update(after="20s", until="10s"))
    assert "t.yaml: expect[1].stays.until" in message and "before after" in message


@pytest.mark.parametrize("value, words", [
    ("150%", "outside 0..100 %"), ("-10%", "outside 0..100 %"), ("nan%", "outside"),
    (float("nan"), "finite"), (float("inf"), "finite"), ("lots", "not a size"),
])
def test_bounds_refuse_out_of_range_percentages_and_non_finite_numbers(value, words):
    message = error_of(lambda r: r["expect"][0]["reaches"].update(at_least=value))
    assert "t.yaml: expect[0].reaches.at_least" in message and words in message


TIMING_FREE = {"damon-hugepage-nocommit-control", "damon-hugepage-nopid-control",
               "hint-path-never-control", "memcg-wrong-node-control",
               "migration-nomatch-control", "monitoring-accuracy-idle-control",
               "monitoring-adaptation-no-move-control"}


def test_only_scenarios_whose_every_check_a_slower_guest_helps_are_timing_free():
    """collapse-stat-control must see its scheme try the hot region in time,
    migration-balancing-control must see hinting faults happen: a slower
    guest could fail both, so they run alone like every positive scenario.
    monitoring-overhead bounds kdamond's CPU cost from above, which a slower
    guest does not only lower."""
    found = {sc.name for sc in (load_scenario(p, check_kernel=False)
                                for p in SCENARIOS.glob("*.yaml"))
             if sc.timing_free}
    assert found == TIMING_FREE
