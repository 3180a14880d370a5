"""damon-harness: boot kernels in QEMU and check what DAMON really does."""
