"""Property-based fuzzing of the input parsers with Hypothesis.

Whatever YAML-shaped value a user's file holds, the parsers either accept it
or raise InputError (one short line naming the key): never another exception,
which the CLI would print as a traceback. Random top-level values are mostly
refused at once, so the important properties start from a VALID scenario or
topology and replace, delete or add one thing at a random key path.
"""

import copy
import math
import resource
import time
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import InputError
from harness.scenario import parse_scenario
from harness.topology import parse_cpu_list, parse_topology
from harness.units import parse_size

U64_MAX = (1 << 64) - 1
MAX_ERROR = 300
MAX_CPUS = 64
QUICK_S = 1.0
# Room the parsers get above what the test process already maps: a CPU
# range or a size that makes them build a huge list ends in MemoryError
# (a failed property) instead of exhausting the host.
MEMORY_HEADROOM = 1 << 30

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

# ------------------------------------------------------------ valid inputs

BASE_SCENARIO = {
    "name": "fuzz",
    "description": "valid; every example changes one thing of it",
    "kernel": "default",
    "topology": "two-node",
    "guest": {"thp": "never", "numa_balancing": 0,
              "sysctls": {"vm.swappiness": 10},
              "cgroups": {"a": {"memory.max": "512M"}}},
    "workloads": {
        "toucher": {"hot": "64MiB", "cold": "64MiB", "rate": 0, "phases": "hot:30,idle:5",
                    "madvise": "none", "first_touch_node": 1, "cpus": [0],
                    "membind": [], "cgroup": "a", "tlb_flush_ms": 5},
    },
    "damon": {"kdamonds": [{
        "refresh_ms": 1000,
        "contexts": [{
            "operations": "vaddr",
            "intervals": {"sample_us": 5000, "aggr_us": 100000, "update_us": 1000000},
            "nr_regions": {"min": 10, "max": 1000},
            "targets": [{"workload": "toucher"}],
            "schemes": [{
                "name": "hot",
                "action": "migrate_hot",
                "target_nid": 0,
                "access_pattern": {"sz": ["4KiB", "max"], "nr_accesses": ["10%", "max"],
                                   "age": ["1s", "max"]},
                "quotas": {"bytes": "8MiB", "reset_interval_ms": 1000,
                           "goal_tuner": "temporal",
                           "goals": [{"metric": "node_memcg_used_bp", "value": "10%",
                                      "nid": 0, "cgroup": "a"}]},
                "filters": [{"type": "memcg", "cgroup": "a", "matching": True,
                             "allow": True}],
                "dests": [{"nid": 0, "weight": 1}],
            }],
        }],
    }]},
    "sample": {
        "interval": "1s",
        "duration": "40s",
        "metrics": {
            "hot_thp": {"smaps": "toucher.hot"},
            "hot_n0": {"numa_maps": "toucher.hot", "node": 0},
            "fault": {"vmstat": "thp_fault_alloc"},
            "a_n0": {"memcg_numa": "a", "node": 0, "field": "anon"},
            "applied": {"damos": "hot", "field": "sz_applied"},
            "free0": {"node_meminfo": 0, "field": "MemFree"},
            "nb": {"file": "/proc/sys/kernel/numa_balancing"},
        },
    },
    "expect": [
        {"name": "hot region moves", "metric": "hot_n0",
         "reaches": {"at_least": "50%", "within": "30s"}},
        {"metric": "fault", "stays": {"at_most": 0, "delta": True, "after": "0s"}},
        {"metric": "a_n0",
         "converges": {"target": "1000bp", "tolerance": "15%", "settle": "20s",
                       "samples": 20}},
        {"name": "control", "metric": "hot_thp",
         "reaches": {"at_least": "50%", "within": "30s"}, "should": "fail"},
    ],
}

BASE_TOPOLOGY = {
    "name": "fuzz",
    "vcpus": 2,
    "nodes": [{"id": 0, "memory": "1G", "cpus": [0]},
              {"id": 1, "memory": "512M", "cpus": "1"},
              {"id": 2, "memory": "256M", "cpus": []}],
    "distances": [[0, 1, 20], [0, 2, 30], [1, 2, 25]],
}

# ------------------------------------------------------------- strategies

WORDS = [
    "max", "default", "two-node", "cpuless-node1", "toucher", "toucher.hot", "toucher.cold",
    "a", "hot", "hot_thp", "fault", "vaddr", "paddr", "fvaddr", "collapse", "stat",
    "migrate_hot", "memcg", "node_memcg_used_bp", "temporal", "never", "pass", "fail",
    "50%", "150%", "-10%", "0%", "nan%", "1e400%", "1000bp", "-5bp", "0", "-1", "1e400",
    "nan", "inf", "-inf", ".nan", "64MiB", "-64MiB", "0B", "2MiB", "99999999999999999999T",
    "18446744073709551616", "1-0", "0-1", "0-63", "0-64", "0-99999999999", "0,,1", "5",
    "hot:0", "hot:30,idle:10", "cold:", ":5", "hot:-1", "hot:1e400", "30s", "500ms", "2m",
    "0s", "1e3s", "99999999999999999999999999999999999s", "/proc/vmstat", "/sys/x",
    "/nonexistent", "", " ", "\x00", "\n", "é", "x" * 400,
]
KEYS = [
    "name", "id", "memory", "cpus", "nodes", "distances", "vcpus", "min", "max", "at_least",
    "at_most", "within", "after", "delta", "target", "tolerance", "settle", "samples",
    "metric", "image", "modules", "build", "source", "patches", "configs", "hot", "cold",
    "cgroup", "node", "field", "workload", "pid", "regions", "start", "end", "nid",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=70),
    st.integers(),
    st.integers(min_value=-(1 << 80), max_value=1 << 80),
    st.sampled_from([U64_MAX, U64_MAX + 1, (1 << 32) - 1, 1 << 32, 10 ** 40, -(1 << 63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(WORDS),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner,
                        max_size=4)),
    max_leaves=12)


def paths_of(doc, prefix=()):
    """Every key path below doc (not doc itself): dict keys and list indices."""
    items = doc.items() if isinstance(doc, dict) else \
        enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        path = prefix + (key,)
        yield path
        yield from paths_of(value, path)


class Mutation:
    """A changed copy of a valid document; shown by what was changed."""

    def __init__(self, doc, changes):
        self.doc, self.changes = doc, changes

    def __repr__(self):
        return "Mutation(" + "; ".join(self.changes) + ")"


def _shown_path(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@st.composite
def mutated(draw, base):
    """base with one to three things replaced, deleted or added."""
    doc = copy.deepcopy(base)
    changes = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = list(paths_of(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        how = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if how == "replace":
            parent[path[-1]] = value = draw(VALUES)
            changes.append(f"{_shown_path(path)} = {value!r}")
        elif how == "delete":
            del parent[path[-1]]
            changes.append(f"del {_shown_path(path)}")
        elif isinstance(parent, dict):
            key = draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)))
            parent[key] = value = draw(VALUES)
            changes.append(f"{_shown_path(path[:-1] + (key,))} = {value!r}")
        else:
            parent.insert(path[-1], draw(VALUES))
            changes.append(f"insert at {_shown_path(path)}: {parent[path[-1]]!r}")
    return Mutation(doc, changes)


SIZE_TEXT = st.from_regex(r"\A\s?[-+]?\d{0,25}\s?[kKmMgGtTpP]?(i?[bB])?\s?\Z")
CPU_TEXT = st.from_regex(r"\A\s?\d{1,12}(-\d{1,12})?(\s?,\s?\d{1,12}(-\d{1,12})?){0,3}\s?\Z")


# ---------------------------------------------------------------- helpers

@contextmanager
def bounded_memory():
    """Only MEMORY_HEADROOM more address space while a parser runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _mapped_bytes() + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _mapped_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 4 << 30


def parses_or_refuses(parse, value):
    """Call parse(value): fine if it returns or raises InputError. Any other
    exception propagates and fails the property."""
    try:
        with bounded_memory():
            parse(value)
    except InputError:
        pass


def message_of(parse, value):
    """The InputError text parse(value) raises, or None (for any other
    outcome: those belong to the other properties)."""
    try:
        with bounded_memory():
            parse(value)
    except InputError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - not this property's business
        return None
    return None


def scenario(value):
    return parse_scenario(value, "f.yaml", "f.yaml")


def topology(value):
    return parse_topology(value, "t.yaml")


def cpu_list(text):
    return parse_cpu_list(text, "f.yaml: workloads.w.cpus")


# ------------------------------------------------------------- properties

def test_bases_are_valid():
    assert scenario(copy.deepcopy(BASE_SCENARIO)).name == "fuzz"
    assert len(topology(copy.deepcopy(BASE_TOPOLOGY)).nodes) == 3


@FUZZ
@given(VALUES)
def test_scenario_random_value_parses_or_is_refused(value):
    parses_or_refuses(scenario, value)


@FUZZ
@given(mutated(BASE_SCENARIO))
def test_scenario_mutated_valid_parses_or_is_refused(mutation):
    parses_or_refuses(scenario, mutation.doc)


PATH_TEXT = st.lists(st.one_of(st.sampled_from(["guest", "thp", "damon", "kdamonds[0]",
                                                 "contexts[0]", "schemes[0]", "action",
                                                 "workloads", "w", "x[9]", "[", "]", ""]),
                                st.text(max_size=8)), min_size=1, max_size=6).map(".".join)


def with_condition(path, value):
    """A reproduction of BASE_SCENARIO with one condition overriding `path`."""
    from harness import conditions
    from harness.schema import At
    raw = {**copy.deepcopy(BASE_SCENARIO), "conditions": {"c": {path: value}}}
    for _, doc in conditions.variants(raw, At("f.yaml")):
        scenario(doc)


@FUZZ
@given(PATH_TEXT, VALUES)
def test_a_condition_at_any_path_applies_or_is_refused(path, value):
    parses_or_refuses(lambda _: with_condition(path, value), None)


@FUZZ
@given(VALUES)
def test_topology_random_value_parses_or_is_refused(value):
    parses_or_refuses(topology, value)


@FUZZ
@given(mutated(BASE_TOPOLOGY))
def test_topology_mutated_valid_parses_or_is_refused(mutation):
    parses_or_refuses(topology, mutation.doc)


@FUZZ
@given(st.one_of(st.text(max_size=30), SIZE_TEXT, st.integers(), st.sampled_from(WORDS),
                 SCALARS))
def test_parse_size_is_a_u64_or_value_error(value):
    try:
        with bounded_memory():
            size = parse_size(value)
    except ValueError:
        return
    assert isinstance(size, int) and not isinstance(size, bool)
    assert 0 <= size <= U64_MAX


@FUZZ
@given(st.one_of(st.text(max_size=40), CPU_TEXT, st.sampled_from(WORDS)))
def test_cpu_list_is_quick_and_bounded_or_refused(text):
    start = time.monotonic()
    try:
        with bounded_memory():
            cpus = cpu_list(text)
    except InputError:
        cpus = []
    assert time.monotonic() - start < QUICK_S
    assert len(cpus) <= MAX_CPUS
    assert all(isinstance(c, int) and 0 <= c < MAX_CPUS for c in cpus)


@FUZZ
@given(st.one_of(
    st.tuples(st.just("scenario"), mutated(BASE_SCENARIO)),
    st.tuples(st.just("scenario"), VALUES),
    st.tuples(st.just("topology"), mutated(BASE_TOPOLOGY)),
    st.tuples(st.just("cpus"), st.one_of(st.text(max_size=400), CPU_TEXT)),
    st.tuples(st.just("cpus"), st.text(min_size=290, max_size=600)),
))
def test_input_error_is_at_most_300_characters(which_value):
    which, value = which_value
    value = value.doc if isinstance(value, Mutation) else value
    parse = {"scenario": scenario, "topology": topology, "cpus": cpu_list}[which]
    text = message_of(parse, value)
    if text is not None:
        assert len(text) <= MAX_ERROR, text
        assert "\n" not in text, text


def test_size_limits_are_exact():
    """The edges the random search may miss."""
    assert parse_size(U64_MAX) == U64_MAX
    assert parse_size("0") == 0
    for bad in (U64_MAX + 1, -1, "-1", "16777216T", math.inf, math.nan, True):
        with pytest.raises(ValueError):
            parse_size(bad)
