"""The validated DAMON setup as ordered sysfs writes, and guest shell snippets.

Pure functions: the engine learns runtime facts (workload pids and region
addresses, each node's physical ranges) into a RunFacts and runs the script
that writes() + script() produce in the guest.
"""

import re
import shlex
from typing import Dict, List, Tuple

from harness.rundir import RunFacts
from harness.scenario import (AccessPattern, Context, DamonSetup, Filter, Goal,
                              Kdamond, ModuleSetup, Quotas, Scheme, Target, Watermarks)

ADMIN = "/sys/kernel/mm/damon/admin"
MODULE_PARAMS = "/sys/module/{name}/parameters"
OTHER_USERS = ("damon_stat", "damon_reclaim", "damon_lru_sort", "damon_hugepage")
Write = Tuple[str, str]


# ------------------------------------------------------------------ the tree

def writes(setup: DamonSetup, res: RunFacts) -> List[Write]:
    """Every (path, value) write that builds the tree, parents' nr_* first.
    Turning the kdamonds on is separate: see start_writes()."""
    if setup.module is not None:
        return module_writes(setup.module, res)
    out = [(f"{ADMIN}/kdamonds/nr_kdamonds", str(len(setup.kdamonds)))]
    for k, kd in enumerate(setup.kdamonds):
        out += _kdamond(f"{ADMIN}/kdamonds/{k}", kd, res)
    return out


def start_writes(setup: DamonSetup) -> List[Write]:
    if setup.module is not None:
        return [(f"{MODULE_PARAMS.format(name=setup.module.name)}/enabled", "Y")]
    return [(f"{ADMIN}/kdamonds/{k}/state", "on") for k in range(len(setup.kdamonds))]


def stop_writes(setup: DamonSetup) -> List[Write]:
    if setup.module is not None:
        return [(f"{MODULE_PARAMS.format(name=setup.module.name)}/enabled", "N")]
    return [(f"{ADMIN}/kdamonds/{k}/state", "off") for k in range(len(setup.kdamonds))]


def module_writes(mod: ModuleSetup, res: RunFacts) -> List[Write]:
    base = MODULE_PARAMS.format(name=mod.name)
    out = [(f"{base}/{key}", value) for key, value in mod.params.items()]
    if mod.workloads:
        pids = ",".join(str(res.pids[w]) for w in mod.workloads)
        out.append((f"{base}/monitored_pids", pids))
    return out


def _kdamond(base: str, kd: Kdamond, res: RunFacts) -> List[Write]:
    out = [(f"{base}/contexts/nr_contexts", str(len(kd.contexts)))]
    for c, ctx in enumerate(kd.contexts):
        out += _context(f"{base}/contexts/{c}", ctx, res)
    out.append((f"{base}/refresh_ms", str(kd.refresh_ms)))
    return out


def _context(base: str, ctx: Context, res: RunFacts) -> List[Write]:
    attrs = f"{base}/monitoring_attrs"
    iv = ctx.intervals
    out = [(f"{base}/operations", ctx.operations),
           (f"{attrs}/intervals/sample_us", str(iv.sample_us)),
           (f"{attrs}/intervals/aggr_us", str(iv.aggr_us)),
           (f"{attrs}/intervals/update_us", str(iv.update_us)),
           (f"{attrs}/nr_regions/min", str(ctx.nr_regions[0])),
           (f"{attrs}/nr_regions/max", str(ctx.nr_regions[1])),
           (f"{base}/targets/nr_targets", str(len(ctx.targets)))]
    for t, target in enumerate(ctx.targets):
        out += _target(f"{base}/targets/{t}", target, res)
    out.append((f"{base}/schemes/nr_schemes", str(len(ctx.schemes))))
    for s, scheme in enumerate(ctx.schemes):
        out += _scheme(f"{base}/schemes/{s}", scheme)
    return out


def target_ranges(target: Target, res: RunFacts) -> List[Tuple[int, int]]:
    ranges = list(target.regions)
    for name in target.workload_regions:
        ranges.append(res.regions[target.workload][name])
    for nid in target.nodes:
        if not res.node_ranges.get(nid):
            raise ValueError(f"node {nid} has no physical memory ranges")
        ranges.extend(res.node_ranges[nid])
    # DAMON refuses (EINVAL on state=on) regions that are not in address order.
    return sorted(ranges)


def _target(base: str, target: Target, res: RunFacts) -> List[Write]:
    out = []
    if target.workload is not None:
        out.append((f"{base}/pid_target", str(res.pids[target.workload])))
    elif target.pid is not None:
        out.append((f"{base}/pid_target", str(target.pid)))
    ranges = target_ranges(target, res)
    if ranges:
        out.append((f"{base}/regions/nr_regions", str(len(ranges))))
        for r, (start, end) in enumerate(ranges):
            out += [(f"{base}/regions/{r}/start", str(start)),
                    (f"{base}/regions/{r}/end", str(end))]
    return out


def _scheme(base: str, s: Scheme) -> List[Write]:
    out = [(f"{base}/action", s.action),
           (f"{base}/apply_interval_us", str(s.apply_interval_us))]
    if s.target_nid is not None:
        out.append((f"{base}/target_nid", str(s.target_nid)))
    out += _pattern(f"{base}/access_pattern", s.access_pattern)
    out += _quotas(f"{base}/quotas", s.quotas)
    if s.watermarks is not None:
        out += _watermarks(f"{base}/watermarks", s.watermarks)
    for layer in ("core", "ops"):
        chosen = [f for f in s.filters if f.layer == layer]
        if chosen:
            out += _filters(f"{base}/{layer}_filters", chosen)
    if s.dests:
        out.append((f"{base}/dests/nr_dests", str(len(s.dests))))
        for d, dest in enumerate(s.dests):
            out += [(f"{base}/dests/{d}/id", str(dest.nid)),
                    (f"{base}/dests/{d}/weight", str(dest.weight))]
    return out


def _pattern(base: str, p: AccessPattern) -> List[Write]:
    """All six bounds: a new scheme's are 0..0 and match nothing."""
    out = []
    for name in ("sz", "nr_accesses", "age"):
        lo, hi = getattr(p, name)
        out += [(f"{base}/{name}/min", str(lo)), (f"{base}/{name}/max", str(hi))]
    return out


def _quotas(base: str, q: Quotas) -> List[Write]:
    out = [(f"{base}/ms", str(q.ms)), (f"{base}/bytes", str(q.bytes)),
           (f"{base}/reset_interval_ms", str(q.reset_interval_ms))]
    if q.goal_tuner is not None:
        out.append((f"{base}/goal_tuner", q.goal_tuner))
    for key, value in q.weights.items():
        out.append((f"{base}/weights/{key}", str(value)))
    if q.goals:
        out.append((f"{base}/goals/nr_goals", str(len(q.goals))))
        for g, goal in enumerate(q.goals):
            out += _goal(f"{base}/goals/{g}", goal)
    return out


def _goal(base: str, goal: Goal) -> List[Write]:
    out = [(f"{base}/target_metric", goal.metric),
           (f"{base}/target_value", str(goal.value))]
    if goal.nid is not None:
        out.append((f"{base}/nid", str(goal.nid)))
    if goal.cgroup is not None:
        out.append((f"{base}/path", cgroup_path(goal.cgroup)))
    return out


def _watermarks(base: str, w: Watermarks) -> List[Write]:
    return [(f"{base}/{key}", str(getattr(w, key)))
            for key in ("metric", "interval_us", "high", "mid", "low")]


def _filters(base: str, filters: List[Filter]) -> List[Write]:
    out = [(f"{base}/nr_filters", str(len(filters)))]
    for i, f in enumerate(filters):
        fb = f"{base}/{i}"
        out.append((f"{fb}/type", f.type))
        if f.cgroup is not None:
            out.append((f"{fb}/memcg_path", cgroup_path(f.cgroup)))
        for key in ("addr_start", "addr_end", "min", "max"):
            if getattr(f, key) is not None:
                out.append((f"{fb}/{key}", str(getattr(f, key))))
        if f.target_idx is not None:
            out.append((f"{fb}/damon_target_idx", str(f.target_idx)))
        out += [(f"{fb}/matching", "Y" if f.matching else "N"),
                (f"{fb}/allow", "Y" if f.allow else "N")]
    return out


def cgroup_path(name: str) -> str:
    """What memcg_path and goal path take: the path below the cgroup2 root."""
    return "/" + name


def scheme_dir(setup: DamonSetup, name: str) -> str:
    k, c, s = setup.schemes()[name]
    return f"{ADMIN}/kdamonds/{k}/contexts/{c}/schemes/{s}"


# ------------------------------------------------------------ shell snippets

# Files a kernel may lack (they arrived later), and the value the kernel
# behaves as if it had when they are absent: a write of that value is
# skipped where the file is not there, so an older kernel runs a scenario
# that needs nothing newer. apply_interval_us arrived in 6.7 (absent: the
# aggregation interval, 0); refresh_ms later (absent: the damos metric asks
# the kdamond for fresh stats itself, so any value).
ABSENT_MEANS = {"apply_interval_us": "0", "refresh_ms": None}
ANY = None


def script(items: List[Write]) -> str:
    """A POSIX shell script doing the writes in order; stops at the first
    failure and names it on stderr."""
    lines = ["set -u"]
    for path, value in items:
        p, v = shlex.quote(path), shlex.quote(value)
        name = path.rsplit("/", 1)[-1]
        only_if_there = name in ABSENT_MEANS and ABSENT_MEANS[name] in (ANY, value)
        lines.append(("[ ! -e " + p + " ] || " if only_if_there else "")
                     + f"printf '%s\\n' {v} > {p} || "
                     f"{{ echo \"damon write failed: {_sh_safe(path)} = {_sh_safe(value)}\" >&2; "
                     f"exit 1; }}")
    return "\n".join(lines) + "\n"


def _sh_safe(text: str) -> str:
    return re.sub(r"[^\w./:=+-]", "_", text)


DISABLE_OTHERS = """\
# Free DAMON for the harness: DAMON_STAT (on by default in Debian), RECLAIM,
# LRU_SORT and any kdamond left on make `state on` fail with EBUSY.
for m in %s; do
    p=/sys/module/$m/parameters/enabled
    if [ -w "$p" ] && [ "$(cat "$p")" = Y ]; then
        echo N > "$p" || { echo "cannot disable $m" >&2; exit 1; }
        echo "disabled $m"
    fi
done
for s in %s/kdamonds/*/state; do
    [ -w "$s" ] && [ "$(cat "$s")" = on ] && echo off > "$s"
done
true
""" % (" ".join(OTHER_USERS), ADMIN)


def disable_others_script() -> str:
    return DISABLE_OTHERS


def node_ranges_command(nodes: List[int]) -> str:
    """Prints each node's physical memory: 'block_size HEX' and one 'node N
    block M' line per memory block where the kernel has memory-block sysfs
    (CONFIG_MEMORY_HOTPLUG, as Debian's does); else the kernel's own boot
    line 'Initmem setup node N [mem START-END]' for each node."""
    ids = " ".join(str(n) for n in nodes)
    blocks = ("echo block_size $(cat /sys/devices/system/memory/block_size_bytes); "
              f"for n in {ids}; do for m in /sys/devices/system/node/node$n/memory[0-9]*; do "
              "[ -e \"$m\" ] && echo node $n block ${m##*memory}; done; done")
    spans = "dmesg | grep -o 'Initmem setup node [0-9]* \\[mem [^]]*\\]'"
    return (f"if [ -r /sys/devices/system/memory/block_size_bytes ]; then {blocks}; "
            f"else {spans}; fi")


_INITMEM = re.compile(r"Initmem setup node (\d+) \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]")


def parse_node_ranges(text: str) -> Dict[int, List[Tuple[int, int]]]:
    """node_ranges_command's output -> {nid: [(start, end), ...]}: memory
    blocks with adjacent ones merged, or each node's boot-time span."""
    spans = {int(n): [(int(a, 16), int(b, 16) + 1)] for n, a, b in _INITMEM.findall(text)}
    if spans:
        return spans
    block_size, blocks = 0, {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "block_size":
            block_size = int(parts[1], 16)
        elif len(parts) == 4 and parts[0] == "node" and parts[2] == "block":
            blocks.setdefault(int(parts[1]), []).append(int(parts[3]))
    if not block_size:
        raise ValueError("neither memory blocks nor 'Initmem setup node' boot lines "
                         "in the output")
    return {nid: _merge(sorted(ids), block_size) for nid, ids in blocks.items()}


def _merge(ids: List[int], size: int) -> List[Tuple[int, int]]:
    ranges: List[Tuple[int, int]] = []
    for i in ids:
        start = i * size
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], start + size)
        else:
            ranges.append((start, start + size))
    return ranges


def dump_command() -> str:
    """Prints every readable file of the DAMON sysfs tree as path:value."""
    return f"grep -r . {ADMIN} 2>/dev/null | grep -v '/tried_regions/[0-9]' ; true"
