"""NUMA topologies as data: parsed from YAML or CLI flags, validated, typed."""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from harness.errors import InputError, shorten
from harness.units import format_size, parse_size
from harness.yamlfile import load_yaml

BUILTIN_DIR = Path(__file__).parent / "topologies"
MIN_NODE_MEMORY = 128 << 20
MAX_VCPUS = 64
MAX_NODES = 128     # QEMU's MAX_NODES (include/sysemu/numa.h)
LOCAL_DISTANCE = 10
REMOTE_DISTANCE = 20
HOST_MEMORY_SHARE = 0.5
_NODE_KEYS = {"id", "memory", "cpus"}
_CPU_RANGE = re.compile(r"^([0-9]+)(?:-([0-9]+))?$")
_TOP_KEYS = {"name", "nodes", "distances", "vcpus"}


@dataclass
class Node:
    id: int
    memory: int
    cpus: List[int]


@dataclass
class Topology:
    name: str
    nodes: List[Node]
    distances: Dict[Tuple[int, int], int] = field(default_factory=dict)

    @property
    def vcpus(self) -> int:
        return sum(len(n.cpus) for n in self.nodes)

    @property
    def memory(self) -> int:
        return sum(n.memory for n in self.nodes)

    def distance(self, src: int, dst: int) -> int:
        if src == dst:
            return LOCAL_DISTANCE
        return self.distances.get((min(src, dst), max(src, dst)), REMOTE_DISTANCE)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "nodes": [{"id": n.id, "memory": format_size(n.memory), "cpus": n.cpus}
                      for n in self.nodes],
            "distances": [[a, b, d] for (a, b), d in sorted(self.distances.items())],
        }


def host_memory_limit() -> int:
    """The most guest memory the harness lets one VM have on this host."""
    override = os.environ.get("DAMON_HARNESS_MAX_GUEST_MEMORY")
    if override:
        try:
            return parse_size(override, minimum=1)
        except ValueError as exc:
            raise InputError("DAMON_HARNESS_MAX_GUEST_MEMORY", str(exc)) from None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(int(line.split()[1]) * 1024 * HOST_MEMORY_SHARE)
    return 4 << 30


def load_topology(spec: str) -> Topology:
    """A built-in name (e.g. two-node) or a path to a YAML file."""
    path = Path(spec)
    if not path.exists() and (BUILTIN_DIR / f"{spec}.yaml").exists():
        path = BUILTIN_DIR / f"{spec}.yaml"
    if not path.is_file():
        names = ", ".join(builtin_names())
        raise InputError("topology", f"no such file or built-in topology: {spec} "
                                     f"(built-ins: {names})")
    return parse_topology(load_yaml(path), str(path))


def builtin_names() -> List[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def parse_topology(data, where: str = "topology",
                   distances_where: Optional[str] = None) -> Topology:
    """A validated Topology; errors name `where` (`distances_where` for the
    distances, when they came from elsewhere, e.g. --distance flags)."""
    if not isinstance(data, dict):
        raise InputError(where, "a topology must be a mapping with a 'nodes' list")
    _reject_unknown(data, _TOP_KEYS, where)
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise InputError(f"{where}: nodes", "must be a non-empty list")
    if len(raw_nodes) > MAX_NODES:
        raise InputError(f"{where}: nodes", f"{len(raw_nodes)} nodes: QEMU allows at most "
                                            f"{MAX_NODES}")
    nodes = [_parse_node(n, f"{where}: nodes[{i}]", i) for i, n in enumerate(raw_nodes)]
    topo = Topology(name=str(data.get("name") or Path(where).stem), nodes=nodes)
    _check_node_ids(nodes, where)
    _check_cpus(nodes, data.get("vcpus"), where)
    _check_memory(nodes, where)
    topo.distances = _parse_distances(data.get("distances") or [], topo,
                                      distances_where or where)
    return topo


def _reject_unknown(data: dict, known, where: str) -> None:
    for key in data:
        if key not in known:
            raise InputError(f"{where}: {key}", f"unknown key (known: {', '.join(sorted(known))})")


def _parse_node(raw, where: str, index: int) -> Node:
    if not isinstance(raw, dict):
        raise InputError(where, "a node must be a mapping with id, memory and cpus")
    _reject_unknown(raw, _NODE_KEYS, where)
    node_id = raw.get("id", index)
    if not isinstance(node_id, int) or isinstance(node_id, bool) or node_id < 0:
        raise InputError(f"{where}.id", f"must be a non-negative integer, not {node_id!r}")
    if "memory" not in raw:
        raise InputError(f"{where}.memory", "is required (e.g. 1G)")
    try:
        memory = parse_size(raw["memory"])
    except ValueError as exc:
        raise InputError(f"{where}.memory", str(exc)) from None
    return Node(id=node_id, memory=memory, cpus=_parse_cpus(raw.get("cpus", []), f"{where}.cpus"))


def _parse_cpus(raw, where: str) -> List[int]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = [raw]
    if isinstance(raw, str):
        return parse_cpu_list(raw, where)
    if not isinstance(raw, list):
        raise InputError(where, f"must be a list of CPU ids, not {raw!r}")
    for cpu in raw:
        if not isinstance(cpu, int) or isinstance(cpu, bool) or cpu < 0:
            raise InputError(where, f"CPU ids must be non-negative integers, not {cpu!r}")
    return list(raw)


def parse_cpu_list(text: str, where: str) -> List[int]:
    """'0-2,5' -> [0, 1, 2, 5]; CPU ids are below MAX_VCPUS."""
    cpus: List[int] = []
    for part in filter(None, text.replace(" ", "").split(",")):
        match = _CPU_RANGE.match(part)
        if not match:
            raise InputError(where, f"not a CPU list: {text!r} (use e.g. 0-1,3)")
        first, last = match.group(1), match.group(2) or match.group(1)
        lo, hi = _cpu_id(first), _cpu_id(last)
        if hi < lo:
            raise InputError(where, f"CPU range {part} ends before it starts")
        if hi >= MAX_VCPUS:
            raise InputError(where, f"CPU {shorten(last, 20)} is beyond the {MAX_VCPUS} CPUs a guest "
                                    "may have")
        cpus.extend(range(lo, hi + 1))
    return cpus


def _cpu_id(digits: str) -> int:
    # Any id of 10+ digits is out of range; int() of thousands of digits fails.
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) < 10 else 10 ** 10


def _check_node_ids(nodes: List[Node], where: str) -> None:
    seen = set()
    for i, node in enumerate(nodes):
        if node.id in seen:
            raise InputError(f"{where}: nodes[{i}].id", f"duplicate node id {node.id}")
        seen.add(node.id)
    if seen != set(range(len(nodes))):
        raise InputError(f"{where}: nodes", f"node ids must be 0..{len(nodes) - 1}, "
                                            f"got {sorted(seen)}")


def _check_cpus(nodes: List[Node], vcpus: Optional[int], where: str) -> None:
    listed = [cpu for node in nodes for cpu in node.cpus]
    if not listed:
        raise InputError(f"{where}: nodes", "no node has a CPU")
    if vcpus is None:
        vcpus = len(listed)
    if not isinstance(vcpus, int) or isinstance(vcpus, bool) or not 1 <= vcpus <= MAX_VCPUS:
        raise InputError(f"{where}: vcpus", f"must be an integer in 1..{MAX_VCPUS}")
    owner: Dict[int, int] = {}
    for i, node in enumerate(nodes):
        for cpu in node.cpus:
            if cpu >= vcpus:
                raise InputError(f"{where}: nodes[{i}].cpus",
                                 f"CPU {cpu} out of range: the guest has CPUs 0..{vcpus - 1}")
            if cpu in owner:
                raise InputError(f"{where}: nodes[{i}].cpus",
                                 f"CPU {cpu} is already in node {owner[cpu]}")
            owner[cpu] = node.id
    missing = sorted(set(range(vcpus)) - set(owner))
    if missing:
        raise InputError(f"{where}: nodes", f"CPU {missing[0]} is in no node")


def _check_memory(nodes: List[Node], where: str) -> None:
    for i, node in enumerate(nodes):
        if node.memory < MIN_NODE_MEMORY or node.memory % (2 << 20):
            raise InputError(f"{where}: nodes[{i}].memory",
                             f"{node.memory} bytes: must be a multiple of 2M and at least "
                             f"{format_size(MIN_NODE_MEMORY)}")
    total = sum(n.memory for n in nodes)
    limit = host_memory_limit()
    if total > limit:
        raise InputError(f"{where}: nodes[].memory",
                         f"total {total >> 20} MiB is more than the {limit >> 20} MiB this "
                         f"host allows (set DAMON_HARNESS_MAX_GUEST_MEMORY to change)")


def _parse_distances(raw, topo: Topology, where: str) -> Dict[Tuple[int, int], int]:
    if not isinstance(raw, list):
        raise InputError(f"{where}: distances", "must be a list of [from, to, distance]")
    ids = {n.id for n in topo.nodes}
    result: Dict[Tuple[int, int], int] = {}
    given_in: Dict[Tuple[int, int], int] = {}
    for i, entry in enumerate(raw):
        key = f"{where}: distances[{i}]"
        pair, dist = _parse_distance(entry, ids, key)
        if pair in result and result[pair] != dist:
            raise InputError(key, f"{entry} conflicts with distances[{given_in[pair]}] "
                                  f"(distance {result[pair]}; distances are symmetric)")
        result[pair] = dist
        given_in.setdefault(pair, i)
    return result


def _parse_distance(entry, ids, key: str) -> Tuple[Tuple[int, int], int]:
    if (not isinstance(entry, list) or len(entry) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in entry)):
        raise InputError(key, f"must be [from, to, distance], not {entry!r}")
    src, dst, dist = entry
    if src not in ids or dst not in ids:
        raise InputError(key, f"names a node that does not exist: {entry}")
    if src == dst:
        raise InputError(key, "a node's distance to itself is always 10")
    if not LOCAL_DISTANCE < dist <= 255:
        raise InputError(key, f"distance {dist} must be in 11..255")
    return (min(src, dst), max(src, dst)), dist


def from_flags(node_specs: List[str], distance_specs: List[str]) -> Topology:
    """Build from repeated --node mem=1G,cpus=0-1 and --distance 0-1=20 flags."""
    nodes = []
    for i, spec in enumerate(node_specs):
        fields = {}
        for part in spec.split(";") if ";" in spec else _split_node_spec(spec):
            key, sep, value = part.partition("=")
            if not sep or key not in ("mem", "cpus"):
                raise InputError(f"--node {spec}", f"expected mem=SIZE[,cpus=LIST], got {part!r}")
            fields[key] = value
        nodes.append({"id": i, "memory": fields.get("mem", ""),
                      "cpus": fields.get("cpus", "")})
    distances = []
    for spec in distance_specs:
        try:
            pair, dist = spec.split("=")
            src, dst = pair.split("-")
            distances.append([int(src), int(dst), int(dist)])
        except ValueError:
            raise InputError(f"--distance {spec}", "expected FROM-TO=DISTANCE, e.g. 0-1=20") from None
    return parse_topology({"name": "cli", "nodes": nodes, "distances": distances}, "--node",
                          distances_where="--distance")


def _split_node_spec(spec: str) -> List[str]:
    """Split 'mem=1G,cpus=0,1' at commas that start a new key=value."""
    parts: List[str] = []
    for chunk in spec.split(","):
        if "=" in chunk or not parts:
            parts.append(chunk)
        else:
            parts[-1] += "," + chunk
    return parts
