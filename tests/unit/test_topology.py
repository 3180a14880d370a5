import pytest

from harness.errors import InputError
from harness.topology import from_flags, load_topology, parse_topology


def two_nodes(**overrides):
    data = {"nodes": [{"id": 0, "memory": "1G", "cpus": [0]},
                      {"id": 1, "memory": "1G", "cpus": [1]}]}
    data.update(overrides)
    return data


def test_builtin_two_node():
    topo = load_topology("two-node")
    assert [n.cpus for n in topo.nodes] == [[0], [1]]
    assert topo.memory == 2 << 30 and topo.vcpus == 2
    assert topo.distance(0, 1) == 20 and topo.distance(1, 1) == 10


def test_cpuless_node():
    topo = load_topology("cpuless-node1")
    assert topo.nodes[1].cpus == [] and topo.distance(1, 0) == 28


@pytest.mark.parametrize("data, where, words", [
    (two_nodes(nodes=[{"id": 0, "memory": "1G", "cpus": [0]},
                      {"id": 0, "memory": "1G", "cpus": [1]}]), "nodes[1].id", "duplicate"),
    (two_nodes(vcpus=2, nodes=[{"id": 0, "memory": "1G", "cpus": [0]},
                               {"id": 1, "memory": "1G", "cpus": [5]}]), "nodes[1].cpus",
     "out of range"),
    (two_nodes(nodes=[{"id": 0, "memory": "1G", "cpus": [0, 1]},
                      {"id": 1, "memory": "1G", "cpus": [1]}]), "nodes[1].cpus", "already"),
    (two_nodes(nodes=[{"id": 0, "memory": "lots", "cpus": [0]}]), "nodes[0].memory", "not a size"),
    (two_nodes(nodes=[{"id": 0, "memory": "100T", "cpus": [0]}]), "memory", "more than"),
    (two_nodes(nodes=[{"id": 0, "memory": "1G", "cpus": [0]},
                      {"id": 1, "memory": "1G"}], vcpus=3), "nodes", "CPU 1 is in no node"),
    (two_nodes(distances=[[0, 1, 5]]), "distances[0]", "11..255"),
    (two_nodes(distances=[[0, 2, 20]]), "distances[0]", "does not exist"),
    (two_nodes(colour="red"), "colour", "unknown key"),
    ({"nodes": []}, "nodes", "non-empty"),
    (["not", "a", "mapping"], "topo.yaml", "mapping"),
])
def test_bad_topologies_name_the_field(data, where, words):
    with pytest.raises(InputError) as err:
        parse_topology(data, "topo.yaml")
    assert where in str(err.value) and words in str(err.value)


def test_malformed_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [\n  - id: 0\n")
    with pytest.raises(InputError) as err:
        load_topology(str(bad))
    assert "bad.yaml" in str(err.value) and "malformed YAML" in str(err.value)


def test_unknown_topology_lists_builtins():
    with pytest.raises(InputError, match="two-node"):
        load_topology("no-such-topology")


def test_flags():
    topo = from_flags(["mem=1G,cpus=0-1", "mem=512M"], ["0-1=30"])
    assert [n.cpus for n in topo.nodes] == [[0, 1], []]
    assert topo.nodes[1].memory == 512 << 20 and topo.distance(0, 1) == 30


def test_bad_flag():
    with pytest.raises(InputError, match="--node"):
        from_flags(["memory=1G"], [])
