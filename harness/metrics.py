"""Parsers for the kernel's own counters, and one-round-trip sampling.

Everything here is pure: text in, numbers out. Sizes come out in bytes.
sample_command() builds one guest shell command that prints every source a
scenario's metrics need, in sections; parse_sample() turns its output into
{metric name: value}.
"""

import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from harness.scenario import Metric, Scenario

CGROUP_ROOT = "/sys/fs/cgroup"
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


def smaps_field(vmas: List[Vma], start: int, end: int, name: str = "AnonHugePages") -> int:
    """Sum of a field over the VMAs covering [start, end). A region's VMA may
    have been split (madvise splits VMAs), so every piece counts."""
    return sum(v.fields.get(name, 0) for v in overlapping(vmas, start, end))


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


def numa_node_bytes(vmas: List[NumaVma], start: int, end: int, node: int) -> int:
    """Bytes on `node` of the VMAs that start inside [start, end). numa_maps
    gives only start addresses; a region's VMA pieces all start inside it."""
    return sum(v.node_bytes(node) for v in vmas if start <= v.start < end)


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


# -------------------------------------------------------------------- sampling

@dataclass
class SampleContext:
    """What the sampler needs to know at run time."""
    pids: Dict[str, int]
    regions: Dict[str, Dict[str, Tuple[int, int]]]
    scheme_dirs: Dict[str, str] = field(default_factory=dict)


def _sources(m: Metric, ctx: SampleContext) -> Tuple[str, str]:
    """(section key, shell command) for a metric's source."""
    if m.source in ("smaps", "numa_maps"):
        pid = ctx.pids[m.workload]
        return f"{m.source} {m.workload}", f"cat /proc/{pid}/{m.source}"
    if m.source == "vmstat":
        return "vmstat", "cat /proc/vmstat"
    if m.source == "memcg_numa":
        return f"memcg_numa {m.cgroup}", f"cat {CGROUP_ROOT}/{m.cgroup}/memory.numa_stat"
    if m.source == "node_meminfo":
        return (f"node_meminfo {m.node}",
                f"cat /sys/devices/system/node/node{m.node}/meminfo")
    if m.source == "damos":
        d = shlex.quote(ctx.scheme_dirs[m.scheme])
        return f"damos {m.scheme}", f"(cd {d} && grep . stats/* quotas/effective_bytes)"
    if m.source == "file":
        return f"file {m.field}", f"cat {shlex.quote(m.field)}"
    raise ValueError(f"unknown metric source {m.source}")


def sample_command(sc: Scenario, ctx: SampleContext) -> str:
    """One shell command printing every source once, each after a
    '@@@ KEY' line, preceded by a monotonic timestamp line."""
    seen: Dict[str, str] = {}
    for m in sc.sample.metrics.values():
        key, cmd = _sources(m, ctx)
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


def parse_sample(text: str, sc: Scenario, ctx: SampleContext) -> Dict[str, Optional[float]]:
    """{metric name: value}, None where the source could not be read (a
    workload that exited, a file that does not exist)."""
    sections = split_sections(text)
    out: Dict[str, Optional[float]] = {}
    for name, m in sc.sample.metrics.items():
        key, _ = _sources(m, ctx)
        try:
            out[name] = _value(m, sections.get(key, ""), ctx)
        except (KeyError, ValueError, IndexError):
            out[name] = None
    return out


def sample_uptime(text: str) -> Optional[float]:
    """The guest's /proc/uptime from a sample (seconds), if present."""
    body = split_sections(text).get("uptime", "")
    try:
        return float(body.split()[0])
    except (IndexError, ValueError):
        return None


def _value(m: Metric, body: str, ctx: SampleContext) -> Optional[float]:
    if m.source == "smaps":
        start, end = ctx.regions[m.workload][m.region]
        vmas = overlapping(parse_smaps(body), start, end)
        return float(sum(v.fields.get(m.field, 0) for v in vmas)) if vmas else None
    if m.source == "numa_maps":
        start, end = ctx.regions[m.workload][m.region]
        vmas = [v for v in parse_numa_maps(body) if start <= v.start < end]
        return float(sum(v.node_bytes(m.node) for v in vmas)) if vmas else None
    if m.source == "vmstat":
        return float(parse_vmstat(body)[m.field])
    if m.source == "memcg_numa":
        return float(parse_memcg_numa_stat(body)[m.field].get(m.node, 0))
    if m.source == "node_meminfo":
        return float(parse_node_meminfo(body)[m.field])
    if m.source == "damos":
        return float(parse_damos_stats(body)[m.field])
    return float(body.split()[0])


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
