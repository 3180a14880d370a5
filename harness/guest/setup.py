"""Guest shell scripts that prepare a scenario's guest and start its
workloads. Pure: a scenario in, shell text out (and the parser of what the
setup script prints)."""

import shlex
from typing import Dict, List

GUEST_BIN = "/root/hotcold"
WORKLOAD_OUT = "/tmp/workload-{name}.out"
CGROUP_ROOT = "/sys/fs/cgroup"
THP_ENABLED = "/sys/kernel/mm/transparent_hugepage/enabled"
NUMA_BALANCING = "/proc/sys/kernel/numa_balancing"


def guest_setup_script(sc) -> str:
    """Modules, THP mode, NUMA balancing, sysctls, sysfs knobs and cgroups; the values
    found before are printed first so the run records them."""
    g = sc.guest
    lines = ["set -e", *[f"modprobe {shlex.quote(m)}" for m in g.modules],
             f"echo \"before: thp=$(cat {THP_ENABLED})\"",
             f"echo \"before: numa_balancing=$(cat {NUMA_BALANCING} 2>/dev/null || echo none)\""]
    if g.thp is not None:
        lines += [f"echo {g.thp} > {THP_ENABLED}",
                  f"grep -q '\\[{g.thp}\\]' {THP_ENABLED}"]
    if g.numa_balancing is not None:
        lines += _numa_balancing_lines(g.numa_balancing)
    lines += [f"sysctl -q -w {shlex.quote(k + '=' + v)}" for k, v in g.sysctls.items()]
    lines += [f"printf '%s\\n' {shlex.quote(v)} > {shlex.quote(p)}" for p, v in g.sysfs.items()]
    lines += _cgroup_lines(sc)
    lines += [f"echo \"after: thp=$(cat {THP_ENABLED})\"",
              f"echo \"after: numa_balancing=$(cat {NUMA_BALANCING} 2>/dev/null || echo none)\""]
    return "\n".join(lines) + "\n"


def parse_state_lines(text: str) -> Dict[str, str]:
    """'before: thp=always [madvise] never' -> {'before thp': '...'}."""
    state = {}
    for line in text.splitlines():
        when, sep, rest = line.partition(": ")
        key, eq, value = rest.partition("=")
        if sep and eq and when in ("before", "after"):
            state[f"{when} {key}"] = value.strip()
    return state


def _numa_balancing_lines(value: int) -> List[str]:
    if value == 0:
        return [f"[ ! -e {NUMA_BALANCING} ] || echo 0 > {NUMA_BALANCING}"]
    return [f"echo {value} > {NUMA_BALANCING}"]


def _cgroup_lines(sc) -> List[str]:
    cgroups = sc.guest.cgroups
    if not cgroups:
        return []
    controllers = {"memory"} | {k.split(".")[0] for cg in cgroups.values() for k in cg.limits}
    lines = [f"grep -q ' {CGROUP_ROOT} cgroup2 ' /proc/mounts || "
             f"mount -t cgroup2 cgroup2 {CGROUP_ROOT}",
             f"echo '{' '.join('+' + c for c in sorted(controllers))}' > "
             f"{CGROUP_ROOT}/cgroup.subtree_control"]
    for cg in cgroups.values():
        lines.append(f"mkdir -p {CGROUP_ROOT}/{cg.name}")
        lines += [f"printf '%s\\n' {shlex.quote(v)} > {CGROUP_ROOT}/{cg.name}/{k}"
                  for k, v in cg.limits.items()]
    return lines


def workload_command(w) -> str:
    """Start a workload detached, in its cgroup, bound as asked. The shell
    that joins the cgroup execs the workload, so the pid is the workload's."""
    inner = []
    if w.cgroup:
        inner.append(f"echo $$ > {CGROUP_ROOT}/{w.cgroup}/cgroup.procs")
    numactl = []
    if w.cpus:
        numactl.append("--physcpubind=" + ",".join(map(str, w.cpus)))
    if w.membind:
        numactl.append("--membind=" + ",".join(map(str, w.membind)))
    prog = ["numactl", *numactl] if numactl else []
    prog += [GUEST_BIN, *w.program_args()]
    inner.append("exec " + " ".join(shlex.quote(a) for a in prog))
    out = WORKLOAD_OUT.format(name=w.name)
    return (f"setsid sh -c {shlex.quote('; '.join(inner))} > {out} 2>&1 < /dev/null & "
            f"echo started")
