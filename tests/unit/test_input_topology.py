"""Topology input that used to pass silently, hang, or end in a traceback."""

import time

import pytest

from harness.errors import InputError
from harness.topology import MAX_NODES, from_flags, parse_cpu_list, parse_topology


def nodes(count, cpus_of_first=(0,)):
    return [{"id": i, "memory": "128M", "cpus": list(cpus_of_first) if i == 0 else []}
            for i in range(count)]


def message(func, *args):
    with pytest.raises(InputError) as err:
        func(*args)
    return str(err.value)


def test_cpu_lists():
    assert parse_cpu_list("0-2,5", "w") == [0, 1, 2, 5]
    assert parse_cpu_list("007", "w") == [7]
    assert parse_cpu_list("", "w") == []


def test_huge_cpu_range_is_refused_without_building_it():
    started = time.monotonic()
    assert "CPU 99999999999 is beyond the 64 CPUs" in message(parse_cpu_list, "0-99999999999", "w")
    assert "beyond the 64 CPUs" in message(parse_cpu_list, "0-" + "9" * 5000, "w")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("text, words", [
    ("1-0", "CPU range 1-0 ends before it starts"),
    ("-1", "not a CPU list"),
    ("0--1", "not a CPU list"),
    ("0-1-2", "not a CPU list"),
    ("x", "not a CPU list"),
    ("64", "CPU 64 is beyond"),
])
def test_bad_cpu_lists(text, words):
    assert words in message(parse_cpu_list, text, "nodes[0].cpus")


def test_distance_given_twice_with_different_values_conflicts():
    data = {"nodes": nodes(2, (0, 1)), "distances": [[0, 1, 20], [0, 1, 30]]}
    text = message(parse_topology, data, "t.yaml")
    assert text.startswith("t.yaml: distances[1]: ") and "conflicts with distances[0]" in text


def test_asymmetric_distance_conflicts():
    data = {"nodes": nodes(2, (0, 1)), "distances": [[0, 1, 20], [1, 0, 30]]}
    assert "distances[1]: [1, 0, 30] conflicts with distances[0]" in \
        message(parse_topology, data, "t.yaml")


def test_same_distance_twice_is_fine():
    data = {"nodes": nodes(2, (0, 1)), "distances": [[0, 1, 25], [1, 0, 25]]}
    assert parse_topology(data, "t.yaml").distance(1, 0) == 25


def test_more_nodes_than_qemu_allows(monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_MAX_GUEST_MEMORY", "1T")
    assert len(parse_topology({"nodes": nodes(MAX_NODES)}).nodes) == MAX_NODES
    text = message(parse_topology, {"nodes": nodes(MAX_NODES + 1)}, "t.yaml")
    assert text == "t.yaml: nodes: 129 nodes: QEMU allows at most 128"


@pytest.mark.parametrize("value, words", [("lots", "not a size"), ("-1G", "negative"),
                                          ("0", "positive")])
def test_bad_max_guest_memory_names_the_variable(monkeypatch, value, words):
    monkeypatch.setenv("DAMON_HARNESS_MAX_GUEST_MEMORY", value)
    text = message(parse_topology, {"nodes": nodes(1)}, "t.yaml")
    assert text.startswith("DAMON_HARNESS_MAX_GUEST_MEMORY: ") and words in text


@pytest.mark.parametrize("node_flags, distance_flags, words", [
    (["mem=1G,cpus=0-99999999999"], [], "beyond the 64 CPUs"),
    (["mem=1G,cpus=1-0"], [], "ends before it starts"),
    (["mem=-1G,cpus=0"], [], "negative"),
    (["mem=1G,cpus=0", "mem=1G,cpus=1"], ["0-1=20", "1-0=30"], "conflicts with distances[0]"),
    (["mem=1G,cpus=0", "mem=1G,cpus=1"], ["0-1=999"], "11..255"),
])
def test_flags_go_through_the_same_checks(node_flags, distance_flags, words):
    text = message(from_flags, node_flags, distance_flags)
    assert words in text
    assert text.startswith("--distance: " if distance_flags else "--node")
