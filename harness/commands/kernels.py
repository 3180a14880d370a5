"""`run --kernels`: the same scenarios on several kernels, one table.

Each item is `debian:VERSION` (built from Debian's linux-source-VERSION with
the default fragments), `default` (each scenario's own kernel) or the path
of a kernel image. Every item is checked before anything is fetched, built
or booted; the builds then run one after another, before the first boot.
"""

from pathlib import Path
from typing import List, Optional, Tuple

from harness.errors import InputError

DEFAULT = "default"


def parse_kernels(text: str) -> List[str]:
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise InputError("--kernels", f"an empty item in {text!r}")
    seen = set()
    for item in items:
        if item in seen:
            raise InputError("--kernels", f"{item} is given twice")
        seen.add(item)
    for item in items:
        check_item(item)
    return items


def check_item(item: str) -> None:
    from harness.kernel.artifact import user_kernel
    from harness.kernel.source import debian_package
    if item == DEFAULT or debian_package(item, "--kernels") is not None:
        return      # debian_package refused an unknown version already
    if not Path(item).exists():
        raise InputError("--kernels", f"{item}: not debian:VERSION, {DEFAULT}, or a kernel "
                                      f"image (no such file)")
    user_kernel(item, flag="--kernels")


def kernels_for(items: List[str]) -> List[Tuple[str, Optional[object]]]:
    """(label, Kernel or None for each scenario's own) for each item, built
    or found in the cache."""
    from harness.kernel.artifact import user_kernel
    from harness.kernel.build import build_kernel
    from harness.kernel.source import debian_package
    out = []
    for item in items:
        if item == DEFAULT:
            out.append((item, None))
        elif debian_package(item) is not None:
            out.append((item, build_kernel(source=item)))
        else:
            out.append((item, user_kernel(item, flag="--kernels")))
    return out
