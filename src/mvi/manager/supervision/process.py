"""One service process, started by this manager or adopted from a previous one.

Services run in their own session (process group), with stdout and stderr going straight
to their log file, so they outlive a manager that is killed; the next manager finds them
again by the pid and the process start time kept in the registry (a reused pid has another
start time). A child of this manager is reaped with ``waitpid`` and has an exit code; an
adopted process is watched through ``/proc`` and its exit code is unknown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from mvi.manager.supervision.isolation import Confinement
from mvi.manager.supervision.sandbox import spawn_options

__all__ = ["ProcessHandle", "describe_exit", "ephemeral_ports", "port_is_free", "start_time"]


def start_time(pid: int) -> int | None:
    """The start time of a live process (clock ticks since boot); ``None`` if it is gone
    (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, starttime = fields[0], fields[19]
    if state in ("Z", "X"):
        return None
    return int(starttime)


def describe_exit(returncode: int | None) -> str:
    """How a process ended, in words."""
    if returncode is None:
        return "exited (exit code unknown: it was started by a previous manager)"
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
        return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``host:port`` now (as uvicorn does, with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ephemeral_ports(count: int = 100, host: str = "127.0.0.1") -> Iterator[int]:
    """``count`` ports that nothing listens on as each is offered (the system's choice on
    a bind of port 0); which of them is free for a version is the caller's to decide."""
    for _ in range(count):
        with socket.socket() as sock:
            sock.bind((host, 0))
            yield int(sock.getsockname()[1])


class ProcessHandle:
    """A service process: ``pid``, its start time, and the ``Popen`` if it is our child."""

    def __init__(self, pid: int, started: int | None, popen: subprocess.Popen[bytes] | None):
        self.pid = pid
        self.started = started
        self.popen = popen

    def __repr__(self) -> str:
        return f"<ProcessHandle pid={self.pid} {'child' if self.popen else 'adopted'}>"

    @classmethod
    def spawn(
        cls,
        args: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        log_path: Path,
        confinement: Confinement | None = None,
    ) -> ProcessHandle:
        """Start ``args`` in its own session, its output appended to ``log_path``, confined
        as ``confinement`` says (its uid, or a Landlock ruleset)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        options, release = spawn_options(confinement)
        try:
            popen = subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                **options,
            )
        finally:
            os.close(fd)
            release()
        return cls(popen.pid, start_time(popen.pid), popen)

    @classmethod
    def adopt(cls, pid: int, started: int | None) -> ProcessHandle | None:
        """The process ``pid`` if it still runs and is the one that started at ``started``."""
        if started is None or pid <= 0:
            return None
        if start_time(pid) != started:
            return None
        return cls(pid, started, None)

    @property
    def adopted(self) -> bool:
        """Whether a previous manager started this process."""
        return self.popen is None

    def poll(self) -> tuple[bool, int | None]:
        """``(alive, returncode)``; the return code is ``None`` while alive or when unknown."""
        if self.popen is not None:
            code = self.popen.poll()
            return code is None, code
        return start_time(self.pid) == self.started, None

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.poll()[0]

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process (never to a reused pid)."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def kill_group(self) -> None:
        """SIGKILL the process and anything it started in its session."""
        if self.popen is None and start_time(self.pid) not in (self.started, None):
            return  # the pid (and so the group id) now belongs to someone else
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=0)
