"""Scenarios as data: one YAML file describes one experiment completely.

load_scenario(path) parses and validates everything before a VM boots. Every
error is an InputError naming the file and the key path, e.g.
"collapse.yaml: damon.kdamonds[0].contexts[0].schemes[1].action".
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from harness.errors import InputError
from harness.topology import Topology, load_topology, parse_cpu_list, parse_topology
from harness.units import parse_size
from harness.yamlfile import load_yaml

U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
THP_MODES = ("always", "madvise", "never")
MADVISE = ("none", "hugepage", "nohugepage")
PHASE_KINDS = ("hot", "cold", "all", "idle")
OPERATIONS = ("vaddr", "fvaddr", "paddr")
ACTIONS = ("willneed", "cold", "pageout", "hugepage", "nohugepage", "collapse",
           "lru_prio", "lru_deprio", "migrate_hot", "migrate_cold", "stat")
VADDR_ONLY_ACTIONS = ("hugepage", "nohugepage", "collapse")
MIGRATE_ACTIONS = ("migrate_hot", "migrate_cold")
GOAL_METRICS = ("user_input", "some_mem_psi_us", "node_mem_used_bp", "node_mem_free_bp",
                "node_memcg_used_bp", "node_memcg_free_bp", "active_mem_bp",
                "inactive_mem_bp", "node_eligible_mem_bp")
NID_GOALS = ("node_mem_used_bp", "node_mem_free_bp", "node_memcg_used_bp",
             "node_memcg_free_bp", "node_eligible_mem_bp")
MEMCG_GOALS = ("node_memcg_used_bp", "node_memcg_free_bp")
GOAL_TUNERS = ("consist", "temporal")
CORE_FILTERS = ("addr", "target")
OPS_FILTERS = ("anon", "active", "memcg", "young", "hugepage_size", "unmapped")
WATERMARK_METRICS = ("none", "free_mem_rate")
MODULES = ("damon_reclaim", "damon_lru_sort", "damon_stat", "damon_hugepage")
METRIC_SOURCES = ("smaps", "vmstat", "numa_maps", "memcg_numa", "damos", "node_meminfo",
                  "file")
REGION_SOURCES = ("smaps", "numa_maps")
DAMOS_FIELDS = ("nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds",
                "sz_ops_filter_passed", "effective_bytes")
EXPECT_KINDS = ("reaches", "stays", "converges")
WORKLOAD_REGIONS = ("hot", "cold")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "min": 60, "h": 3600}


# ---------------------------------------------------------------- data types

@dataclass
class Quantity:
    """A number, or a fraction of a reference known per metric (region size,
    node memory). `fraction` True means `value` is that fraction (0.5 = 50 %)."""
    value: float
    fraction: bool = False

    def resolve(self, reference: Optional[float]) -> float:
        if not self.fraction:
            return self.value
        if reference is None:
            raise ValueError("a percentage needs a reference size")
        return self.value * reference


@dataclass
class KernelSpec:
    kind: str = "default"          # default | file | build
    image: Optional[str] = None
    modules: Optional[str] = None
    build: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Cgroup:
    name: str
    limits: Dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The path DAMON's memcg filters and goals take: relative to the root."""
        return "/" + self.name


@dataclass
class GuestSetup:
    thp: Optional[str] = None
    numa_balancing: Optional[int] = None
    sysctls: Dict[str, str] = field(default_factory=dict)
    sysfs: Dict[str, str] = field(default_factory=dict)
    cgroups: Dict[str, Cgroup] = field(default_factory=dict)


@dataclass
class Workload:
    name: str
    program: str = "hotcold"
    hot: int = 64 << 20
    cold: int = 64 << 20
    stride: int = 4096
    rate: float = 0.0
    phases: List[Tuple[str, float]] = field(default_factory=lambda: [("hot", 0.0)])
    madvise: str = "none"
    first_touch_node: Optional[int] = None
    tlb_flush_ms: float = 5.0
    cpus: List[int] = field(default_factory=list)
    membind: List[int] = field(default_factory=list)
    cgroup: Optional[str] = None

    def region_size(self, region: str) -> int:
        return {"hot": self.hot, "cold": self.cold}[region]

    def program_args(self) -> List[str]:
        args = ["--hot", str(self.hot), "--cold", str(self.cold),
                "--stride", str(self.stride), "--rate", f"{self.rate:g}",
                "--phases", ",".join(f"{k}:{s:g}" for k, s in self.phases),
                "--madvise", self.madvise, "--tlb-flush", f"{self.tlb_flush_ms:g}"]
        if self.first_touch_node is not None:
            args += ["--first-touch-node", str(self.first_touch_node)]
        return args


@dataclass
class Goal:
    metric: str
    value: int
    nid: Optional[int] = None
    cgroup: Optional[str] = None


@dataclass
class Quotas:
    ms: int = 0
    bytes: int = 0
    reset_interval_ms: int = 0
    goal_tuner: Optional[str] = None
    weights: Dict[str, int] = field(default_factory=dict)
    goals: List[Goal] = field(default_factory=list)


@dataclass
class Watermarks:
    metric: str = "none"
    interval_us: int = 0
    high: int = 0
    mid: int = 0
    low: int = 0


@dataclass
class Filter:
    type: str
    matching: bool = True
    allow: bool = False
    cgroup: Optional[str] = None
    addr_start: Optional[int] = None
    addr_end: Optional[int] = None
    min: Optional[int] = None
    max: Optional[int] = None
    target_idx: Optional[int] = None

    @property
    def layer(self) -> str:
        return "core" if self.type in CORE_FILTERS else "ops"


@dataclass
class Dest:
    nid: int
    weight: int = 1


@dataclass
class AccessPattern:
    sz: Tuple[int, int]
    nr_accesses: Tuple[int, int]
    age: Tuple[int, int]


@dataclass
class Scheme:
    name: str
    action: str
    access_pattern: AccessPattern
    apply_interval_us: int = 0
    target_nid: Optional[int] = None
    quotas: Quotas = field(default_factory=Quotas)
    watermarks: Optional[Watermarks] = None
    filters: List[Filter] = field(default_factory=list)
    dests: List[Dest] = field(default_factory=list)


@dataclass
class Target:
    workload: Optional[str] = None
    pid: Optional[int] = None
    nodes: List[int] = field(default_factory=list)              # paddr: these nodes' ranges
    regions: List[Tuple[int, int]] = field(default_factory=list)  # explicit ranges
    workload_regions: List[str] = field(default_factory=list)      # fvaddr: hot/cold


@dataclass
class Intervals:
    sample_us: int = 5000
    aggr_us: int = 100000
    update_us: int = 1000000


@dataclass
class Context:
    operations: str
    intervals: Intervals
    nr_regions: Tuple[int, int]
    targets: List[Target]
    schemes: List[Scheme]


@dataclass
class Kdamond:
    contexts: List[Context]
    refresh_ms: int = 1000


@dataclass
class ModuleSetup:
    name: str
    params: Dict[str, str] = field(default_factory=dict)
    # Workloads whose pids go to the module's monitored_pids parameter.
    workloads: List[str] = field(default_factory=list)


@dataclass
class DamonSetup:
    kdamonds: List[Kdamond] = field(default_factory=list)
    module: Optional[ModuleSetup] = None

    def schemes(self) -> Dict[str, Tuple[int, int, int]]:
        """Scheme name -> (kdamond, context, scheme) indices."""
        found = {}
        for k, kd in enumerate(self.kdamonds):
            for c, ctx in enumerate(kd.contexts):
                for s, scheme in enumerate(ctx.schemes):
                    found[scheme.name] = (k, c, s)
        return found


@dataclass
class Metric:
    name: str
    source: str
    workload: Optional[str] = None
    region: Optional[str] = None
    field: Optional[str] = None
    node: Optional[int] = None
    cgroup: Optional[str] = None
    scheme: Optional[str] = None


@dataclass
class Sampling:
    interval: float
    duration: float
    metrics: Dict[str, Metric]


@dataclass
class Expectation:
    name: str
    metric: str
    kind: str
    at_least: Optional[Quantity] = None
    at_most: Optional[Quantity] = None
    within: Optional[float] = None
    delta: bool = False
    target: Optional[Quantity] = None
    tolerance: Optional[Quantity] = None
    settle: float = 0.0
    samples: int = 1
    should: str = "pass"


@dataclass
class Scenario:
    name: str
    path: str
    kernel: KernelSpec
    topology: Topology
    guest: GuestSetup
    workloads: Dict[str, Workload]
    damon: DamonSetup
    sample: Sampling
    expect: List[Expectation]
    description: str = ""
    raw: Dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------- where and types

class At:
    """A position in the file, for error messages: 'file.yaml: a.b[2].c'."""

    def __init__(self, file: str, path: str = ""):
        self.file, self.path = file, path

    def __truediv__(self, key) -> "At":
        if isinstance(key, int):
            return At(self.file, f"{self.path}[{key}]")
        return At(self.file, f"{self.path}.{key}" if self.path else str(key))

    def error(self, message: str) -> InputError:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return InputError(where, message)


def _mapping(raw, at: At, known, required=()) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise at.error(f"must be a mapping, not {type(raw).__name__}")
    for key in raw:
        if key not in known:
            raise (at / key).error(f"unknown key (known: {', '.join(sorted(known))})")
    for key in required:
        if key not in raw:
            raise (at / key).error("is required")
    return raw


def _free_mapping(raw, at: At) -> dict:
    """A mapping whose keys are names the user chooses."""
    return _mapping(raw, at, raw if isinstance(raw, dict) else ())


def _list(raw, at: At, allow_empty=True) -> list:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise at.error(f"must be a list, not {type(raw).__name__}")
    if not raw and not allow_empty:
        raise at.error("must not be empty")
    return raw


def _int(raw, at: At, lo: int = 0, hi: int = U64_MAX) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise at.error(f"must be an integer, not {raw!r}")
    if not lo <= raw <= hi:
        raise at.error(f"{raw} is out of range {lo}..{hi}")
    return raw


def _bool(raw, at: At) -> bool:
    if not isinstance(raw, bool):
        raise at.error(f"must be true or false, not {raw!r}")
    return raw


def _choice(raw, at: At, choices) -> str:
    if raw not in choices:
        raise at.error(f"{raw!r} is not one of: {', '.join(map(str, choices))}")
    return raw


def _name(raw, at: At) -> str:
    if not isinstance(raw, str) or not _NAME.match(raw):
        raise at.error(f"{raw!r} is not a name (letters, digits, _ and -, "
                       f"starting with a letter)")
    return raw


def _size(raw, at: At) -> int:
    if raw == "max":
        return U64_MAX
    try:
        return parse_size(raw)
    except ValueError as exc:
        raise at.error(str(exc)) from None


def _duration(raw, at: At) -> float:
    """Seconds from 30, 2.5, '30s', '500ms', '2m'."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw >= 0:
        return float(raw)
    match = _DURATION.match(str(raw)) if isinstance(raw, str) else None
    if not match:
        raise at.error(f"not a duration: {raw!r} (use e.g. 30s, 500ms, 2m)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _quantity(raw, at: At) -> Quantity:
    """50%, 1000bp, 64MiB, 3, 0.5."""
    if isinstance(raw, str):
        text = raw.strip()
        for suffix, scale in (("%", 100.0), ("bp", 10000.0)):
            if text.endswith(suffix):
                try:
                    return Quantity(float(text[:-len(suffix)]) / scale, fraction=True)
                except ValueError:
                    raise at.error(f"not a number: {raw!r}") from None
        return Quantity(float(_size(text, at)))
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise at.error(f"must be a number, a size or a percentage, not {raw!r}")
    return Quantity(float(raw))


def _scalar_text(raw, at: At) -> str:
    if isinstance(raw, bool):
        return "1" if raw else "0"
    if not isinstance(raw, (str, int, float)):
        raise at.error(f"must be a string or a number, not {raw!r}")
    return str(raw)


def _node(raw, at: At, topo: Topology) -> int:
    nid = _int(raw, at)
    if nid >= len(topo.nodes):
        raise at.error(f"node {nid} does not exist: topology {topo.name!r} has "
                       f"nodes 0..{len(topo.nodes) - 1}")
    return nid


class Refs:
    """Names that later sections may refer to, collected as parsing goes."""

    def __init__(self, topo: Topology):
        self.topo = topo
        self.cgroups: Dict[str, Cgroup] = {}
        self.workloads: Dict[str, Workload] = {}
        self.schemes: Dict[str, Scheme] = {}
        self.metrics: Dict[str, Metric] = {}

    def cgroup(self, raw, at: At) -> str:
        if raw not in self.cgroups:
            raise at.error(f"unknown cgroup {raw!r} (guest.cgroups has: "
                           f"{', '.join(self.cgroups) or 'none'})")
        return raw

    def workload(self, raw, at: At) -> str:
        if raw not in self.workloads:
            raise at.error(f"unknown workload {raw!r} (workloads has: "
                           f"{', '.join(self.workloads) or 'none'})")
        return raw

    def node(self, raw, at: At) -> int:
        return _node(raw, at, self.topo)


# ------------------------------------------------------------------ loading

def load_scenario(path) -> Scenario:
    """Read, parse and fully validate a scenario file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such scenario file")
    raw = load_yaml(path, path.name)
    return parse_scenario(raw, path.name, str(path))


_TOP = ("name", "description", "kernel", "topology", "guest", "workloads",
        "damon", "sample", "expect")


def parse_scenario(raw, file: str = "scenario", path: str = "") -> Scenario:
    at = At(file)
    raw = _mapping(raw, at, _TOP, required=("topology", "workloads", "damon",
                                            "sample", "expect"))
    topo = _parse_topology(raw["topology"], at / "topology", Path(path).parent)
    refs = Refs(topo)
    guest = _parse_guest(raw.get("guest"), at / "guest", refs)
    workloads = _parse_workloads(raw["workloads"], at / "workloads", refs)
    damon = _parse_damon(raw["damon"], at / "damon", refs)
    sample = _parse_sample(raw["sample"], at / "sample", refs)
    expect = _parse_expectations(raw["expect"], at / "expect", refs, sample)
    name = raw.get("name", Path(file).stem)
    return Scenario(name=_name(name, at / "name"), path=path,
                    kernel=_parse_kernel(raw.get("kernel", "default"), at / "kernel"),
                    topology=topo, guest=guest, workloads=workloads, damon=damon,
                    sample=sample, expect=expect,
                    description=str(raw.get("description", "")), raw=raw)


def _parse_topology(raw, at: At, base: Path) -> Topology:
    if isinstance(raw, dict):
        return parse_topology(raw, f"{at.file}: topology")
    if not isinstance(raw, str):
        raise at.error("must be a built-in name, a path or a mapping")
    local = base / raw
    try:
        return load_topology(str(local) if local.is_file() else raw)
    except InputError as exc:
        raise at.error(str(exc)) from None


def _parse_kernel(raw, at: At) -> KernelSpec:
    if raw == "default" or raw is None:
        return KernelSpec()
    if isinstance(raw, str):
        return KernelSpec(kind="file", image=raw)
    raw = _mapping(raw, at, ("image", "modules", "build"))
    if "build" in raw:
        if "image" in raw:
            raise (at / "build").error("give either image or build, not both")
        build = _mapping(raw["build"], at / "build", ("source", "patches", "configs"))
        return KernelSpec(kind="build", build=dict(build))
    if "image" not in raw:
        raise (at / "image").error("is required (or use 'default' or build)")
    return KernelSpec(kind="file", image=str(raw["image"]),
                      modules=raw.get("modules") and str(raw["modules"]))


# -------------------------------------------------------------------- guest

def _parse_guest(raw, at: At, refs: Refs) -> GuestSetup:
    raw = _mapping(raw, at, ("thp", "numa_balancing", "sysctls", "sysfs", "cgroups"))
    guest = GuestSetup()
    if raw.get("thp") is not None:
        guest.thp = _choice(raw["thp"], at / "thp", THP_MODES)
    if raw.get("numa_balancing") is not None:
        guest.numa_balancing = _int(raw["numa_balancing"], at / "numa_balancing", 0, 3)
    guest.sysctls = _string_map(raw.get("sysctls"), at / "sysctls", r"^[a-z0-9_.]+$")
    guest.sysfs = _string_map(raw.get("sysfs"), at / "sysfs", r"^/(sys|proc)/[\w./-]+$")
    if "kernel.numa_balancing" in guest.sysctls:
        raise (at / "sysctls" / "kernel.numa_balancing").error(
            "set guest.numa_balancing instead")
    for name, limits in _free_mapping(raw.get("cgroups"), at / "cgroups").items():
        cg_at = at / "cgroups" / str(name)
        _name(name, cg_at)
        guest.cgroups[name] = Cgroup(name, _string_map(limits, cg_at,
                                                       r"^(memory|cpu|cpuset|io|pids)\.[\w.]+$"))
    refs.cgroups = guest.cgroups
    return guest


def _string_map(raw, at: At, key_pattern: str) -> Dict[str, str]:
    raw = _free_mapping(raw, at)
    out = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not re.match(key_pattern, key):
            raise (at / str(key)).error(f"not a valid key (must match {key_pattern})")
        out[key] = _scalar_text(value, at / key)
    return out


# ---------------------------------------------------------------- workloads

_WORKLOAD_KEYS = ("program", "hot", "cold", "stride", "rate", "phases", "madvise",
                  "first_touch_node", "tlb_flush_ms", "cpus", "membind", "cgroup")


def _parse_workloads(raw, at: At, refs: Refs) -> Dict[str, Workload]:
    raw = _free_mapping(raw, at)
    if not raw:
        raise at.error("must name at least one workload")
    for name, spec in raw.items():
        refs.workloads[name] = _parse_workload(name, spec, at / str(name), refs)
    return refs.workloads


def _parse_workload(name, raw, at: At, refs: Refs) -> Workload:
    _name(name, at)
    raw = _mapping(raw, at, _WORKLOAD_KEYS)
    w = Workload(name=name)
    w.program = _choice(raw.get("program", "hotcold"), at / "program", ("hotcold",))
    w.hot = _size(raw.get("hot", w.hot), at / "hot")
    w.cold = _size(raw.get("cold", w.cold), at / "cold")
    w.stride = _size(raw.get("stride", w.stride), at / "stride")
    if w.stride < 1:
        raise (at / "stride").error("must be at least 1")
    w.rate = _float(raw.get("rate", 0), at / "rate")
    w.phases = _parse_phases(raw.get("phases", "hot:0"), at / "phases")
    w.madvise = _choice(raw.get("madvise", "none"), at / "madvise", MADVISE)
    w.tlb_flush_ms = _float(raw.get("tlb_flush_ms", w.tlb_flush_ms), at / "tlb_flush_ms")
    if raw.get("first_touch_node") is not None:
        w.first_touch_node = refs.node(raw["first_touch_node"], at / "first_touch_node")
    w.cpus = _parse_cpus(raw.get("cpus"), at / "cpus", refs.topo)
    w.membind = [refs.node(n, at / "membind" / i)
                 for i, n in enumerate(_int_list(raw.get("membind"), at / "membind"))]
    if raw.get("cgroup") is not None:
        w.cgroup = refs.cgroup(raw["cgroup"], at / "cgroup")
    _check_fits(w, at, refs.topo)
    return w


def _float(raw, at: At) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
        raise at.error(f"must be a non-negative number, not {raw!r}")
    return float(raw)


def _int_list(raw, at: At) -> list:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return [raw]
    return _list(raw, at)


def _parse_phases(raw, at: At) -> List[Tuple[str, float]]:
    if isinstance(raw, str):
        raw = [p for p in raw.split(",") if p.strip()]
    phases = []
    for i, item in enumerate(_list(raw, at, allow_empty=False)):
        kind, sep, secs = str(item).partition(":")
        if not sep:
            raise (at / i).error(f"{item!r} is not KIND:SECONDS (e.g. hot:30)")
        phases.append((_choice(kind.strip(), at / i, PHASE_KINDS),
                       _duration(secs, at / i)))
    return phases


def _parse_cpus(raw, at: At, topo: Topology) -> List[int]:
    if raw is None:
        return []
    if isinstance(raw, str):
        cpus = parse_cpu_list(raw, f"{at.file}: {at.path}")
    else:
        cpus = [_int(c, at / i) for i, c in enumerate(_int_list(raw, at))]
    for cpu in cpus:
        if cpu >= topo.vcpus:
            raise at.error(f"CPU {cpu} does not exist: topology {topo.name!r} has "
                           f"CPUs 0..{topo.vcpus - 1}")
    return cpus


def _check_fits(w: Workload, at: At, topo: Topology) -> None:
    need = w.hot + w.cold
    nodes = w.membind or ([w.first_touch_node] if w.first_touch_node is not None else [])
    room = sum(topo.nodes[n].memory for n in nodes) if nodes else topo.memory
    if need >= room:
        raise at.error(f"hot + cold = {need >> 20} MiB does not fit in the "
                       f"{room >> 20} MiB of memory it may use")


# -------------------------------------------------------------------- damon

def _parse_damon(raw, at: At, refs: Refs) -> DamonSetup:
    raw = _mapping(raw, at, ("kdamonds", "module"))
    if ("kdamonds" in raw) == ("module" in raw):
        raise at.error("give exactly one of kdamonds (the sysfs tree) or module")
    if "module" in raw:
        return DamonSetup(module=_parse_module(raw["module"], at / "module", refs))
    kdamonds = [_parse_kdamond(k, at / "kdamonds" / i, refs)
                for i, k in enumerate(_list(raw["kdamonds"], at / "kdamonds",
                                            allow_empty=False))]
    return DamonSetup(kdamonds=kdamonds)


def _parse_module(raw, at: At, refs: Refs) -> ModuleSetup:
    raw = _mapping(raw, at, ("name", "params", "workloads"), required=("name",))
    name = _choice(raw["name"], at / "name", MODULES)
    params = _string_map(raw.get("params"), at / "params", r"^[a-z0-9_]+$")
    if "enabled" in params:
        raise (at / "params" / "enabled").error("is written last by the harness; drop it")
    workloads = [refs.workload(w, at / "workloads" / i)
                 for i, w in enumerate(_list(raw.get("workloads", []), at / "workloads"))]
    if workloads and "monitored_pids" in params:
        raise (at / "params" / "monitored_pids").error("give workloads or monitored_pids")
    return ModuleSetup(name=name, params=params, workloads=workloads)


def _parse_kdamond(raw, at: At, refs: Refs) -> Kdamond:
    raw = _mapping(raw, at, ("contexts", "refresh_ms"), required=("contexts",))
    contexts = _list(raw["contexts"], at / "contexts", allow_empty=False)
    if len(contexts) > 1:
        raise (at / "contexts").error("a kdamond has at most one context")
    return Kdamond(contexts=[_parse_context(contexts[0], at / "contexts" / 0, refs)],
                   refresh_ms=_int(raw.get("refresh_ms", 1000), at / "refresh_ms", 0, U32_MAX))


_CONTEXT_KEYS = ("operations", "intervals", "nr_regions", "targets", "schemes")


def _parse_context(raw, at: At, refs: Refs) -> Context:
    raw = _mapping(raw, at, _CONTEXT_KEYS, required=("operations", "targets", "schemes"))
    ops = _choice(raw["operations"], at / "operations", OPERATIONS)
    intervals = _parse_intervals(raw.get("intervals"), at / "intervals")
    nr = _mapping(raw.get("nr_regions"), at / "nr_regions", ("min", "max"))
    nr_regions = (_int(nr.get("min", 10), at / "nr_regions" / "min", 3, U32_MAX),
                  _int(nr.get("max", 1000), at / "nr_regions" / "max", 3, U32_MAX))
    if nr_regions[0] > nr_regions[1]:
        raise (at / "nr_regions").error("min is greater than max")
    targets = [_parse_target(t, at / "targets" / i, ops, refs)
               for i, t in enumerate(_list(raw["targets"], at / "targets", allow_empty=False))]
    ctx = Context(ops, intervals, nr_regions, targets, [])
    ctx.schemes = [_parse_scheme(s, at / "schemes" / i, ctx, refs)
                   for i, s in enumerate(_list(raw["schemes"], at / "schemes"))]
    return ctx


def _parse_intervals(raw, at: At) -> Intervals:
    raw = _mapping(raw, at, ("sample_us", "aggr_us", "update_us"))
    iv = Intervals()
    for key in ("sample_us", "aggr_us", "update_us"):
        setattr(iv, key, _int(raw.get(key, getattr(iv, key)), at / key, 1, U32_MAX))
    if iv.aggr_us < iv.sample_us:
        raise (at / "aggr_us").error("must be at least sample_us")
    return iv


def _parse_target(raw, at: At, ops: str, refs: Refs) -> Target:
    raw = _mapping(raw, at, ("workload", "pid", "nodes", "regions"))
    t = Target()
    if ops == "paddr":
        return _parse_paddr_target(raw, at, refs)
    if ("workload" in raw) == ("pid" in raw):
        raise at.error(f"a {ops} target needs exactly one of workload or pid")
    if "nodes" in raw:
        raise (at / "nodes").error("only paddr targets cover nodes")
    if "workload" in raw:
        t.workload = refs.workload(raw["workload"], at / "workload")
    else:
        t.pid = _int(raw["pid"], at / "pid", 1, U32_MAX)
    regions = _list(raw.get("regions"), at / "regions")
    if ops == "fvaddr" and not regions:
        raise (at / "regions").error("fvaddr targets need regions")
    for i, r in enumerate(regions):
        if isinstance(r, str):
            if t.workload is None:
                raise (at / "regions" / i).error("region names need a workload target")
            t.workload_regions.append(_choice(r, at / "regions" / i, WORKLOAD_REGIONS))
        else:
            t.regions.append(_parse_range(r, at / "regions" / i))
    return t


def _parse_paddr_target(raw, at: At, refs: Refs) -> Target:
    if "workload" in raw or "pid" in raw:
        raise at.error("a paddr target has no process: give nodes or regions")
    if ("nodes" in raw) == ("regions" in raw):
        raise at.error("a paddr target needs exactly one of nodes or regions")
    if "nodes" in raw:
        nodes = _int_list(raw["nodes"], at / "nodes")
        return Target(nodes=[refs.node(n, at / "nodes" / i) for i, n in enumerate(nodes)])
    regions = [_parse_range(r, at / "regions" / i)
               for i, r in enumerate(_list(raw["regions"], at / "regions", False))]
    return Target(regions=regions)


def _parse_range(raw, at: At) -> Tuple[int, int]:
    raw = _mapping(raw, at, ("start", "end"), required=("start", "end"))
    start, end = _int(raw["start"], at / "start"), _int(raw["end"], at / "end")
    if start >= end:
        raise at.error("start must be below end")
    return start, end


_SCHEME_KEYS = ("name", "action", "access_pattern", "apply_interval_us", "target_nid",
                "quotas", "watermarks", "filters", "dests")


def _parse_scheme(raw, at: At, ctx: Context, refs: Refs) -> Scheme:
    raw = _mapping(raw, at, _SCHEME_KEYS, required=("name", "action", "access_pattern"))
    name = _name(raw["name"], at / "name")
    if name in refs.schemes:
        raise (at / "name").error(f"scheme name {name!r} is used twice")
    action = _choice(raw["action"], at / "action", ACTIONS)
    if action in VADDR_ONLY_ACTIONS and ctx.operations == "paddr":
        raise (at / "action").error(f"{action} needs vaddr or fvaddr operations, not paddr")
    s = Scheme(name, action, _parse_pattern(raw["access_pattern"], at / "access_pattern",
                                            ctx.intervals))
    s.apply_interval_us = _int(raw.get("apply_interval_us", 0), at / "apply_interval_us",
                               0, U32_MAX)
    _parse_scheme_nodes(raw, at, s, ctx, refs)
    s.quotas = _parse_quotas(raw.get("quotas"), at / "quotas", refs)
    if raw.get("watermarks") is not None:
        s.watermarks = _parse_watermarks(raw["watermarks"], at / "watermarks")
    s.filters = [_parse_filter(f, at / "filters" / i, len(ctx.targets), refs)
                 for i, f in enumerate(_list(raw.get("filters"), at / "filters"))]
    refs.schemes[name] = s
    return s


def _parse_scheme_nodes(raw, at: At, s: Scheme, ctx: Context, refs: Refs) -> None:
    if raw.get("target_nid") is not None:
        s.target_nid = refs.node(raw["target_nid"], at / "target_nid")
    s.dests = [_parse_dest(d, at / "dests" / i, refs)
               for i, d in enumerate(_list(raw.get("dests"), at / "dests"))]
    if s.dests and ctx.operations == "paddr":
        raise (at / "dests").error("paddr migration uses only target_nid; dests is vaddr-only")
    if s.action in MIGRATE_ACTIONS and s.target_nid is None and not s.dests:
        raise (at / "target_nid").error(f"{s.action} needs target_nid (or dests with vaddr)")


def _parse_dest(raw, at: At, refs: Refs) -> Dest:
    raw = _mapping(raw, at, ("nid", "weight"), required=("nid",))
    return Dest(nid=refs.node(raw["nid"], at / "nid"),
                weight=_int(raw.get("weight", 1), at / "weight", 0, U32_MAX))


def _parse_pattern(raw, at: At, iv: Intervals) -> AccessPattern:
    raw = _mapping(raw, at, ("sz", "nr_accesses", "age"),
                   required=("sz", "nr_accesses", "age"))
    max_acc = iv.aggr_us // iv.sample_us
    sz = _bounds(raw["sz"], at / "sz", lambda v, a: _size(v, a))
    acc = _bounds(raw["nr_accesses"], at / "nr_accesses",
                  lambda v, a: _accesses(v, a, max_acc))
    age = _bounds(raw["age"], at / "age", lambda v, a: _age(v, a, iv.aggr_us))
    return AccessPattern(sz=sz, nr_accesses=acc, age=age)


def _bounds(raw, at: At, convert) -> Tuple[int, int]:
    if isinstance(raw, dict):
        raw = _mapping(raw, at, ("min", "max"), required=("min", "max"))
        raw = [raw["min"], raw["max"]]
    if not isinstance(raw, list) or len(raw) != 2:
        raise at.error(f"must be [min, max] or {{min: , max: }}, not {raw!r}")
    lo, hi = convert(raw[0], at / "min"), convert(raw[1], at / "max")
    if lo > hi:
        raise at.error(f"min {lo} is greater than max {hi}")
    return lo, hi


def _accesses(raw, at: At, max_acc: int) -> int:
    """A count per aggregation interval, 'max', or a percentage of the maximum."""
    if raw == "max":
        return U32_MAX
    if isinstance(raw, str) and raw.strip().endswith("%"):
        q = _quantity(raw, at)
        return int(round(q.value * max_acc))
    value = _int(raw, at, 0, U32_MAX)
    if value > max_acc and value != U32_MAX:
        raise at.error(f"{value} can never be seen: at most aggr_us / sample_us = "
                       f"{max_acc} accesses are counted per aggregation interval")
    return value


def _age(raw, at: At, aggr_us: int) -> int:
    """Aggregation intervals, 'max', or a duration string such as '5s'."""
    if raw == "max":
        return U32_MAX
    if isinstance(raw, str):
        return int(_duration(raw, at) * 1e6 // aggr_us)
    return _int(raw, at, 0, U32_MAX)


def _parse_quotas(raw, at: At, refs: Refs) -> Quotas:
    keys = ("ms", "bytes", "reset_interval_ms", "goal_tuner", "weights", "goals")
    raw = _mapping(raw, at, keys)
    q = Quotas(ms=_int(raw.get("ms", 0), at / "ms", 0, U64_MAX),
               bytes=_size(raw.get("bytes", 0), at / "bytes"),
               reset_interval_ms=_int(raw.get("reset_interval_ms", 0),
                                      at / "reset_interval_ms", 0, U64_MAX))
    if raw.get("goal_tuner") is not None:
        q.goal_tuner = _choice(raw["goal_tuner"], at / "goal_tuner", GOAL_TUNERS)
    weights = _mapping(raw.get("weights"), at / "weights",
                       ("sz_permil", "nr_accesses_permil", "age_permil"))
    q.weights = {k: _int(v, at / "weights" / k, 0, U32_MAX) for k, v in weights.items()}
    q.goals = [_parse_goal(g, at / "goals" / i, refs)
               for i, g in enumerate(_list(raw.get("goals"), at / "goals"))]
    if q.goals and not q.reset_interval_ms:
        raise (at / "reset_interval_ms").error("goals are re-evaluated every reset "
                                               "interval; set it (e.g. 1000)")
    return q


def _parse_goal(raw, at: At, refs: Refs) -> Goal:
    raw = _mapping(raw, at, ("metric", "value", "nid", "cgroup"),
                   required=("metric", "value"))
    metric = _choice(raw["metric"], at / "metric", GOAL_METRICS)
    g = Goal(metric=metric, value=_goal_value(raw["value"], at / "value", metric))
    if metric in NID_GOALS:
        if raw.get("nid") is None:
            raise (at / "nid").error(f"{metric} needs nid")
        g.nid = refs.node(raw["nid"], at / "nid")
    elif "nid" in raw:
        raise (at / "nid").error(f"{metric} takes no nid")
    if metric in MEMCG_GOALS:
        if raw.get("cgroup") is None:
            raise (at / "cgroup").error(f"{metric} needs cgroup")
        g.cgroup = refs.cgroup(raw["cgroup"], at / "cgroup")
    elif "cgroup" in raw:
        raise (at / "cgroup").error(f"{metric} takes no cgroup")
    return g


def _goal_value(raw, at: At, metric: str) -> int:
    if isinstance(raw, str) and metric.endswith("_bp"):
        q = _quantity(raw, at)
        value = int(round(q.value * 10000)) if q.fraction else int(q.value)
    else:
        value = _int(raw, at, 0, U64_MAX)
    if value == 0:
        raise at.error("a goal of 0 is skipped silently by the kernel")
    if metric.endswith("_bp") and value > 10000:
        raise at.error(f"{value} bp is more than 100 %")
    return value


def _parse_watermarks(raw, at: At) -> Watermarks:
    raw = _mapping(raw, at, ("metric", "interval_us", "high", "mid", "low"),
                   required=("metric",))
    w = Watermarks(metric=_choice(raw["metric"], at / "metric", WATERMARK_METRICS))
    for key in ("interval_us", "high", "mid", "low"):
        setattr(w, key, _int(raw.get(key, 0), at / key, 0, U64_MAX))
    if w.metric != "none" and not w.high >= w.mid >= w.low:
        raise at.error("watermarks need high >= mid >= low")
    return w


_FILTER_KEYS = ("type", "matching", "allow", "cgroup", "addr_start", "addr_end",
                "min", "max", "target_idx")
_FILTER_NEEDS = {"memcg": ("cgroup",), "addr": ("addr_start", "addr_end"),
                 "hugepage_size": ("min", "max"), "target": ("target_idx",)}


def _parse_filter(raw, at: At, nr_targets: int, refs: Refs) -> Filter:
    raw = _mapping(raw, at, _FILTER_KEYS, required=("type",))
    ftype = _choice(raw["type"], at / "type", CORE_FILTERS + OPS_FILTERS)
    needs = _FILTER_NEEDS.get(ftype, ())
    for key in ("cgroup", "addr_start", "addr_end", "min", "max", "target_idx"):
        if key in raw and key not in needs:
            raise (at / key).error(f"a {ftype} filter takes no {key}")
        if key in needs and key not in raw:
            raise (at / key).error(f"a {ftype} filter needs {key}")
    f = Filter(type=ftype, matching=_bool(raw.get("matching", True), at / "matching"),
               allow=_bool(raw.get("allow", False), at / "allow"))
    if "cgroup" in raw:
        f.cgroup = refs.cgroup(raw["cgroup"], at / "cgroup")
    for key in ("addr_start", "addr_end", "min", "max"):
        if key in raw:
            setattr(f, key, _size(raw[key], at / key))
    if "target_idx" in raw:
        f.target_idx = _int(raw["target_idx"], at / "target_idx", 0, nr_targets - 1)
    return f


# ------------------------------------------------------------------ sampling

_METRIC_KEYS = {
    "smaps": ("smaps", "field"),
    "numa_maps": ("numa_maps", "node"),
    "vmstat": ("vmstat",),
    "memcg_numa": ("memcg_numa", "node", "field"),
    "damos": ("damos", "field"),
    "node_meminfo": ("node_meminfo", "field"),
    "file": ("file",),
}


def _parse_sample(raw, at: At, refs: Refs) -> Sampling:
    raw = _mapping(raw, at, ("interval", "duration", "metrics"),
                   required=("interval", "duration", "metrics"))
    interval = _duration(raw["interval"], at / "interval")
    duration = _duration(raw["duration"], at / "duration")
    if interval <= 0 or duration < interval:
        raise at.error("need 0 < interval <= duration")
    metrics = _free_mapping(raw["metrics"], at / "metrics")
    if not metrics:
        raise (at / "metrics").error("must name at least one metric")
    for name, spec in metrics.items():
        refs.metrics[name] = _parse_metric(name, spec, at / "metrics" / str(name), refs)
    return Sampling(interval, duration, refs.metrics)


def _parse_metric(name, raw, at: At, refs: Refs) -> Metric:
    _name(name, at)
    if not isinstance(raw, dict):
        raise at.error(f"must be a mapping with one of: {', '.join(METRIC_SOURCES)}")
    sources = [k for k in raw if k in METRIC_SOURCES]
    if len(sources) != 1:
        raise at.error(f"needs exactly one source key of: {', '.join(METRIC_SOURCES)}")
    source = sources[0]
    raw = _mapping(raw, at, _METRIC_KEYS[source])
    m = Metric(name=name, source=source)
    _METRIC_PARSERS[source](m, raw, at, refs)
    return m


def _region_ref(m: Metric, raw, at: At, refs: Refs) -> None:
    text = raw[m.source]
    wname, dot, region = str(text).partition(".")
    if not dot:
        raise (at / m.source).error(f"{text!r} is not WORKLOAD.REGION (e.g. toucher.hot)")
    m.workload = refs.workload(wname, at / m.source)
    m.region = _choice(region, at / m.source, WORKLOAD_REGIONS)


def _metric_smaps(m, raw, at, refs):
    _region_ref(m, raw, at, refs)
    m.field = str(raw.get("field", "AnonHugePages"))


def _metric_numa_maps(m, raw, at, refs):
    _region_ref(m, raw, at, refs)
    if "node" not in raw:
        raise (at / "node").error("is required")
    m.node = refs.node(raw["node"], at / "node")


def _metric_vmstat(m, raw, at, refs):
    m.field = _name(raw["vmstat"], at / "vmstat")


def _metric_memcg_numa(m, raw, at, refs):
    m.cgroup = refs.cgroup(raw["memcg_numa"], at / "memcg_numa")
    if "node" not in raw:
        raise (at / "node").error("is required")
    m.node = refs.node(raw["node"], at / "node")
    m.field = _name(raw.get("field", "anon"), at / "field")


def _metric_damos(m, raw, at, refs):
    if raw["damos"] not in refs.schemes:
        raise (at / "damos").error(f"unknown scheme {raw['damos']!r} (damon has: "
                                   f"{', '.join(refs.schemes) or 'none'})")
    m.scheme = raw["damos"]
    m.field = _choice(raw.get("field", "sz_applied"), at / "field", DAMOS_FIELDS)


def _metric_node_meminfo(m, raw, at, refs):
    m.node = refs.node(raw["node_meminfo"], at / "node_meminfo")
    m.field = _name(raw.get("field", "MemUsed"), at / "field")


def _metric_file(m, raw, at, refs):
    path = raw["file"]
    if not isinstance(path, str) or not re.match(r"^/(sys|proc)/[\w./-]+$", path):
        raise (at / "file").error(f"{path!r} is not a file under /sys or /proc")
    m.field = path


_METRIC_PARSERS = {"file": _metric_file, "smaps": _metric_smaps, "numa_maps": _metric_numa_maps,
                   "vmstat": _metric_vmstat, "memcg_numa": _metric_memcg_numa,
                   "damos": _metric_damos, "node_meminfo": _metric_node_meminfo}


# -------------------------------------------------------------- expectations

_EXPECT_KEYS = ("name", "metric", "should") + EXPECT_KINDS
_KIND_KEYS = {
    "reaches": ("at_least", "at_most", "within", "delta"),
    "stays": ("at_least", "at_most", "delta", "after"),
    "converges": ("target", "tolerance", "settle", "samples"),
}


def _parse_expectations(raw, at: At, refs: Refs, sample: Sampling) -> List[Expectation]:
    items = _list(raw, at, allow_empty=False)
    out = [_parse_expectation(e, at / i, refs, sample) for i, e in enumerate(items)]
    names = [e.name for e in out]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise (at / i / "name").error(f"expectation name {name!r} is used twice")
    return out


def _parse_expectation(raw, at: At, refs: Refs, sample: Sampling) -> Expectation:
    raw = _mapping(raw, at, _EXPECT_KEYS, required=("metric",))
    kinds = [k for k in EXPECT_KINDS if k in raw]
    if len(kinds) != 1:
        raise at.error(f"needs exactly one of: {', '.join(EXPECT_KINDS)}")
    metric = raw["metric"]
    if metric not in refs.metrics:
        raise (at / "metric").error(f"unknown metric {metric!r} (sample.metrics has: "
                                    f"{', '.join(refs.metrics)})")
    kind = kinds[0]
    e = Expectation(name=str(raw.get("name", f"{metric} {kind}")), metric=metric, kind=kind,
                    should=_choice(raw.get("should", "pass"), at / "should", ("pass", "fail")))
    body = _mapping(raw[kind], at / kind, _KIND_KEYS[kind])
    _KIND_PARSERS[kind](e, body, at / kind, sample)
    _check_percent_reference(e, refs.metrics[metric], at / kind)
    return e


def _one_bound(e: Expectation, body, at: At) -> None:
    if ("at_least" in body) == ("at_most" in body):
        raise at.error("needs exactly one of at_least or at_most")
    for key in ("at_least", "at_most"):
        if key in body:
            setattr(e, key, _quantity(body[key], at / key))


def _expect_reaches(e, body, at, sample):
    _one_bound(e, body, at)
    if "within" not in body:
        raise (at / "within").error("is required")
    e.within = _duration(body["within"], at / "within")
    e.delta = _bool(body.get("delta", False), at / "delta")
    if e.within > sample.duration:
        raise (at / "within").error(f"{e.within:g} s is longer than sample.duration "
                                    f"({sample.duration:g} s)")


def _expect_stays(e, body, at, sample):
    _one_bound(e, body, at)
    e.delta = _bool(body.get("delta", False), at / "delta")
    e.settle = _duration(body.get("after", 0), at / "after")


def _expect_converges(e, body, at, sample):
    for key in ("target", "tolerance"):
        if key not in body:
            raise (at / key).error("is required")
    e.target = _quantity(body["target"], at / "target")
    e.tolerance = _quantity(body["tolerance"], at / "tolerance")
    e.settle = _duration(body.get("settle", 0), at / "settle")
    e.samples = _int(body.get("samples", 10), at / "samples", 1, 1 << 20)
    room = int((sample.duration - e.settle) / sample.interval) + 1
    if e.samples > room:
        raise (at / "samples").error(
            f"{e.samples} samples do not fit after a {e.settle:g} s settle: "
            f"sample.duration {sample.duration:g} s every {sample.interval:g} s "
            f"gives at most {room}")


_KIND_PARSERS = {"reaches": _expect_reaches, "stays": _expect_stays,
                 "converges": _expect_converges}


def _check_percent_reference(e: Expectation, m: Metric, at: At) -> None:
    """A percentage means: of the region (smaps, numa_maps) or of the node's
    memory (memcg_numa, node_meminfo). Other metrics have no reference."""
    if metric_reference_kind(m) is not None:
        return
    for key in ("at_least", "at_most", "target"):
        q = getattr(e, key)
        if q is not None and q.fraction:
            raise (at / key).error(f"a percentage needs a reference size; metric "
                                   f"{m.name!r} ({m.source}) has none")


def metric_reference_kind(m: Metric) -> Optional[str]:
    if m.source in REGION_SOURCES:
        return "region"
    if m.source in ("memcg_numa", "node_meminfo"):
        return "node"
    return None


def metric_reference(sc: Scenario, m: Metric, node_total: Dict[int, int]) -> Optional[float]:
    """The size a percentage refers to; node totals come from the guest."""
    kind = metric_reference_kind(m)
    if kind == "region":
        return float(sc.workloads[m.workload].region_size(m.region))
    if kind == "node":
        return float(node_total.get(m.node, sc.topology.nodes[m.node].memory))
    return None
