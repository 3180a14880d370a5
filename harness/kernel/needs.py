"""The kernel options a scenario needs, and the check that a kernel has them.

A scenario that a kernel cannot run must be refused before it boots, with
the missing options named, instead of ending in an ERROR halfway through
(a paddr scenario on a kernel without memory-block sysfs did; issue 12).
Each table below is the one place that says what a part of a scenario needs.
"""

from pathlib import Path
from typing import Dict, List, Optional, Tuple

from harness.errors import InputError
from harness.kernel.artifact import Kernel
from harness.kernel import config as kconfig

OPERATIONS = {"vaddr": ["CONFIG_DAMON_VADDR"], "fvaddr": ["CONFIG_DAMON_VADDR"],
              "paddr": ["CONFIG_DAMON_PADDR"]}
ACTIONS = {"hugepage": ["CONFIG_TRANSPARENT_HUGEPAGE"],
           "nohugepage": ["CONFIG_TRANSPARENT_HUGEPAGE"],
           "collapse": ["CONFIG_TRANSPARENT_HUGEPAGE"],
           "migrate_hot": ["CONFIG_MIGRATION", "CONFIG_NUMA"],
           "migrate_cold": ["CONFIG_MIGRATION", "CONFIG_NUMA"],
           "pageout": ["CONFIG_SWAP"]}
MODULES = {"damon_reclaim": ["CONFIG_DAMON_RECLAIM"], "damon_lru_sort": ["CONFIG_DAMON_LRU_SORT"],
           "damon_stat": ["CONFIG_DAMON_STAT"], "damon_hugepage": ["CONFIG_DAMON_HUGEPAGE"]}
SYSFS_TREE = ["CONFIG_DAMON_SYSFS"]
CGROUPS = ["CONFIG_MEMCG", "CONFIG_CGROUPS"]


def scenario_needs(sc) -> List[str]:
    """Options (each must be y or m) that `sc` cannot run without."""
    needs = []
    if sc.damon.kdamonds:
        needs += SYSFS_TREE
    for kd in sc.damon.kdamonds:
        for ctx in kd.contexts:
            needs += OPERATIONS.get(ctx.operations, [])
            for scheme in ctx.schemes:
                needs += ACTIONS.get(scheme.action, [])
    if sc.damon.module is not None:
        needs += MODULES.get(sc.damon.module.name, [])
    if sc.guest.cgroups:
        needs += CGROUPS
    for metric in sc.sample.metrics.values():
        needs += metric.kind.needs
    return list(dict.fromkeys(needs))


def kernel_config(kernel: Kernel) -> Optional[Dict[str, str]]:
    """The kernel's .config when it lies beside the image (harness builds,
    Debian's packages), else None."""
    for name in ("config", ".config"):
        path = kernel.image.parent / name
        if path.is_file():
            return kconfig.read_config(path)
    return None


def missing(config: Dict[str, str], needs: List[str]) -> List[str]:
    return [name for name in needs if config.get(name, "n") not in ("y", "m")]


def lacking(sc, kernel: Kernel) -> List[str]:
    """What `sc` needs that the kernel's config says it lacks; [] when the
    kernel came without a config (nothing to check before boot)."""
    config = kernel_config(kernel)
    return missing(config, scenario_needs(sc)) if config is not None else []


def check_kernel(scenarios, kernel: Kernel, flag: str = "--kernel") -> None:
    """InputError naming the first scenario the kernel cannot run, and why."""
    for sc in scenarios:
        gone = lacking(sc, kernel)
        if gone:
            # The options first: a long path must not cut them off the line.
            where = Path(sc.path).name if sc.path else sc.name
            raise InputError(flag, f"the kernel lacks what {where} needs: {', '.join(gone)} "
                                   f"(kernel: {kernel.image})")


# --- features of DAMON's sysfs interface ------------------------------------------
# What a scenario's setup writes that a kernel may not have: (kind, name).
# A tree has a feature when its mm/damon/sysfs*.c names it in quotes; a
# booted guest, when the probe's write of it into a scratch kdamond is taken.
FEATURE_WORDS = {"operations": "DAMON operations", "action": "DAMOS action",
                 "filters": "DAMOS filter directory", "filter": "DAMOS filter type",
                 "goal": "DAMOS quota goal metric"}


def features(sc) -> List[Tuple[str, str]]:
    """The sysfs features `sc`'s kdamonds use, each once, in setup order."""
    found = []
    for kd in sc.damon.kdamonds:
        for ctx in kd.contexts:
            found.append(("operations", ctx.operations))
            for scheme in ctx.schemes:
                found.append(("action", scheme.action))
                for f in scheme.filters:
                    found += [("filters", f"{f.layer}_filters"), ("filter", f.type)]
                found += [("goal", goal.metric) for goal in scheme.quotas.goals]
    return list(dict.fromkeys(found))


def lacks_line(kind: str, name: str) -> str:
    return f"kernel lacks {FEATURE_WORDS[kind]} {name}"


def tree_lacks(sc, tree: Path) -> List[str]:
    """The features of `sc` the tree's DAMON sysfs source never names."""
    text = "".join(p.read_text(errors="replace")
                   for p in sorted((tree / "mm" / "damon").glob("sysfs*.c")))
    return [lacks_line(kind, name) for kind, name in features(sc) if f'"{name}"' not in text]


def kernel_tree(kernel: Kernel) -> Optional[Path]:
    """The source tree a harness-built kernel came from, when it is on disk."""
    from harness.kernel.source import cached_tree
    source = (kernel.origin or {}).get("source") or {}
    if not source.get("identity"):
        return None
    where = Path(source.get("origin") or "")
    if source.get("kind") in ("dir", "git") and where.is_dir():
        return where
    return cached_tree(source["identity"])


PROBE_KDAMONDS = "/sys/kernel/mm/damon/admin/kdamonds"


def probe_script(sc) -> str:
    """A guest command printing `lacks KIND NAME` for each feature of `sc`
    the running kernel refuses, tried on a scratch kdamond it then removes."""
    k = PROBE_KDAMONDS
    s = f"{k}/0/contexts/0/schemes/0"
    lines = [f"echo 1 > {k}/nr_kdamonds && echo 1 > {k}/0/contexts/nr_contexts && "
             f"echo 1 > {k}/0/contexts/0/schemes/nr_schemes || exit 3"]
    for kind, name in features(sc):
        test = {"operations": f"grep -qw {name} {k}/0/contexts/0/avail_operations",
                "action": f"echo {name} > {s}/action",
                "filters": f"[ -d {s}/{name} ]",
                "filter": f"{{ echo 1 > {s}/{_layer_dir(name)}/nr_filters && "
                          f"echo {name} > {s}/{_layer_dir(name)}/0/type; }}",
                "goal": f"{{ echo 1 > {s}/quotas/goals/nr_goals && "
                        f"echo {name} > {s}/quotas/goals/0/target_metric; }}"}[kind]
        lines.append(f"{test} 2>/dev/null || echo lacks {kind} {name}")
    lines.append(f"echo 0 > {k}/nr_kdamonds")
    return "\n".join(lines)


def _layer_dir(filter_type: str) -> str:
    from harness.scenario import CORE_FILTERS
    return "core_filters" if filter_type in CORE_FILTERS else "ops_filters"


def probe_lacks(output: str) -> List[str]:
    """The probe's `lacks KIND NAME` lines as one-line reasons."""
    out = []
    for line in output.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "lacks" and words[1] in FEATURE_WORDS:
            out.append(lacks_line(words[1], words[2]))
    return out
