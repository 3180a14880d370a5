"""The guest contract: what the engine needs from a booted guest.

The real VM (harness.vm.machine.VM) and the unit tests' fake both implement
it, so the engine's flow is tested against the same interface it uses.
"""

from abc import ABC, abstractmethod
from pathlib import Path


class Guest(ABC):
    """A booted guest that runs shell commands. `run_dir` is where the run's
    artefacts go on the host."""

    run_dir: Path

    @abstractmethod
    def run(self, command: str, timeout: float = 60, check: bool = False):
        """A CommandResult (exit_code, stdout, stderr). A guest that stopped
        answering raises RunEnded (HANG or CRASH); with `check`, a non-zero
        exit raises CommandFailed."""

    @abstractmethod
    def upload(self, local, remote: str, mode: int = 0o755) -> None:
        """Copy a host file into the guest."""

    def read_file(self, remote: str, timeout: float = 30) -> str:
        import shlex
        return self.run(f"cat -- {shlex.quote(remote)}", timeout=timeout, check=True).stdout
