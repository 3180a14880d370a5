"""Scenarios as data: one YAML file describes one experiment completely.

Each model below is declared once: its fields name the YAML keys, their
readers (types, ranges, units: see harness.schema) and their defaults, and
`validate` holds the rules that span fields. load_scenario(path) reads and
validates everything, including the kernel it asks for (paths resolve
relative to the scenario file), before anything boots, builds or downloads.
Every error is an InputError naming the file and the key path, e.g.
"collapse.yaml: damon.kdamonds[0].contexts[0].schemes[1].action".
"""

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from harness import schema
from harness.errors import InputError
from harness.metrics import Metric, RunFacts, read_metric, reference_size
from harness.reference import Reference
from harness.schema import (U32_MAX, U64_MAX, At, boolean, choice, duration, integer, key,
                            kernel_parameter, list_of, map_of, model, name, node, number,
                            read, shown, size, string_map, text)
from harness.topology import Topology, load_topology, parse_cpu_list, parse_topology
from harness.yamlfile import load_yaml

__all__ = ["U32_MAX", "U64_MAX", "load_scenario", "parse_scenario", "Scenario"]

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
EXPECT_KINDS = ("reaches", "stays", "converges")
MAX_SAMPLES = 100000
CGROUPS = schema.ref("cgroups", "guest.cgroups")
WORKLOADS = schema.ref("workloads", "workloads")


# ------------------------------------------------------------- quantities

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


def quantity(raw, at: At, ctx=None) -> Quantity:
    """50% or 1000bp (a fraction in 0..100 %), 64MiB, or a finite number."""
    if isinstance(raw, str):
        body = raw.strip()
        for suffix, scale in (("%", 100.0), ("bp", 10000.0)):
            if body.endswith(suffix):
                return Quantity(_fraction(body[:-len(suffix)], scale, raw, at), True)
        return Quantity(float(size()(body, at)))
    return Quantity(number(-math.inf)(raw, at))


def _fraction(digits: str, scale: float, raw: str, at: At) -> float:
    try:
        value = float(digits)
    except ValueError:
        raise at.error(f"not a number: {shown(raw)}") from None
    if not math.isfinite(value) or not 0 <= value <= scale:
        raise at.error(f"{shown(raw)} is outside 0..100 %")
    return value / scale


def positive_quantity(raw, at: At, ctx=None) -> Quantity:
    q = quantity(raw, at)
    if q.value <= 0:
        raise at.error(f"must be more than 0, not {shown(raw)}")
    return q


# ------------------------------------------------------------------ kernel

@dataclass
class KernelSpec:
    """default: Debian's cloud kernel; file: an image (+ modules tree);
    build: a source + patch series + config fragments, built and cached."""
    kind: str = "default"
    image: Optional[str] = None
    modules: Optional[str] = None
    source: Optional[str] = None
    patches: List[str] = field(default_factory=list)
    configs: List[str] = field(default_factory=list)


def _path(raw, at: At, ctx) -> str:
    """A path in a scenario: relative to the scenario file's directory."""
    if not isinstance(raw, str) or not raw.strip():
        raise at.error(f"must be a path, not {shown(raw)}")
    path = Path(raw).expanduser()
    return str(path if path.is_absolute() else Path(ctx.base_dir) / path)


def _fragment(raw, at: At, ctx) -> str:
    """A fragment name from kernel-configs/, or a path (it has a '/')."""
    if not isinstance(raw, str) or not raw.strip():
        raise at.error(f"must be a fragment name or path, not {shown(raw)}")
    return _path(raw, at, ctx) if "/" in raw else raw


@dataclass
class KernelBuild:
    source: Optional[str] = key(_path)
    patches: List[str] = key(list_of(_path, scalar_ok=True), factory=list)
    configs: List[str] = key(list_of(_fragment), factory=list)

    def validate(self, at: At, ctx) -> None:
        from harness.kernel.build import validate_build_inputs
        for name_, args in (("source", (self.source, (), ())),
                            ("patches", (None, self.patches, ())),
                            ("configs", (None, (), self.configs))):
            try:
                validate_build_inputs(*args)
            except InputError as exc:
                raise (at / name_).error(exc.message) from None


@dataclass
class KernelFile:
    image: Optional[str] = key(_path, required=True)
    modules: Optional[str] = key(_path)

    def validate(self, at: At, ctx) -> None:
        from harness.kernel.artifact import user_kernel
        try:
            user_kernel(self.image, self.modules)
        except InputError as exc:
            where = "modules" if getattr(exc, "where", "") == "--modules" else "image"
            raise (at / where).error(exc.message) from None


def _kernel(raw, at: At, ctx) -> KernelSpec:
    if raw == "default":
        return KernelSpec()
    if isinstance(raw, str):
        raw = {"image": raw}
    if isinstance(raw, dict) and "build" in raw:
        schema.mapping(raw, at, ("build",))
        b = read(KernelBuild, raw["build"] or {}, at / "build", ctx)
        return KernelSpec("build", source=b.source, patches=b.patches, configs=b.configs)
    f = read(KernelFile, raw, at, ctx)
    return KernelSpec("file", image=f.image, modules=f.modules)


def _topology(raw, at: At, ctx) -> Topology:
    if isinstance(raw, dict):
        topo = parse_topology(raw, f"{at.file}: topology")
    elif isinstance(raw, str):
        local = Path(ctx.base_dir) / raw
        try:
            topo = load_topology(str(local) if local.is_file() else raw)
        except InputError as exc:
            raise at.error(str(exc)) from None
    else:
        raise at.error("must be a built-in name, a path or a mapping")
    ctx.topology = topo
    return topo


# -------------------------------------------------------------------- guest

@dataclass
class Cgroup:
    name: str = ""
    limits: Dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The path DAMON's memcg filters and goals take: relative to the root."""
        return "/" + self.name


def _cgroup(raw, at: At, ctx) -> Cgroup:
    return Cgroup(limits=string_map(r"^(memory|cpu|cpuset|io|pids)\.[\w.]+$")(raw, at, ctx))


@dataclass
class GuestSetup:
    thp: Optional[str] = key(choice(*THP_MODES))
    numa_balancing: Optional[int] = key(integer(0, 3))
    sysctls: Dict[str, str] = key(string_map(r"^[a-z0-9_.]+$"), factory=dict)
    sysfs: Dict[str, str] = key(string_map(r"^/(sys|proc)/[\w./-]+$"), factory=dict)
    cgroups: Dict[str, Cgroup] = key(map_of(_cgroup), factory=dict)
    modules: List[str] = key(list_of(name), factory=list)      # modprobe'd first
    # kernel parameters, after the harness's own
    cmdline: List[str] = key(list_of(kernel_parameter), factory=list)

    def validate(self, at: At, ctx) -> None:
        if "kernel.numa_balancing" in self.sysctls:
            raise (at / "sysctls" / "kernel.numa_balancing").error(
                "set guest.numa_balancing instead")
        ctx.declare("cgroups", self.cgroups)


# ---------------------------------------------------------------- workloads

# The workload program's limits (hotcold.c: NAME_LEN, MAX_REGIONS, MAX_PHASES).
NAME_MAX, REGIONS_MAX, PHASES_MAX = 23, 16, 64
DEFAULT_REGION = 64 << 20


@dataclass
class Phase:
    """One phase of the access-pattern form: each round sweeps every region
    of `access` as many times as its weight; no region at all is idle."""
    name: str = key(schema.name, required=True)
    seconds: float = key(duration(), required=True)
    access: Dict[str, int] = key(map_of(integer(0, 1000)), factory=dict)


def _phases(raw, at: At, ctx) -> list:
    """KIND:SECONDS items (the hot/cold form, also as one comma-separated
    string) or {name, seconds, access} phases (the access-pattern form)."""
    if isinstance(raw, str):
        raw = [p for p in raw.split(",") if p.strip()]
    return list_of(_phase, allow_empty=False)(raw, at, ctx)


def _phase(raw, at: At, ctx):
    if isinstance(raw, dict):
        return read(Phase, raw, at, ctx)
    kind, sep, secs = str(raw).partition(":") if isinstance(raw, str) else ("", "", "")
    if not sep:
        raise at.error(f"{shown(raw)} is not KIND:SECONDS (e.g. hot:30) or a phase "
                       f"mapping (name, seconds, access)")
    return choice(*PHASE_KINDS)(kind.strip(), at), duration()(secs, at)


def _cpus(raw, at: At, ctx) -> List[int]:
    topo = ctx.topology
    if isinstance(raw, str):
        cpus = parse_cpu_list(raw, f"{at.file}: {at.path}")
    else:
        cpus = list_of(integer(0, U32_MAX), scalar_ok=True)(raw, at, ctx)
    for cpu in cpus:
        if cpu >= topo.vcpus:
            raise at.error(f"CPU {cpu} does not exist: topology {topo.name!r} has "
                           f"CPUs 0..{topo.vcpus - 1}")
    return cpus


@dataclass
class Workload:
    """The hot/cold form (hot, cold, phases of KIND:SECONDS) or the
    access-pattern form (named regions, phases that weigh them, loop)."""
    name: str = ""
    program: str = key(choice("hotcold"), default="hotcold")
    hot: Optional[int] = key(size(lo=1))
    cold: Optional[int] = key(size(lo=1))
    regions: Dict[str, int] = key(map_of(size(lo=1), allow_empty=False), factory=dict)
    phases: Optional[list] = key(_phases)
    loop: bool = key(boolean, default=False)
    stride: int = key(size(lo=1), default=4096)
    rate: float = key(number(), default=0.0)         # rounds per second, 0 = flat out
    madvise: str = key(choice(*MADVISE), default="none")
    first_touch_node: Optional[int] = key(node)
    tlb_flush_ms: float = key(number(), default=0.0)     # see hotcold.c
    # A separate small VMA right below the first region, which then starts
    # there (hotcold.c): what keeps MADV_COLLAPSE from a whole DAMON region.
    small_vma_below: int = key(size(lo=4096), default=0)
    cpus: List[int] = key(_cpus, factory=list)
    membind: List[int] = key(list_of(node, scalar_ok=True), factory=list)
    cgroup: Optional[str] = key(CGROUPS)

    def region_sizes(self) -> Dict[str, int]:
        sizes = dict(self.regions) or {"hot": self.hot, "cold": self.cold}
        if self.small_vma_below:
            first = next(iter(sizes))
            sizes[first] += self.small_vma_below
        return sizes

    def region_size(self, region: str) -> int:
        return self.region_sizes()[region]

    def program_args(self) -> List[str]:
        if self.regions:
            args = [a for n, sz in self.regions.items() for a in ("--region", f"{n}:{sz}")]
            args += [a for p in self.phases for a in ("--phase", _phase_arg(p))]
            args += ["--loop"] if self.loop else []
        else:
            args = ["--hot", str(self.hot), "--cold", str(self.cold),
                    "--phases", ",".join(f"{k}:{s:g}" for k, s in self.phases)]
        args += ["--stride", str(self.stride), "--rate", f"{self.rate:g}",
                 "--madvise", self.madvise, "--tlb-flush", f"{self.tlb_flush_ms:g}"]
        if self.first_touch_node is not None:
            args += ["--first-touch-node", str(self.first_touch_node)]
        if self.small_vma_below:
            args += ["--small-vma-below", str(self.small_vma_below)]
        return args

    def validate(self, at: At, ctx) -> None:
        if self.regions:
            self._validate_pattern(at)
        else:
            self._validate_hot_cold(at)
        if self.small_vma_below % 4096 or self.small_vma_below >= 2 << 20:
            raise (at / "small_vma_below").error(
                "must be whole 4 KiB pages and less than a 2 MiB huge page")
        topo = ctx.topology
        need = sum(self.region_sizes().values())
        nodes = self.membind or ([self.first_touch_node]
                                 if self.first_touch_node is not None else [])
        room = sum(topo.nodes[n].memory for n in nodes) if nodes else topo.memory
        if need >= room:
            raise at.error(f"the regions need {need >> 20} MiB, which does not fit in the "
                           f"{room >> 20} MiB of memory they may use")

    def _validate_hot_cold(self, at: At) -> None:
        self.hot = self.hot or DEFAULT_REGION
        self.cold = self.cold or DEFAULT_REGION
        self.phases = self.phases or [("hot", 0.0)]
        for i, phase in enumerate(self.phases):
            if isinstance(phase, Phase):
                raise (at / "phases" / i).error("a phase with access weights needs "
                                                "regions: (name: size)")
        if self.loop:
            raise (at / "loop").error("loop needs the access-pattern form (regions:)")

    def _validate_pattern(self, at: At) -> None:
        for k in ("hot", "cold"):
            if getattr(self, k) is not None:
                raise (at / k).error("give hot and cold, or regions, not both")
        if len(self.regions) > REGIONS_MAX:
            raise (at / "regions").error(f"at most {REGIONS_MAX} regions")
        if not self.phases:
            raise (at / "phases").error("regions need phases (name, seconds, access)")
        if len(self.phases) > PHASES_MAX:
            raise (at / "phases").error(f"at most {PHASES_MAX} phases")
        for name in self.regions:
            if len(name) > NAME_MAX:
                raise (at / "regions" / name).error(f"a name of at most {NAME_MAX} characters")
        for i, phase in enumerate(self.phases):
            self._validate_phase(phase, at / "phases" / i)

    def _validate_phase(self, phase, at: At) -> None:
        if not isinstance(phase, Phase):
            raise at.error("with regions, a phase is a mapping (name, seconds, access)")
        if len(phase.name) > NAME_MAX:
            raise (at / "name").error(f"a name of at most {NAME_MAX} characters")
        for region in phase.access:
            if region not in self.regions:
                raise (at / "access" / region).error(
                    f"no region {region!r} (regions has: {', '.join(self.regions)})")


def _phase_arg(phase: Phase) -> str:
    weights = ",".join(f"{r}={w}" for r, w in phase.access.items() if w)
    return f"{phase.name}:{phase.seconds:g}" + (f":{weights}" if weights else "")


def _workloads(raw, at: At, ctx) -> Dict[str, Workload]:
    table = map_of(model(Workload), allow_empty=False)(raw, at, ctx)
    ctx.declare("workloads", table)
    return table


# --------------------------------------------------------------- damon: tree

@dataclass
class Intervals:
    sample_us: int = key(integer(1, U32_MAX), default=5000)
    aggr_us: int = key(integer(1, U32_MAX), default=100000)
    update_us: int = key(integer(1, U32_MAX), default=1000000)

    def validate(self, at: At, ctx) -> None:
        if self.aggr_us < self.sample_us:
            raise (at / "aggr_us").error("must be at least sample_us")


@dataclass
class NrRegions:
    min: int = key(integer(3, U32_MAX), default=10)
    max: int = key(integer(3, U32_MAX), default=1000)

    def validate(self, at: At, ctx) -> None:
        if self.min > self.max:
            raise at.error("min is greater than max")


def _nr_regions(raw, at: At, ctx) -> Tuple[int, int]:
    bounds = read(NrRegions, raw, at, ctx)
    return bounds.min, bounds.max


@dataclass
class Range:
    start: int = key(integer(), required=True)
    end: int = key(integer(), required=True)

    def validate(self, at: At, ctx) -> None:
        if self.start >= self.end:
            raise at.error("start must be below end")


def _region_item(raw, at: At, ctx) -> Union[str, Tuple[int, int]]:
    """A workload's region by name (hot, cold, or one of its regions:), or an
    explicit range; names are checked against the workload by the target."""
    if isinstance(raw, str):
        return name(raw, at)
    r = read(Range, raw, at, ctx)
    return r.start, r.end


@dataclass
class Target:
    workload: Optional[str] = key(WORKLOADS)
    pid: Optional[int] = key(integer(1, U32_MAX))
    nodes: List[int] = key(list_of(node, scalar_ok=True), factory=list)   # paddr
    regions: List[Tuple[int, int]] = key(list_of(_region_item), factory=list)
    workload_regions: List[str] = field(default_factory=list)           # fvaddr: hot/cold

    def validate(self, at: At, ctx) -> None:
        names = [r for r in self.regions if isinstance(r, str)]
        self.regions = [r for r in self.regions if not isinstance(r, str)]
        self.workload_regions = names
        ops = ctx.lookup("operations")
        if ops == "paddr":
            self._validate_paddr(at, names)
        else:
            self._validate_process(at, ops, names, ctx)

    def _validate_paddr(self, at: At, names: List[str]) -> None:
        if self.workload is not None or self.pid is not None:
            raise at.error("a paddr target has no process: give nodes or regions")
        if bool(self.nodes) == bool(self.regions or names):
            raise at.error("a paddr target needs exactly one of nodes or regions")
        if names:
            raise (at / "regions").error("region names need a workload target")

    def _validate_process(self, at: At, ops: str, names: List[str], ctx) -> None:
        if (self.workload is None) == (self.pid is None):
            raise at.error(f"a {ops} target needs exactly one of workload or pid")
        if self.nodes:
            raise (at / "nodes").error("only paddr targets cover nodes")
        if ops == "fvaddr" and not (self.regions or names):
            raise (at / "regions").error("fvaddr targets need regions")
        if names and self.workload is None:
            raise (at / "regions").error("region names need a workload target")
        known = ctx.names["workloads"][self.workload].region_sizes() if names else {}
        for i, region in enumerate(names):
            if region not in known:
                raise (at / "regions" / i).error(
                    f"workload {self.workload!r} has no region {region!r} (it has: "
                    f"{', '.join(known)})")


def _bounds(item) -> schema.Reader:
    """[min, max] or {min:, max:}, each read by `item`; min <= max."""
    def read_bounds(raw, at, ctx):
        if isinstance(raw, dict):
            raw = schema.mapping(raw, at, ("min", "max"), required=("min", "max"))
            raw = [raw["min"], raw["max"]]
        if not isinstance(raw, list) or len(raw) != 2:
            raise at.error(f"must be [min, max] or {{min: , max: }}, not {shown(raw)}")
        lo, hi = item(raw[0], at / "min", ctx), item(raw[1], at / "max", ctx)
        if lo > hi:
            raise at.error(f"min {lo} is greater than max {hi}")
        return lo, hi
    return read_bounds


def _accesses(raw, at: At, ctx) -> int:
    """A count per aggregation interval, 'max', or a percentage of the maximum."""
    iv = ctx.lookup("intervals") or Intervals()
    max_acc = iv.aggr_us // iv.sample_us
    if raw == "max":
        return U32_MAX
    if isinstance(raw, str) and raw.strip().endswith("%"):
        return int(round(quantity(raw, at).value * max_acc))
    value = integer(0, U32_MAX)(raw, at)
    if value > max_acc:
        raise at.error(f"{value} can never be seen: at most aggr_us / sample_us = "
                       f"{max_acc} accesses are counted per aggregation interval")
    return value


def _age(raw, at: At, ctx) -> int:
    """Aggregation intervals, 'max', or a duration string such as '5s'."""
    if raw == "max":
        return U32_MAX
    if isinstance(raw, str):
        iv = ctx.lookup("intervals") or Intervals()
        return integer(0, U32_MAX)(int(duration()(raw, at) * 1e6 // iv.aggr_us), at)
    return integer(0, U32_MAX)(raw, at)


@dataclass
class AccessPattern:
    sz: Tuple[int, int] = key(_bounds(size(allow_max=True)), required=True)
    nr_accesses: Tuple[int, int] = key(_bounds(_accesses), required=True)
    age: Tuple[int, int] = key(_bounds(_age), required=True)


def _goal_value(raw, at: At, ctx) -> int:
    metric = ctx.lookup("metric")
    if isinstance(raw, str) and metric.endswith("_bp"):
        q = quantity(raw, at)
        value = int(round(q.value * 10000)) if q.fraction else int(q.value)
    else:
        value = integer()(raw, at)
    if value == 0:
        raise at.error("a goal of 0 is skipped silently by the kernel")
    if metric.endswith("_bp") and value > 10000:
        raise at.error(f"{value} bp is more than 100 %")
    return value


@dataclass
class Goal:
    metric: str = key(choice(*GOAL_METRICS), required=True)
    value: int = key(_goal_value, required=True)
    nid: Optional[int] = key(node)
    cgroup: Optional[str] = key(CGROUPS)

    def validate(self, at: At, ctx) -> None:
        for name_, needed_by in (("nid", NID_GOALS), ("cgroup", MEMCG_GOALS)):
            given = getattr(self, name_) is not None
            if self.metric in needed_by and not given:
                raise (at / name_).error(f"{self.metric} needs {name_}")
            if given and self.metric not in needed_by:
                raise (at / name_).error(f"{self.metric} takes no {name_}")


def _weights(raw, at: At, ctx) -> Dict[str, int]:
    raw = schema.mapping(raw, at, ("sz_permil", "nr_accesses_permil", "age_permil"))
    return {k: integer(0, U32_MAX)(v, at / k) for k, v in raw.items()}


@dataclass
class Quotas:
    ms: int = key(integer(), default=0)
    bytes: int = key(size(), default=0)
    reset_interval_ms: int = key(integer(), default=0)
    goal_tuner: Optional[str] = key(choice(*GOAL_TUNERS))
    weights: Dict[str, int] = key(_weights, factory=dict)
    goals: List[Goal] = key(list_of(model(Goal)), factory=list)

    def validate(self, at: At, ctx) -> None:
        if self.goals and not self.reset_interval_ms:
            raise (at / "reset_interval_ms").error(
                "goals are re-evaluated every reset interval; set it (e.g. 1000)")


@dataclass
class Watermarks:
    metric: str = key(choice(*WATERMARK_METRICS), required=True)
    interval_us: int = key(integer(), default=0)
    high: int = key(integer(), default=0)
    mid: int = key(integer(), default=0)
    low: int = key(integer(), default=0)

    def validate(self, at: At, ctx) -> None:
        if self.metric != "none" and not self.high >= self.mid >= self.low:
            raise at.error("watermarks need high >= mid >= low")


def _target_idx(raw, at: At, ctx) -> int:
    return integer(0, max(0, len(ctx.lookup("targets", [])) - 1))(raw, at)


_FILTER_NEEDS = {"memcg": ("cgroup",), "addr": ("addr_start", "addr_end"),
                 "hugepage_size": ("min", "max"), "target": ("target_idx",)}


@dataclass
class Filter:
    type: str = key(choice(*CORE_FILTERS, *OPS_FILTERS), required=True)
    matching: bool = key(boolean, default=True)
    allow: bool = key(boolean, default=False)
    cgroup: Optional[str] = key(CGROUPS)
    addr_start: Optional[int] = key(size())
    addr_end: Optional[int] = key(size())
    min: Optional[int] = key(size())
    max: Optional[int] = key(size())
    target_idx: Optional[int] = key(_target_idx)

    @property
    def layer(self) -> str:
        return "core" if self.type in CORE_FILTERS else "ops"

    def validate(self, at: At, ctx) -> None:
        needs = _FILTER_NEEDS.get(self.type, ())
        for name_ in ("cgroup", "addr_start", "addr_end", "min", "max", "target_idx"):
            given = getattr(self, name_) is not None
            if given and name_ not in needs:
                raise (at / name_).error(f"a {self.type} filter takes no {name_}")
            if name_ in needs and not given:
                raise (at / name_).error(f"a {self.type} filter needs {name_}")


@dataclass
class Dest:
    nid: int = key(node, required=True)
    weight: int = key(integer(0, U32_MAX), default=1)


def _action(raw, at: At, ctx) -> str:
    action = choice(*ACTIONS)(raw, at)
    if action in VADDR_ONLY_ACTIONS and ctx.lookup("operations") == "paddr":
        raise at.error(f"{action} needs vaddr or fvaddr operations, not paddr")
    return action


@dataclass
class Scheme:
    name: str = key(name, required=True)
    action: str = key(_action, required=True)
    access_pattern: AccessPattern = key(model(AccessPattern), required=True)
    apply_interval_us: int = key(integer(0, U32_MAX), default=0)
    target_nid: Optional[int] = key(node)
    quotas: Quotas = key(model(Quotas), factory=Quotas)
    watermarks: Optional[Watermarks] = key(model(Watermarks))
    filters: List[Filter] = key(list_of(model(Filter)), factory=list)
    dests: List[Dest] = key(list_of(model(Dest)), factory=list)

    def validate(self, at: At, ctx) -> None:
        schemes = ctx.names.setdefault("schemes", {})
        if self.name in schemes:
            raise (at / "name").error(f"scheme name {self.name!r} is used twice")
        schemes[self.name] = self
        if self.dests and ctx.lookup("operations") == "paddr":
            raise (at / "dests").error("paddr migration uses only target_nid; "
                                       "dests is vaddr-only")
        if self.action in MIGRATE_ACTIONS and self.target_nid is None and not self.dests:
            raise (at / "target_nid").error(f"{self.action} needs target_nid "
                                            f"(or dests with vaddr)")


@dataclass
class Context:
    operations: str = key(choice(*OPERATIONS), required=True)
    intervals: Intervals = key(model(Intervals), factory=Intervals)
    nr_regions: Tuple[int, int] = key(_nr_regions, default=(10, 1000))
    targets: List[Target] = key(list_of(model(Target), allow_empty=False), required=True)
    schemes: List[Scheme] = key(list_of(model(Scheme)), required=True)


def _contexts(raw, at: At, ctx) -> List[Context]:
    if isinstance(raw, list) and len(raw) > 1:
        raise at.error("a kdamond has at most one context")
    return list_of(model(Context), allow_empty=False)(raw, at, ctx)


@dataclass
class Kdamond:
    contexts: List[Context] = key(_contexts, required=True)
    refresh_ms: int = key(integer(0, U32_MAX), default=1000)


@dataclass
class ModuleSetup:
    name: str = key(choice(*MODULES), required=True)
    params: Dict[str, str] = key(string_map(r"^[a-z0-9_]+$"), factory=dict)
    # Workloads whose pids go to the module's monitored_pids parameter.
    workloads: List[str] = key(list_of(WORKLOADS), factory=list)

    def validate(self, at: At, ctx) -> None:
        if "enabled" in self.params:
            raise (at / "params" / "enabled").error("is written last by the harness; "
                                                    "drop it")
        if self.workloads and "monitored_pids" in self.params:
            raise (at / "params" / "monitored_pids").error("give workloads or "
                                                           "monitored_pids")


@dataclass
class DamonSetup:
    kdamonds: List[Kdamond] = key(list_of(model(Kdamond), allow_empty=False), factory=list)
    module: Optional[ModuleSetup] = key(model(ModuleSetup))

    def validate(self, at: At, ctx) -> None:
        if bool(self.kdamonds) == (self.module is not None):
            raise at.error("give exactly one of kdamonds (the sysfs tree) or module")
        ctx.declare("kdamonds", {str(i): kd for i, kd in enumerate(self.kdamonds)})

    def schemes(self) -> Dict[str, Tuple[int, int, int]]:
        """Scheme name -> (kdamond, context, scheme) indices."""
        found = {}
        for k, kd in enumerate(self.kdamonds):
            for c, ctx in enumerate(kd.contexts):
                for s, scheme in enumerate(ctx.schemes):
                    found[scheme.name] = (k, c, s)
        return found


# ------------------------------------------------------------------ sampling

@dataclass
class Sampling:
    interval: float = key(duration(positive=True), required=True)
    duration: float = key(duration(positive=True), required=True)
    metrics: Dict[str, Metric] = key(map_of(read_metric, allow_empty=False), required=True)

    def validate(self, at: At, ctx) -> None:
        if self.duration < self.interval:
            raise at.error("need 0 < interval <= duration")
        if self.duration / self.interval > MAX_SAMPLES:
            raise at.error(f"{self.duration:g} s every {self.interval:g} s is more than "
                           f"{MAX_SAMPLES} samples")
        ctx.declare("metrics", self.metrics)
        ctx.extra["sample"] = self

    @property
    def times(self) -> int:
        """How many samples a run takes."""
        return int(self.duration / self.interval + 1e-9) + 1


def _window(raw, at: At, ctx) -> float:
    """A time inside the sampling: at most sample.duration."""
    seconds = duration()(raw, at)
    total = ctx.extra["sample"].duration
    if seconds > total:
        raise at.error(f"{seconds:g} s is longer than sample.duration ({total:g} s)")
    return seconds


# --------------------------------------------------------------------- steps

_PID_REF = re.compile(r"\{pid:([^}]*)\}")


def _step_text(raw, at: At, ctx) -> str:
    """Text that may name a workload's pid as {pid:NAME}."""
    value = text(raw, at)
    for wname in _PID_REF.findall(value):
        WORKLOADS(wname, at, ctx)
    return value


def _step_writes(key_pattern: str) -> schema.Reader:
    def read_writes(raw, at, ctx):
        plain = string_map(key_pattern)(raw, at, ctx)
        return {k: _step_text(v, at / k, ctx) for k, v in plain.items()}
    return read_writes


def with_pids(value: str, pids: Dict[str, int]) -> str:
    """A step's text with each {pid:NAME} replaced by that workload's pid."""
    return _PID_REF.sub(lambda m: str(pids[m.group(1)]), value)


STEP_ACTIONS = ("params", "write", "run", "kill", "next_phase")


@dataclass
class Step:
    """Something done to the guest `at` seconds after DAMON was turned on:
    module parameters written, sysfs/procfs files written, a shell command
    run, or a workload killed. Whether it succeeded is judged like an
    expectation: `should: fail` for input the kernel must refuse."""
    at: float = key(_window, required=True)
    params: Dict[str, str] = key(_step_writes(r"^[a-z0-9_]+$"), factory=dict)
    write: Dict[str, str] = key(_step_writes(r"^/(sys|proc)/[\w./-]+$"), factory=dict)
    run: Optional[str] = key(_step_text)
    kill: Optional[str] = key(WORKLOADS)
    next_phase: Optional[str] = key(WORKLOADS)   # the workload's phase ends now (SIGUSR1)
    should: str = key(choice("succeed", "fail"), default="succeed")
    name: str = key(text, default="")

    @property
    def action(self) -> str:
        return next(a for a in STEP_ACTIONS if getattr(self, a))

    def validate(self, where: At, ctx) -> None:
        given = [a for a in STEP_ACTIONS if getattr(self, a)]
        if len(given) != 1:
            raise where.error(f"needs exactly one of: {', '.join(STEP_ACTIONS)}")
        if self.params and ctx.lookup("damon").module is None:
            raise (where / "params").error("needs damon.module (the module whose "
                                           "parameters these are)")
        self.name = self.name or f"{self.action} at {self.at:g} s"


def _steps(raw, at: At, ctx) -> List[Step]:
    out = list_of(model(Step))(raw, at, ctx)
    seen = set()
    for i, step in enumerate(out):
        if step.name in seen:
            raise (at / i / "name").error(f"step name {step.name!r} is used twice")
        seen.add(step.name)
    return out


# -------------------------------------------------------------- expectations

def _one_bound(rule, at: At) -> None:
    if (rule.at_least is None) == (rule.at_most is None):
        raise at.error("needs exactly one of at_least or at_most")


def _step_ref(raw, at: At, ctx) -> str:
    names = [step.name for step in ctx.lookup("steps", [])]
    if not isinstance(raw, str) or raw not in names:
        raise at.error(f"unknown step {shown(raw)} (steps has: {', '.join(names) or 'none'})")
    return raw


@dataclass
class Reaches:
    """Some sample at or before `within` s meets the bound. With after_step,
    only samples after that step ended count, `within` counts from its end,
    and so does the time to reach: how fast something follows the step."""
    within: float = key(_window, required=True)
    at_least: Optional[Quantity] = key(quantity)
    at_most: Optional[Quantity] = key(quantity)
    delta: bool = key(boolean, default=False)
    after_step: Optional[str] = key(_step_ref)

    def validate(self, at: At, ctx) -> None:
        _one_bound(self, at)


@dataclass
class Stays:
    """Every sample from `after` s to `until` s (default: the end) meets the
    bound. after_step / until_step narrow the window to after a step ended /
    before it began, at the times the run really did them."""
    at_least: Optional[Quantity] = key(quantity)
    at_most: Optional[Quantity] = key(quantity)
    delta: bool = key(boolean, default=False)
    after: float = key(_window, default=0.0)
    until: Optional[float] = key(_window)
    after_step: Optional[str] = key(_step_ref)
    until_step: Optional[str] = key(_step_ref)

    def validate(self, at: At, ctx) -> None:
        _one_bound(self, at)
        if self.until is not None and self.until < self.after:
            raise (at / "until").error(f"{self.until:g} s is before after ({self.after:g} s)")


@dataclass
class Converges:
    """The mean of the last `samples` samples after `settle` s lies within
    `tolerance` (absolute, or a fraction of the target) of `target`."""
    target: Quantity = key(quantity, required=True)
    tolerance: Quantity = key(positive_quantity, required=True)
    settle: float = key(_window, default=0.0)
    samples: int = key(integer(1, MAX_SAMPLES), default=10)

    def validate(self, at: At, ctx) -> None:
        sample = ctx.extra["sample"]
        room = int((sample.duration - self.settle) / sample.interval) + 1
        if self.samples > room:
            raise (at / "samples").error(
                f"{self.samples} samples do not fit after a {self.settle:g} s settle: "
                f"sample.duration {sample.duration:g} s every {sample.interval:g} s "
                f"gives at most {room}")


RULES = {"reaches": Reaches, "stays": Stays, "converges": Converges}


@dataclass
class Expectation:
    metric: str = key(schema.ref("metrics", "sample.metrics"), required=True)
    name: str = key(text, default="")
    should: str = key(choice("pass", "fail"), default="pass")
    reaches: Optional[Reaches] = key(model(Reaches))
    stays: Optional[Stays] = key(model(Stays))
    converges: Optional[Converges] = key(model(Converges))
    # Set from the metric's source: whether a slower guest reads less of it.
    slower_reads_less: bool = True

    @property
    def kind(self) -> str:
        return next(k for k in EXPECT_KINDS if getattr(self, k) is not None)

    @property
    def rule(self) -> Union[Reaches, Stays, Converges]:
        return getattr(self, self.kind)

    @property
    def settle(self) -> float:
        """Seconds before the window this expectation judges."""
        return getattr(self.rule, "settle", getattr(self.rule, "after", 0.0))

    @property
    def delta(self) -> bool:
        return getattr(self.rule, "delta", False)

    @property
    def slower_only_helps(self) -> bool:
        """Whether a slower guest (one sharing the host's cores) cannot turn
        this check against the scenario. A slower guest does less: an upper
        bound that must hold holds all the more, and a level or a
        convergence that must not be reached (or held) is reached (or held)
        all the less. Not so for a cost (kdamond's CPU share): a slower
        guest may pay more or less of it."""
        if not self.slower_reads_less:
            return False
        if self.should == "pass":
            return self.kind == "stays" and self.rule.at_most is not None
        return self.kind == "converges" or (self.kind in ("reaches", "stays")
                                            and self.rule.at_least is not None)

    def validate(self, at: At, ctx) -> None:
        given = [k for k in EXPECT_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise at.error(f"needs exactly one of: {', '.join(EXPECT_KINDS)}")
        self.name = self.name or f"{self.metric} {self.kind}"
        self.slower_reads_less = ctx.names["metrics"][self.metric].kind.slower_reads_less
        if ctx.names["metrics"][self.metric].kind.reference is None:
            for bound in ("at_least", "at_most", "target"):
                q = getattr(self.rule, bound, None)
                if q is not None and q.fraction:
                    raise (at / self.kind / bound).error(
                        f"a percentage needs a reference size; metric {self.metric!r} "
                        f"({ctx.names['metrics'][self.metric].source}) has none")


def _expectations(raw, at: At, ctx) -> List[Expectation]:
    out = list_of(model(Expectation), allow_empty=False)(raw, at, ctx)
    seen = {s.name for s in ctx.lookup("steps", [])}
    for i, e in enumerate(out):
        if e.name in seen:
            raise (at / i / "name").error(f"name {e.name!r} is used twice "
                                          f"(expectations and steps)")
        seen.add(e.name)
    return out


# ------------------------------------------------------------------- figures

FIGURE_TAKES = ("last", "max", "min", "mean")


@dataclass
class ExtraFigure:
    """A number per run that `compare` and `bisect --figure` look at beside the
    expectations' own figures: `take` of a metric's samples from `after` s on
    (with `delta`, each minus the first sample)."""
    name: str = key(text, required=True)
    metric: str = key(schema.ref("metrics", "sample.metrics"), required=True)
    take: str = key(choice(*FIGURE_TAKES), default="last")
    after: float = key(_window, default=0.0)
    delta: bool = key(boolean, default=False)
    better: str = key(choice("higher", "lower"), required=True)


def _figures(raw, at: At, ctx) -> List[ExtraFigure]:
    out = list_of(model(ExtraFigure))(raw, at, ctx)
    seen = set()
    for i, figure in enumerate(out):
        if figure.name in seen or ":" in figure.name:
            raise (at / i / "name").error(
                f"{figure.name!r} is used twice" if figure.name in seen else
                f"{figure.name!r} has a ':', which the expectations' figures use")
        seen.add(figure.name)
    return out


# ------------------------------------------------------------------ scenario

@dataclass
class Scenario:
    name: str = key(name, default="")
    description: str = key(text, default="")
    kernel: KernelSpec = key(_kernel, factory=KernelSpec)
    topology: Topology = key(_topology, required=True)
    guest: GuestSetup = key(model(GuestSetup), factory=GuestSetup)
    workloads: Dict[str, Workload] = key(_workloads, required=True)
    damon: DamonSetup = key(model(DamonSetup), required=True)
    sample: Sampling = key(model(Sampling), required=True)
    steps: List[Step] = key(_steps, factory=list)
    expect: List[Expectation] = key(_expectations, required=True)
    figures: List[ExtraFigure] = key(_figures, factory=list)
    # Last: it maps published numbers onto the figures the keys above give.
    reference: Optional[Reference] = key(model(Reference))
    path: str = ""
    raw: Dict[str, Any] = field(default_factory=dict)
    condition: str = ""     # a reproduction's condition
    derived: bool = False   # raw was made from the file (a condition, extends:), not read as is

    @property
    def timing_free(self) -> bool:
        """Whether its verdict holds on a guest that shares the host's cores:
        every check is one a slower guest only helps, and no step runs a
        command, which could check something at a moment."""
        return (all(e.slower_only_helps for e in self.expect)
                and not any(step.run for step in self.steps))

    def reference_size(self, m: Metric, facts: RunFacts) -> Optional[float]:
        """What a percentage of metric m refers to, in this run."""
        return reference_size(m, lambda w, r: self.workloads[w].region_size(r), facts,
                              lambda n: self.topology.nodes[n].memory)


def load_scenario(path, check_kernel: bool = True) -> Scenario:
    """Read, parse and fully validate a scenario file."""
    path = Path(path)
    raw = load_yaml(path, path.name)
    return parse_scenario(raw, path.name, str(path), check_kernel=check_kernel)


def parse_scenario(raw, file: str = "scenario", path: str = "",
                   check_kernel: bool = True) -> Scenario:
    """A Scenario from parsed YAML. `check_kernel` False skips the kernel
    section (a run directory is judged without its kernel)."""
    at = At(file)
    ctx = schema.Context(base_dir=Path(path).parent if path else Path.cwd())
    if isinstance(raw, dict) and "conditions" in raw:
        raise (at / "conditions").error("a scenario with conditions is a reproduction: run it "
                                        "with damon-harness reproduce")
    if isinstance(raw, dict) and not check_kernel:
        raw = {k: v for k, v in raw.items() if k != "kernel"}
    sc = read(Scenario, raw, at, ctx)
    sc.name = sc.name or name(Path(file).stem, at / "name")
    sc.path, sc.raw = path, raw
    return sc
