"""SSH to the guest with paramiko: wait until ready, run, upload, read."""

import logging
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import paramiko

from harness.errors import HarnessError

POLL_S = 0.05
RETRY_S = 0.1
# paramiko logs a traceback for every connection tried before sshd is up, and
# from its transport threads after a failed attempt; errors reach us as exceptions.
logging.getLogger("paramiko").setLevel(logging.CRITICAL)


@dataclass
class CommandResult:
    command: str
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class CommandFailed(HarnessError):
    def __init__(self, result: CommandResult):
        err = (result.stderr.strip().splitlines() or [""])[-1]
        super().__init__(f"guest command failed ({result.exit_code}): {result.command}: {err}")
        self.result = result


class CommandTimeout(HarnessError):
    def __init__(self, command: str, timeout: float):
        super().__init__(f"guest command timed out after {timeout:.0f} s: {command}")
        self.command = command


class SSHGuest:
    """A root SSH session to 127.0.0.1:port. `check_alive` raises if the VM died."""

    def __init__(self, port: int, key_path: Path, check_alive: Callable[[], None]):
        self.port = port
        self.key = paramiko.Ed25519Key.from_private_key_file(str(key_path))
        self.check_alive = check_alive
        self.client: Optional[paramiko.SSHClient] = None

    def wait_ready(self, deadline: float, ready: Optional[threading.Event] = None,
                   grace: float = 0.0) -> float:
        """Connect, retrying until `deadline` (time.monotonic); returns seconds waited.

        No attempt is made before `ready` is set, for at most `grace` s: under
        user-mode networking an attempt made before the guest's NIC is up hangs
        for the whole connect timeout, so sshd would wait for it to give up.
        """
        start = time.monotonic()
        while True:
            self.check_alive()
            held = ready is not None and time.monotonic() - start < grace
            if held and not ready.is_set():
                ready.wait(POLL_S)
                continue
            if self._try_connect():
                return time.monotonic() - start
            if time.monotonic() > deadline:
                raise TimeoutError("sshd did not answer before the boot deadline")
            time.sleep(RETRY_S)

    def _try_connect(self) -> bool:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            client.connect("127.0.0.1", port=self.port, username="root", pkey=self.key,
                           timeout=3, banner_timeout=5, auth_timeout=5,
                           allow_agent=False, look_for_keys=False)
        except (paramiko.SSHException, OSError, EOFError):
            client.close()
            return False
        client.get_transport().set_keepalive(5)
        self.client = client
        return True

    def run(self, command: str, timeout: float = 60, check: bool = False,
            stdin: Optional[bytes] = None) -> CommandResult:
        """Run a command; CommandTimeout if it takes longer than `timeout`.

        paramiko can block forever on a guest that stopped answering, so a
        timer closes the connection at the deadline; the next call reconnects.
        """
        transport = self._transport()
        timer = threading.Timer(timeout, transport.close)
        # A daemon, started inside the try: an interrupt at any point must
        # neither leave it uncancelled nor keep the process alive at exit.
        timer.daemon = True
        try:
            timer.start()
            result = self._exec(transport, command, timeout, stdin)
        except (paramiko.SSHException, EOFError, OSError):
            if timer.is_alive():
                raise
            self.close()
            raise CommandTimeout(command, timeout) from None
        finally:
            timer.cancel()
        if check and not result.ok:
            raise CommandFailed(result)
        return result

    def _exec(self, transport, command: str, timeout: float,
              stdin: Optional[bytes]) -> CommandResult:
        start = time.monotonic()
        chan = transport.open_session(timeout=timeout)
        chan.exec_command(command)
        if stdin is not None:
            chan.sendall(stdin)
        chan.shutdown_write()
        out, err = bytearray(), bytearray()
        while not (chan.exit_status_ready() and not chan.recv_ready()
                   and not chan.recv_stderr_ready()):
            self._drain(chan, out, err)
            if time.monotonic() - start > timeout:
                chan.close()
                raise CommandTimeout(command, timeout)
            self.check_alive()
            if not (chan.recv_ready() or chan.recv_stderr_ready()):
                time.sleep(POLL_S)
        self._drain(chan, out, err)
        status = chan.recv_exit_status()
        chan.close()
        return CommandResult(command, status, out.decode(errors="replace"),
                             err.decode(errors="replace"), time.monotonic() - start)

    @staticmethod
    def _drain(chan, out: bytearray, err: bytearray) -> None:
        while chan.recv_ready():
            out += chan.recv(65536)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)

    def upload(self, local: Path, remote: str, mode: int = 0o755) -> None:
        sftp = self._transport().open_sftp_client()
        try:
            sftp.put(str(local), remote)
            sftp.chmod(remote, mode)
        finally:
            sftp.close()

    def read_file(self, remote: str, timeout: float = 30) -> str:
        result = self.run(f"cat -- {shlex.quote(remote)}", timeout=timeout, check=True)
        return result.stdout

    def write_file(self, remote: str, text: str, timeout: float = 30) -> None:
        self.run(f"cat > {shlex.quote(remote)}", timeout=timeout, check=True,
                 stdin=text.encode())

    def responsive(self, timeout: float = 15) -> bool:
        try:
            return self.run("true", timeout=timeout).ok
        except (HarnessError, paramiko.SSHException, OSError, EOFError, socket.error):
            return False

    def _transport(self) -> paramiko.Transport:
        transport = self.client.get_transport() if self.client else None
        if transport is None or not transport.is_active():
            self.close()
            if not self._try_connect():
                raise HarnessError("lost the SSH connection to the guest")
            transport = self.client.get_transport()
        return transport

    def close(self) -> None:
        if self.client:
            self.client.close()
            self.client = None
