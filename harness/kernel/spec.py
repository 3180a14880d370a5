"""From a scenario's validated kernel section to a bootable Kernel."""

from typing import Optional

from harness.kernel.artifact import Kernel


def kernel_for(spec) -> Optional[Kernel]:
    """None for the default kernel (the VM layer fetches Debian's); a file
    the scenario names; or a build, from the cache when it exists."""
    if spec.kind == "default":
        return None
    if spec.kind == "file":
        from harness.kernel.artifact import user_kernel
        return user_kernel(spec.image, spec.modules)
    from harness.kernel.build import DEFAULT, build_kernel
    return build_kernel(source=spec.source, patches=spec.patches,
                        fragments=spec.configs or DEFAULT)
