"""The QEMU layer: argv from a topology, accelerator probe, console watcher, VM lifecycle."""
