"""The one verdict vocabulary: how a check, a scenario or a VM run ends, and
the exception that carries a run-ending verdict out of the VM layer."""

from enum import Enum

from harness.errors import HarnessError


class Verdict(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    CRASH = "CRASH"
    HANG = "HANG"
    BOOT_FAIL = "BOOT_FAIL"
    FLAKY = "FLAKY"         # FAILed, then PASSed on a retry (run --retries): not a PASS
    SKIP = "SKIP"           # the kernel lacks a feature the scenario needs: not judged

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# Exit statuses for the CLI, distinct from a guest command's own status.
EXIT_STATUS = {Verdict.ERROR: 3, Verdict.CRASH: 4, Verdict.HANG: 5, Verdict.BOOT_FAIL: 6}


class RunEnded(HarnessError):
    """The guest crashed, hung or never booted; carries the console evidence."""

    def __init__(self, verdict: Verdict, message: str, excerpt: str = ""):
        super().__init__(f"{verdict.value}: {message}")
        self.verdict = verdict
        self.message = message
        self.excerpt = excerpt
        self.exit_code = EXIT_STATUS.get(verdict, 1)
