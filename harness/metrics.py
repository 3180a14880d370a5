"""Metric sources: what a scenario may sample, each declared in one place.

A source (SOURCES, keyed by the YAML key that names it) holds everything
about one kind of metric: the keys it takes and how they are read, the guest
command that prints it, the parser of that output, its unit, and what a
percentage of it refers to. The scenario model, the sampler, the report and
the judge all use it. The parsers are pure: text in, numbers out, sizes in
bytes, None when the thing measured is not there.

sample_command() builds one guest shell command that prints every source a
scenario's metrics need, in sections; parse_sample() turns its output into
{metric name: value}.
"""

import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from harness import schema
from harness.guest.setup import CGROUP_ROOT, WORKLOAD_OUT
from harness.rundir import RunFacts
from harness.schema import At, Context

SECTION = "@@@"
_VMA_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)")
_KB_FIELD = re.compile(r"^(\w+):\s+(\d+)\s+kB$")
_NODE_COUNT = re.compile(r"^N(\d+)=(\d+)$")


# ---------------------------------------------------------------- /proc/PID/smaps

@dataclass
class Vma:
    start: int
    end: int
    perms: str = ""
    fields: Dict[str, int] = field(default_factory=dict)   # bytes


def parse_smaps(text: str) -> List[Vma]:
    """/proc/PID/smaps -> VMAs with their 'kB' fields in bytes."""
    vmas: List[Vma] = []
    for line in text.splitlines():
        head = _VMA_HEADER.match(line)
        if head and not line.split()[0].endswith(":"):
            vmas.append(Vma(int(head.group(1), 16), int(head.group(2), 16), head.group(3)))
            continue
        kb = _KB_FIELD.match(line.strip())
        if kb and vmas:
            vmas[-1].fields[kb.group(1)] = int(kb.group(2)) * 1024
    return vmas


def overlapping(vmas: Iterable[Vma], start: int, end: int) -> List[Vma]:
    return [v for v in vmas if v.start < end and v.end > start]


def smaps_field(vmas: List[Vma], start: int, end: int,
                name: str = "AnonHugePages") -> Optional[int]:
    """Sum of a field over the VMAs covering [start, end); None when no VMA
    covers it (the process exited or unmapped it). A region's VMA may have
    been split (madvise splits VMAs), so every piece counts."""
    pieces = overlapping(vmas, start, end)
    return sum(v.fields.get(name, 0) for v in pieces) if pieces else None


# ---------------------------------------------------------------- /proc/vmstat

def parse_vmstat(text: str) -> Dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


# ------------------------------------------------------------- /proc/PID/numa_maps

@dataclass
class NumaVma:
    start: int
    policy: str
    pages: Dict[int, int] = field(default_factory=dict)     # node -> pages
    page_size: int = 4096
    attrs: Dict[str, str] = field(default_factory=dict)

    def node_bytes(self, node: int) -> int:
        return self.pages.get(node, 0) * self.page_size


def parse_numa_maps(text: str) -> List[NumaVma]:
    """/proc/PID/numa_maps: 'START POLICY key=value ... N0=pages ...'."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or not re.match(r"^[0-9a-f]+$", parts[0]):
            continue
        vma = NumaVma(start=int(parts[0], 16), policy=parts[1])
        for token in parts[2:]:
            _numa_token(vma, token)
        out.append(vma)
    return out


def _numa_token(vma: NumaVma, token: str) -> None:
    node = _NODE_COUNT.match(token)
    if node:
        vma.pages[int(node.group(1))] = int(node.group(2))
        return
    key, sep, value = token.partition("=")
    if key == "kernelpagesize_kB" and value.isdigit():
        vma.page_size = int(value) * 1024
    elif sep:
        vma.attrs[key] = value


def numa_node_bytes(vmas: List[NumaVma], start: int, end: int,
                    node: int) -> Optional[int]:
    """Bytes on `node` of the VMAs that start inside [start, end); None when
    none does. numa_maps gives only start addresses; a region's VMA pieces
    all start inside it."""
    pieces = [v for v in vmas if start <= v.start < end]
    return sum(v.node_bytes(node) for v in pieces) if pieces else None


# ------------------------------------------------------------ cgroup memory.numa_stat

def parse_memcg_numa_stat(text: str) -> Dict[str, Dict[int, int]]:
    """memory.numa_stat: 'anon N0=bytes N1=bytes' -> {'anon': {0: b, 1: b}}."""
    out: Dict[str, Dict[int, int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        nodes = {}
        for token in parts[1:]:
            match = _NODE_COUNT.match(token)
            if match:
                nodes[int(match.group(1))] = int(match.group(2))
        if nodes:
            out[parts[0]] = nodes
    return out


# ------------------------------------------------ /sys/devices/system/node/nodeN/meminfo

def parse_node_meminfo(text: str) -> Dict[str, int]:
    """'Node 0 MemTotal:  1030732 kB' -> {'MemTotal': bytes}; counts without
    kB (HugePages_*) stay counts. Adds MemUsed if the kernel did not."""
    out = {}
    for line in text.splitlines():
        match = re.match(r"^Node\s+\d+\s+(\w+):\s+(\d+)(\s+kB)?\s*$", line)
        if match:
            out[match.group(1)] = int(match.group(2)) * (1024 if match.group(3) else 1)
    if "MemUsed" not in out and "MemTotal" in out and "MemFree" in out:
        out["MemUsed"] = out["MemTotal"] - out["MemFree"]
    return out


# ------------------------------------------------------------------- DAMOS stats

def parse_damos_stats(text: str) -> Dict[str, int]:
    """`grep . stats/* quotas/effective_bytes` run in a scheme's directory:
    'stats/nr_tried:12' -> {'nr_tried': 12, 'effective_bytes': ...}."""
    out = {}
    for line in text.splitlines():
        path, sep, value = line.strip().partition(":")
        if sep and value.strip().isdigit():
            out[path.rsplit("/", 1)[-1]] = int(value)
    return out


# ------------------------------------------------------------------ metrics

REQUIRED = object()
DAMOS_FIELDS = ("nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds",
                "sz_ops_filter_passed", "effective_bytes")
_GUEST_FILE = re.compile(r"^/(sys|proc)/[\w./-]+$")


@dataclass
class Metric:
    """One sampled series, as a scenario declares it."""
    name: str
    source: str
    workload: Optional[str] = None
    region: Optional[str] = None
    field: Optional[str] = None
    node: Optional[int] = None
    cgroup: Optional[str] = None
    scheme: Optional[str] = None
    ret: Optional[int] = None
    min_accesses: Optional[int] = None
    kdamond: Optional[int] = None
    relative_to: Optional[int] = None

    @property
    def kind(self) -> "Source":
        return SOURCES[self.source]

    @property
    def unit(self) -> str:
        return self.kind.unit(self)


class Source:
    """One kind of metric. Subclasses fill in the class attributes and the
    methods that differ; `options` maps each extra key to (reader, default),
    default REQUIRED for a key that must be given."""
    key = ""
    options: Dict[str, tuple] = {}
    reference: Optional[str] = None      # a percentage is of: "region" | "node"
    needs: Tuple[str, ...] = ()          # the kernel options it reads
    slower_reads_less = True             # a guest that runs slower does less of it

    def read(self, m: Metric, value, at: At, ctx: Context) -> None:
        raise NotImplementedError

    def section(self, m: Metric, facts: RunFacts) -> Tuple[str, str]:
        """(section key, guest shell command printing the source)."""
        raise NotImplementedError

    def value(self, m: Metric, body: str, facts: RunFacts) -> Optional[float]:
        raise NotImplementedError

    def check(self, m: Metric, at: At) -> None:
        """What the options say together, once each is read."""

    def unit(self, m: Metric) -> str:
        return "count"


def _region_ref(m: Metric, value, at: At, ctx: Context) -> None:
    wname, dot, region = value.partition(".") if isinstance(value, str) else ("", "", "")
    if not dot:
        raise at.error(f"{schema.shown(value)} is not WORKLOAD.REGION (e.g. toucher.hot)")
    m.workload = schema.ref("workloads", "workloads")(wname, at, ctx)
    known = ctx.names["workloads"][m.workload].region_sizes()
    if region not in known:
        raise at.error(f"workload {m.workload!r} has no region {region!r} (it has: "
                       f"{', '.join(known)})")
    m.region = region


def _proc_section(m: Metric, facts: RunFacts) -> Tuple[str, str]:
    return f"{m.source} {m.workload}", f"cat /proc/{facts.pids[m.workload]}/{m.source}"


class Smaps(Source):
    key, reference = "smaps", "region"
    needs = ("CONFIG_PROC_PAGE_MONITOR",)
    options = {"field": (schema.name, "AnonHugePages")}
    read = staticmethod(_region_ref)

    def section(self, m, facts):
        return _proc_section(m, facts)

    def value(self, m, body, facts):
        found = smaps_field(parse_smaps(body), *facts.regions[m.workload][m.region], m.field)
        return None if found is None else float(found)

    def unit(self, m):
        return "bytes"


class NumaMaps(Source):
    key, reference = "numa_maps", "region"
    needs = ("CONFIG_NUMA", "CONFIG_PROC_PAGE_MONITOR")
    options = {"node": (schema.node, REQUIRED)}
    read = staticmethod(_region_ref)

    def section(self, m, facts):
        return _proc_section(m, facts)

    def value(self, m, body, facts):
        start, end = facts.regions[m.workload][m.region]
        found = numa_node_bytes(parse_numa_maps(body), start, end, m.node)
        return None if found is None else float(found)

    def unit(self, m):
        return "bytes"


class Vmstat(Source):
    key = "vmstat"

    def read(self, m, value, at, ctx):
        m.field = schema.name(value, at)

    def section(self, m, facts):
        return "vmstat", "cat /proc/vmstat"

    def value(self, m, body, facts):
        return float(parse_vmstat(body)[m.field])


class MemcgNuma(Source):
    key, reference = "memcg_numa", "node"
    needs = ("CONFIG_MEMCG",)
    options = {"node": (schema.node, REQUIRED), "field": (schema.name, "anon")}

    def read(self, m, value, at, ctx):
        m.cgroup = schema.ref("cgroups", "guest.cgroups")(value, at, ctx)

    def section(self, m, facts):
        return f"memcg_numa {m.cgroup}", f"cat {CGROUP_ROOT}/{m.cgroup}/memory.numa_stat"

    def value(self, m, body, facts):
        return float(parse_memcg_numa_stat(body)[m.field].get(m.node, 0))

    def unit(self, m):
        return "bytes"


class Damos(Source):
    key = "damos"
    needs = ("CONFIG_DAMON_SYSFS",)
    options = {"field": (schema.choice(*DAMOS_FIELDS), "sz_applied")}

    def read(self, m, value, at, ctx):
        m.scheme = schema.ref("schemes", "damon")(value, at, ctx)

    def section(self, m, facts):
        scheme = facts.scheme_dirs[m.scheme]
        d, k = shlex.quote(scheme), shlex.quote(scheme.split("/contexts/")[0])
        # A kernel without refresh_ms refreshes the stats only when asked.
        fresh = f"[ -e {k}/refresh_ms ] || echo update_schemes_stats > {k}/state; "
        return f"damos {m.scheme}", f"({fresh}cd {d} && grep . stats/* quotas/effective_bytes)"

    def value(self, m, body, facts):
        return float(parse_damos_stats(body)[m.field])

    def unit(self, m):
        return "bytes" if m.field.startswith(("sz_", "effective")) else "count"


class NodeMeminfo(Source):
    key, reference = "node_meminfo", "node"
    needs = ("CONFIG_NUMA",)
    options = {"field": (schema.name, "MemUsed")}

    def read(self, m, value, at, ctx):
        m.node = schema.node(value, at, ctx)

    def section(self, m, facts):
        return (f"node_meminfo {m.node}",
                f"cat /sys/devices/system/node/node{m.node}/meminfo")

    def value(self, m, body, facts):
        return float(parse_node_meminfo(body)[m.field])

    def unit(self, m):
        return "count" if m.field.startswith("HugePages_") else "bytes"


class File(Source):
    key = "file"

    def read(self, m, value, at, ctx):
        if not isinstance(value, str) or not _GUEST_FILE.match(value):
            raise at.error(f"{schema.shown(value)} is not a file under /sys or /proc")
        m.field = value

    def section(self, m, facts):
        return f"file {m.field}", f"cat {shlex.quote(m.field)}"

    def value(self, m, body, facts):
        return float(body.split()[0])


class Tasks(Source):
    """How many tasks' names start with a prefix, e.g. kdamond threads."""
    key = "tasks"

    def read(self, m, value, at, ctx):
        m.field = schema.name(value, at)

    def section(self, m, facts):
        return (f"tasks {m.field}",
                f"cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^{m.field}' || true")

    def value(self, m, body, facts):
        return float(body.split()[0])


TRACEFS = "/sys/kernel/tracing"
_KERNEL_FUNCTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class Kretprobe(Source):
    """How many times a kernel function returned `ret` since the first
    sample: a kretprobe of the guest kernel's own (e.g. madvise_collapse
    returning -22, EINVAL), read from the trace buffer. The first sample
    adds the probe, so the count starts there."""
    key = "kretprobe"
    needs = ("CONFIG_KPROBE_EVENTS",)
    options = {"ret": (schema.integer(-4095, 4095), REQUIRED)}

    def read(self, m, value, at, ctx):
        if not isinstance(value, str) or not _KERNEL_FUNCTION.match(value):
            raise at.error(f"{schema.shown(value)} is not a kernel function name")
        m.field = value

    def section(self, m, facts):
        event = f"harness_{m.field.replace('.', '_')}"
        add = (f"mountpoint -q {TRACEFS} || mount -t tracefs nodev {TRACEFS}; "
               f"[ -d {TRACEFS}/events/kprobes/{event} ] || "
               f"{{ echo 'r:kprobes/{event} {m.field} ret=$retval:s32' >> {TRACEFS}/kprobe_events"
               f" && echo 1 > {TRACEFS}/events/kprobes/{event}/enable; }}")
        # One pass over the trace: the count, then the last such call.
        calls = (f"grep ' {event}: .* ret={m.ret}$' {TRACEFS}/trace | "
                 "awk '{last = $0} END {print NR; print last}'")
        return f"kretprobe {m.field} {m.ret}", f"{add}; {calls}"

    def value(self, m, body, facts):
        return float(body.split()[0])


# ------------------------------------------------------------ DAMON's own cost

KDAMONDS = "/sys/kernel/mm/damon/admin/kdamonds"
KDAMOND_CPU_COMMAND = (
    "cat /proc/uptime; getconf CLK_TCK; for d in /proc/[0-9]*; do "
    "read -r c < $d/comm 2>/dev/null && case $c in kdamond*) cat $d/stat 2>/dev/null;; esac; "
    f"done; for k in {KDAMONDS}/[0-9]*; do "
    "[ -e $k/pid ] && echo \"sysfs kdamond ${k##*/} pid $(cat $k/pid)\"; done")


@dataclass
class ThreadCpu:
    cpu_s: float            # user and system time so far
    alive_s: float          # since the thread started
    pid: int = 0

    @property
    def share(self) -> float:
        return 100.0 * self.cpu_s / self.alive_s


def parse_kdamond_cpu(text: str) -> List[ThreadCpu]:
    """KDAMOND_CPU_COMMAND's output: /proc/uptime, CLK_TCK, then each
    kdamond's /proc/PID/stat line."""
    lines = text.splitlines()
    uptime, hz = float(lines[0].split()[0]), int(lines[1])
    threads = []
    for line in lines[2:]:
        pid, _, rest = line.partition(" (")
        fields = rest.rpartition(")")[2].split()   # from field 3 (state) on
        if len(fields) < 20 or not pid.isdigit():
            continue
        utime, stime, started = int(fields[11]), int(fields[12]), int(fields[19])
        threads.append(ThreadCpu((utime + stime) / hz, max(uptime - started / hz, 1e-9),
                                 int(pid)))
    return threads


def parse_sysfs_kdamond_pids(text: str) -> Dict[int, int]:
    """{sysfs kdamond index: its pid} from 'sysfs kdamond N pid P' lines."""
    return {int(k): int(p) for k, p in
            re.findall(r"^sysfs kdamond (\d+) pid (-?\d+)$", text, re.MULTILINE)}


def _kdamond_index(raw, at: At, ctx: Context) -> int:
    """The index of one of the scenario's kdamonds (damon.kdamonds)."""
    index = schema.integer(0, 1023)(raw, at)
    declared = len(ctx.names.get("kdamonds", {}))
    if index >= declared:
        raise at.error(f"there is no kdamond {index} (damon.kdamonds has {declared})")
    return index


class KdamondCpu(Source):
    """CPU time of the guest's kdamond threads (from /proc/PID/stat): in all
    (`seconds`), or as a `share` in percent, each kdamond's CPU time over the
    time since it started, summed (100 = one CPU kept busy all along). No
    kdamond: 0. With `kdamond: N`, only the scenario's kdamond N (its pid
    in sysfs); with `relative_to: M` too, the share of N over that of M:
    how many times M's cost N has."""
    key = "kdamond_cpu"
    slower_reads_less = False
    options = {"kdamond": (_kdamond_index, None), "relative_to": (_kdamond_index, None)}

    def read(self, m, value, at, ctx):
        m.field = schema.choice("share", "seconds")(value, at)

    def check(self, m, at):
        if m.relative_to is not None and m.kdamond is None:
            raise (at / "relative_to").error("needs kdamond: the one to set against it")

    def section(self, m, facts):
        return "kdamond_cpu", KDAMOND_CPU_COMMAND

    def value(self, m, body, facts):
        threads, pids = parse_kdamond_cpu(body), parse_sysfs_kdamond_pids(body)

        def cost(index: Optional[int]) -> float:
            chosen = [t for t in threads if index is None or t.pid == pids.get(index)]
            return sum(t.cpu_s if m.field == "seconds" else t.share for t in chosen)
        if m.relative_to is None:
            return cost(m.kdamond)
        base = cost(m.relative_to)
        return cost(m.kdamond) / base if base > 0 else None

    def unit(self, m):
        if m.relative_to is not None:
            return "x"
        return "%" if m.field == "share" else "s"


def parse_progress(text: str) -> Optional[Tuple[int, float]]:
    """(rounds, seconds) of hotcold's last 'progress rounds=N seconds=S' line."""
    found = re.findall(r"^progress rounds=(\d+) seconds=([\d.]+)$", text, re.MULTILINE)
    return (int(found[-1][0]), float(found[-1][1])) if found else None


class WorkloadRate(Source):
    """A workload's own progress: the rounds it swept per second since it
    was ready (its access pattern's rounds; idle phases count as time). What
    DAMON costs the workload shows as fewer rounds than without DAMON."""
    key = "workload_rate"

    def read(self, m, value, at, ctx):
        m.workload = schema.ref("workloads", "workloads")(value, at, ctx)

    def section(self, m, facts):
        out = WORKLOAD_OUT.format(name=m.workload)
        return f"workload_rate {m.workload}", f"grep '^progress ' {out} | tail -n 1"

    def value(self, m, body, facts):
        progress = parse_progress(body)
        if progress is None or progress[1] <= 0:
            return None
        return progress[0] / progress[1]

    def unit(self, m):
        return "rounds/s"


# ---------------------------------------------------------- what DAMON sees

@dataclass
class DamonRegion:
    start: int
    end: int
    nr_accesses: int


def parse_tried_regions(text: str) -> List[DamonRegion]:
    """`grep . */start */end */nr_accesses` in a scheme's tried_regions."""
    found: Dict[str, Dict[str, int]] = {}
    for line in text.splitlines():
        path, sep, value = line.strip().partition(":")
        index, _, name = path.partition("/")
        if sep and index.isdigit() and value.strip().isdigit():
            found.setdefault(index, {})[name] = int(value)
    return [DamonRegion(r["start"], r["end"], r["nr_accesses"])
            for _, r in sorted(found.items(), key=lambda kv: int(kv[0]))
            if {"start", "end", "nr_accesses"} <= r.keys()]


def seen_bytes(regions: Iterable[DamonRegion], start: int, end: int,
               min_accesses: int) -> int:
    """Bytes of [start, end) inside DAMON regions whose nr_accesses is at
    least min_accesses."""
    return sum(max(0, min(end, r.end) - max(start, r.start)) for r in regions
               if r.nr_accesses >= min_accesses)


def tried_regions_read(body: str) -> Optional[List[DamonRegion]]:
    """The regions of a damon_seen section; None when the kdamond refused
    the update (it was off) or the scheme had no tried_regions."""
    if "No such file" in body or "Invalid argument" in body:
        return None
    return parse_tried_regions(body)


def mean_accesses(regions: Iterable[DamonRegion], start: int, end: int) -> float:
    """nr_accesses over [start, end), weighted by bytes; bytes in no DAMON
    region count as never accessed."""
    weighted = sum(max(0, min(end, r.end) - max(start, r.start)) * r.nr_accesses
                   for r in regions)
    return weighted / (end - start)


class DamonSeen(Source):
    """What DAMON reports for a workload's named region: the bytes of it in
    regions with nr_accesses >= min_accesses (in one aggregation interval),
    from a scheme's tried_regions. The scheme should match every region (a
    `stat` scheme with the widest access pattern); each sample asks the
    kdamond to update them (update_schemes_tried_regions), which waits for
    its next aggregation."""
    key, reference = "damon_seen", "region"
    needs = ("CONFIG_DAMON_SYSFS",)
    options = {"scheme": (schema.ref("schemes", "damon"), REQUIRED),
               "min_accesses": (schema.integer(0, 1 << 20), 1)}
    read = staticmethod(_region_ref)

    def section(self, m, facts):
        scheme = facts.scheme_dirs[m.scheme]
        kdamond = scheme.split("/contexts/")[0]
        return (f"damon_seen {m.scheme}",
                f"echo update_schemes_tried_regions > {shlex.quote(kdamond)}/state && "
                f"cd {shlex.quote(scheme)}/tried_regions && "
                "grep . [0-9]*/start [0-9]*/end [0-9]*/nr_accesses")

    def value(self, m, body, facts):
        regions = tried_regions_read(body)
        return None if regions is None else float(
            seen_bytes(regions, *facts.regions[m.workload][m.region], m.min_accesses))

    def unit(self, m):
        return "bytes"


class DamonAccesses(DamonSeen):
    """How often DAMON saw a workload's named region accessed: the mean
    nr_accesses (per aggregation interval) over its bytes, from the same
    tried_regions as damon_seen. A region touched in every sampling
    interval reads aggr_us / sample_us (20 with 5 ms and 100 ms)."""
    key, reference = "damon_accesses", None
    options = {"scheme": DamonSeen.options["scheme"]}

    def value(self, m, body, facts):
        regions = tried_regions_read(body)
        return None if regions is None else mean_accesses(
            regions, *facts.regions[m.workload][m.region])

    def unit(self, m):
        return "count"


class DamonRegions(Source):
    """How many regions DAMON holds in the context of a scheme (that matches
    every region, as damon_seen's): its cost per sample grows with them,
    and nr_regions.max bounds them."""
    key = "damon_regions"
    needs = DamonSeen.needs

    def read(self, m, value, at, ctx):
        m.scheme = schema.ref("schemes", "damon")(value, at, ctx)

    section = DamonSeen.section

    def value(self, m, body, facts):
        regions = tried_regions_read(body)
        return None if regions is None else float(len(regions))


KMEMLEAK = "/sys/kernel/debug/kmemleak"


class Kmemleak(Source):
    """Suspected leaks kmemleak reports whose backtrace names the given word
    (e.g. damon) or has a frame that no longer resolves: built-in code
    always resolves (KALLSYMS), an unloaded module's code does not. The
    scenario's steps decide when kmemleak scans and clears."""
    key = "kmemleak"
    needs = ("CONFIG_DEBUG_KMEMLEAK",)

    def read(self, m, value, at, ctx):
        m.field = schema.name(value, at)

    def section(self, m, facts):
        return "kmemleak", f"cat {KMEMLEAK}"

    def value(self, m, body, facts):
        return float(len(kmemleak_records(body, m.field)))


def kmemleak_records(text: str, word: str) -> List[str]:
    """The records of a kmemleak report that concern `word`'s code.
    ValueError when the text is not a kmemleak report (no kmemleak)."""
    if text.startswith("cat:") or "No such file" in text:
        raise ValueError("kmemleak is not in this kernel")
    ours = re.compile(rf"{re.escape(word)}|\] 0x[0-9a-f]+\s*$", re.M)
    records = re.split(r"(?m)^(?=unreferenced object)", text)
    return [r for r in records if r.strip() and ours.search(r)]


SOURCES: Dict[str, Source] = {s.key: s for s in (
    Smaps(), NumaMaps(), Vmstat(), MemcgNuma(), Damos(), NodeMeminfo(), File(), Tasks(),
    Kmemleak(), Kretprobe(), KdamondCpu(), WorkloadRate(), DamonSeen(), DamonAccesses(),
    DamonRegions())}


def read_metric(raw, at: At, ctx: Context) -> Metric:
    """A metric from its YAML mapping: one source key plus that source's options."""
    if not isinstance(raw, dict):
        raise at.error(f"must be a mapping with one of: {', '.join(SOURCES)}")
    keys = [k for k in raw if k in SOURCES]
    if len(keys) != 1:
        raise at.error(f"needs exactly one source key of: {', '.join(SOURCES)}")
    source = SOURCES[keys[0]]
    raw = schema.mapping(raw, at, (source.key, *source.options))
    m = Metric(name="", source=source.key)
    source.read(m, raw[source.key], at / source.key, ctx)
    for key, (reader, default) in source.options.items():
        if raw.get(key) is not None:
            setattr(m, key, reader(raw[key], at / key, ctx))
        elif default is REQUIRED:
            raise (at / key).error("is required")
        else:
            setattr(m, key, default)
    source.check(m, at)
    return m


def reference_size(m: Metric, region_size, facts: RunFacts,
                   node_memory) -> Optional[float]:
    """What a percentage of this metric refers to: the workload region's size
    (region_size(workload, region)) or the node's MemTotal as the guest saw
    it (else the topology's node_memory(node)); None when nothing."""
    if m.kind.reference == "region":
        return float(region_size(m.workload, m.region))
    if m.kind.reference == "node":
        return float(facts.node_total.get(m.node) or node_memory(m.node))
    return None


# -------------------------------------------------------------------- sampling

def sample_command(metric_list: Iterable[Metric], facts: RunFacts) -> str:
    """One shell command printing every source once, each after a
    '@@@ KEY' line, preceded by a monotonic timestamp line."""
    seen: Dict[str, str] = {}
    for m in metric_list:
        key, cmd = m.kind.section(m, facts)
        seen.setdefault(key, cmd)
    parts = [f"echo '{SECTION} uptime'; cat /proc/uptime"]
    parts += [f"echo '{SECTION} {key}'; {cmd} 2>&1" for key, cmd in seen.items()]
    return "; ".join(parts)


def split_sections(text: str) -> Dict[str, str]:
    sections: Dict[str, List[str]] = {}
    current: Optional[List[str]] = None
    for line in text.splitlines():
        if line.startswith(SECTION + " "):
            current = sections.setdefault(line[len(SECTION) + 1:].strip(), [])
        elif current is not None:
            current.append(line)
    return {key: "\n".join(lines) for key, lines in sections.items()}


def parse_sample(text: str, metric_list: Iterable[Metric],
                 facts: RunFacts) -> Dict[str, Optional[float]]:
    """{metric name: value}, None where the source could not be read (a
    workload that exited, a file that does not exist)."""
    sections = split_sections(text)
    out: Dict[str, Optional[float]] = {}
    for m in metric_list:
        key, _ = m.kind.section(m, facts)
        try:
            out[m.name] = m.kind.value(m, sections.get(key, ""), facts)
        except (KeyError, ValueError, IndexError):
            out[m.name] = None
    return out


def sample_uptime(text: str) -> Optional[float]:
    """The guest's /proc/uptime from a sample (seconds), if present."""
    body = split_sections(text).get("uptime", "")
    try:
        return float(body.split()[0])
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------- the workload's regions

def parse_region_lines(text: str) -> Dict[str, Tuple[int, int]]:
    """hotcold's 'region name=hot start=0x... end=0x... size=N' lines."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] != "region":
            continue
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        out[kv["name"]] = (int(kv["start"], 16), int(kv["end"], 16))
    return out


def parse_ready_pid(text: str) -> Optional[int]:
    match = re.search(r"^ready pid=(\d+)$", text, re.MULTILINE)
    return int(match.group(1)) if match else None
