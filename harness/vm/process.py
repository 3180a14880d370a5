"""Starting QEMU so that it can never outlive the harness."""

import ctypes
import signal
import threading
import weakref

import pexpect

from harness.errors import HostError

_PR_SET_PDEATHSIG = 1
_live = weakref.WeakSet()
_lock = threading.Lock()


def die_with_parent() -> None:
    # The kernel SIGKILLs QEMU when the harness dies, even by SIGKILL.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn_qemu(argv, **kwargs) -> pexpect.spawn:
    try:
        child = pexpect.spawn(argv[0], argv[1:], preexec_fn=die_with_parent,
                              echo=False, **kwargs)
    except pexpect.ExceptionPexpect as exc:
        raise HostError(f"cannot start {argv[0]}: {exc} (run scripts/setup.sh)") from None
    with _lock:
        _live.add(child)
    return child


def kill_all() -> None:
    """Kill every QEMU this process started; used on signals and at exit."""
    with _lock:
        children = list(_live)
    for child in children:
        try:
            if child.isalive():
                child.terminate(force=True)
        except Exception:  # noqa: BLE001 - best effort while exiting
            pass
