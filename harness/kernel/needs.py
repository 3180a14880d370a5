"""The kernel options a scenario needs, and the check that a kernel has them.

A scenario that a kernel cannot run must be refused before it boots, with
the missing options named, instead of ending in an ERROR halfway through
(a paddr scenario on a kernel without memory-block sysfs did; issue 12).
Each table below is the one place that says what a part of a scenario needs.
"""

from pathlib import Path
from typing import Dict, List, Optional

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
