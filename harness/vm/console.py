"""Watches the serial console: logs it, and spots kernel crashes as they print."""

import re
import threading
import time
from collections import deque
from typing import Optional

import pexpect

# Each pattern is a way the kernel says it is broken. Matching any one ends the
# run with CRASH; the excerpt holds the lines around the first match.
CRASH_PATTERNS = [
    ("panic", r"Kernel panic - not syncing"),
    ("oops", r"\bOops\b"),
    ("bug", r"\bBUG:|kernel BUG at"),
    ("warning", r"\bWARNING:"),
    ("gpf", r"general protection fault"),
    ("kasan", r"KASAN:"),
    ("soft lockup", r"soft lockup"),
    ("hung task", r"blocked for more than \d+ seconds"),
    ("rcu stall", r"rcu: INFO: .*stall|self-detected stall|detected stalls on CPUs"),
]
_CRASH_RE = [(name, re.compile(rx)) for name, rx in CRASH_PATTERNS]
# What the image's init (images/*/overlay/sbin/harness-init) prints once
# eth0 is configured and sshd has been started.
SSHD_STARTED = "harness-init: sshd started"
# What the kernel prints when it runs with page-table isolation (arch/x86/mm/pti.c).
PTI_ENABLED = "Kernel/User page tables isolation: enabled"
LINES_BEFORE = 15
# After the first crash line, keep reading this long (or this many lines) so
# the excerpt holds the trace, not just its first line.
TRACE_SECONDS = 2.0
TRACE_LINES = 60


def crash_kind(line: str) -> Optional[str]:
    for name, regex in _CRASH_RE:
        if regex.search(line):
            return name
    return None


class ConsoleWatcher(threading.Thread):
    def __init__(self, child: pexpect.spawn, log_path):
        super().__init__(name="console-watcher", daemon=True)
        self.child = child
        self.log = open(log_path, "w", encoding="utf-8", errors="replace")
        self.recent = deque(maxlen=LINES_BEFORE)
        self.excerpt_lines = []
        self.crash_reason: Optional[str] = None
        self.crashed = threading.Event()
        self.exited = threading.Event()
        self.sshd_started = threading.Event()
        self.page_table_isolation = False
        self.last_output = time.monotonic()
        self._partial = ""
        self._crash_started = 0.0

    def run(self) -> None:
        try:
            while True:
                try:
                    data = self.child.read_nonblocking(4096, timeout=0.2)
                except pexpect.TIMEOUT:
                    self._maybe_finish_excerpt()
                    continue
                self._feed(data.decode("utf-8", errors="replace"))
        except (pexpect.EOF, OSError, ValueError):
            pass
        finally:
            self._flush_partial()
            if self.crash_reason:
                self.crashed.set()
            self.exited.set()
            self.log.close()

    def _feed(self, text: str) -> None:
        self.last_output = time.monotonic()
        self.log.write(text)
        self.log.flush()
        lines = (self._partial + text.replace("\r", "")).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line)
        self._maybe_finish_excerpt()

    def _flush_partial(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""

    def _line(self, line: str) -> None:
        if SSHD_STARTED in line:
            self.sshd_started.set()
        if PTI_ENABLED in line:
            self.page_table_isolation = True
        if self.crash_reason:
            self.excerpt_lines.append(line)
            return
        kind = crash_kind(line)
        if kind:
            self.crash_reason = f"{kind}: {line.strip()}"
            self.excerpt_lines = list(self.recent) + [line]
            self._crash_started = time.monotonic()
        self.recent.append(line)

    def _maybe_finish_excerpt(self) -> None:
        if not self.crash_reason or self.crashed.is_set():
            return
        waited = time.monotonic() - self._crash_started
        if waited >= TRACE_SECONDS or len(self.excerpt_lines) >= LINES_BEFORE + TRACE_LINES:
            self.crashed.set()

    @property
    def excerpt(self) -> str:
        return "\n".join(self.excerpt_lines)

    def tail(self, count: int = LINES_BEFORE) -> str:
        return "\n".join(list(self.recent)[-count:])
