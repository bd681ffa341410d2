"""Several HTTP processes serving one service on one port, and the process that watches them.

``MVI_WORKERS=N`` (or ``service.run(workers=N)``) with N > 1 makes the process that ran
``python service.py`` a supervisor. How it works, and why:

- **Fork, not spawn.** The service module is already imported when ``service.run()`` is
  called, so each HTTP process is a ``fork()`` of the supervisor: a plain script works
  without being importable by name, and a model loaded at import time is shared
  copy-on-write. The supervisor forks before it starts any event loop, and afterwards runs
  no user code (no requests, no periodic jobs), so a restart forks from the same quiet
  state as the first start.
- **One port.** On Linux each HTTP process listens on a socket of its own, bound with
  ``SO_REUSEPORT``: the kernel spreads new connections evenly over them. (With one
  shared listening socket, every process wakes up for a new connection and asyncio
  accepts all that are waiting, so one process tends to take a whole burst of
  connections, such as a load generator's 32, while the other idles.) The supervisor
  keeps one bound, non-listening socket on the port, so the port (``MVI_PORT=0`` too)
  stays reserved while a process restarts. Elsewhere the processes share one listening
  socket made by the supervisor.
- **Supervision.** A process that dies is started again, after 0.1 s, doubling up to 10 s
  while it keeps dying within 10 s of its start (:class:`ProcessRestartPolicy`). When a process
  fails five times in a row before it is ready, the service stops with
  :class:`mvi._exceptions.ServingError`.
- **Graceful stop.** SIGTERM or SIGINT to the supervisor sends SIGTERM to every process:
  each stops accepting, finishes its in-flight requests, flushes its monitoring writes
  and exits. The supervisor waits (``MVI_GRACEFUL_TIMEOUT`` plus 10 s, then SIGKILL) and
  returns, so ``python service.py`` exits with 0. An HTTP process whose supervisor is
  gone (its channel closes) stops by itself.
- **Parameters.** The supervisor is the hub of :mod:`mvi.serving.processes.replication`: an update
  made in any process reaches all of them within milliseconds.
- **Periodic jobs** run in the process of slot 0 only (and in its replacement).
- **Metrics.** Each run gets a fresh directory for prometheus-client's multiprocess files
  (removed when the supervisor ends, or by the next start if the supervisor was killed);
  each process switches to it right after the fork, and a dead process is marked so its
  gauges stop counting.
- **Readiness** is per process: ``/~ready`` answers 200 from a process that has started
  and is not draining.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from prometheus_client.multiprocess import mark_process_dead

from mvi._exceptions import ChannelClosed, ConfigurationError, MalformedMessage, ServingError
from mvi.sdk.parameters import ParameterSet
from mvi.serving.metrics import MULTIPROCESS_DIR_VARIABLE
from mvi.serving.processes.http_process import READY, flush_output, serve_http_process
from mvi.serving.processes.replication import PARAMETER, ParameterHub
from mvi.settings import get_settings
from mvi.transport.channel import Channel

if TYPE_CHECKING:
    from mvi.serving.service import Service

__all__ = ["ProcessRestartPolicy", "ProcessSupervisor", "Slot", "stale_metrics_dirs"]

logger = logging.getLogger("mvi.supervisor")

_REUSE_PORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
_SEND_TIMEOUT = 2.0  # a process that reads no update for this long is stopped
_KILL_MARGIN = 10.0  # beyond the graceful timeout, for the lifespan's shutdown
_TICK = 0.5
_METRICS_PREFIX = "mvi-metrics-"


def stale_metrics_dirs(root: Path, alive: Callable[[int], bool]) -> list[Path]:
    """Metrics directories in ``root`` left by supervisors that are gone (killed with
    SIGKILL before they could remove them): named ``mvi-metrics-{pid}-...``, their pid
    not ``alive``."""
    found = []
    for path in root.glob(f"{_METRICS_PREFIX}*-*"):
        pid = path.name[len(_METRICS_PREFIX) :].split("-", 1)[0]
        if path.is_dir() and pid.isdigit() and not alive(int(pid)):
            found.append(path)
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@dataclass(frozen=True)
class ProcessRestartPolicy:
    """When to start a dead HTTP process again, and when to give up on the service."""

    first_delay: float = 0.1
    max_delay: float = 10.0
    stable_after: float = 10.0
    max_start_failures: int = 5

    def after_exit(self, failures: int, ready: bool, lifetime: float) -> tuple[int, float | None]:
        """For a process that exited after ``lifetime`` seconds (``ready``: it had started
        serving) with ``failures`` unstable exits before it in its slot: the new count of
        unstable exits and the delay before the restart, or ``None`` to stop the service."""
        if ready and lifetime >= self.stable_after:
            return 0, self.first_delay
        failures += 1
        if not ready and failures >= self.max_start_failures:
            return failures, None
        return failures, min(self.max_delay, self.first_delay * 2 ** (failures - 1))


@dataclass
class Slot:
    """One of the N places for an HTTP process, and the process in it now."""

    index: int
    pid: int = 0
    channel: Channel | None = None
    started: float = 0.0
    ready: bool = False
    failures: int = 0
    restart_at: float | None = None


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


class ProcessSupervisor:
    """Starts ``workers`` HTTP processes for ``service``, keeps them running, stops them."""

    def __init__(
        self,
        service: Service | None,
        workers: int,
        policy: ProcessRestartPolicy | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        if workers < 2:
            raise ConfigurationError(f"A supervisor runs 2 or more HTTP processes; got {workers}")
        self.service = service  # None: a subclass serves another app (serve_process)
        self.settings = service.settings if service is not None else get_settings()
        self.policy = policy or ProcessRestartPolicy()
        self.slots = [Slot(i) for i in range(workers)]
        self.hub = ParameterHub(service.parameters if service is not None else ParameterSet())
        self.host = self.settings.host if host is None else host
        self.port = self.settings.port if port is None else port
        self.metrics_dir = ""
        self._socket: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._signals: list[int] = []
        self._old_handlers: dict[int, Any] = {}
        self._stopping = False
        self._kill_at = 0.0
        self._killed = False
        self._failure: str | None = None

    # -- the supervisor's life ----------------------------------------------------------
    def run(self) -> None:
        """Serve until SIGTERM/SIGINT, then stop every process gracefully and return.

        Raises :class:`mvi._exceptions.ServingError` if the port cannot be bound or the processes
        keep failing to start.
        """
        if threading.current_thread() is not threading.main_thread():
            raise ConfigurationError("Several HTTP processes can only be run from the main thread")
        self._socket = self._reserve_port()
        try:
            root = Path(tempfile.gettempdir())
            for stale in stale_metrics_dirs(root, _alive):
                shutil.rmtree(stale, ignore_errors=True)
            self.metrics_dir = tempfile.mkdtemp(prefix=f"{_METRICS_PREFIX}{os.getpid()}-", dir=root)
            previous_dir = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
            os.environ[MULTIPROCESS_DIR_VARIABLE] = self.metrics_dir
            self._selector = selectors.DefaultSelector()
            self._install_signals()
            try:
                logger.info(
                    "Serving on http://%s:%d with %d HTTP processes (supervisor pid %d)",
                    self.host,
                    self.port,
                    len(self.slots),
                    os.getpid(),
                )
                for slot in self.slots:
                    self._start(slot)
                self._loop()
            finally:
                self._restore_signals()
                self._stop_remaining()
                self._selector.close()
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
                if previous_dir is None:
                    os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)
                else:
                    os.environ[MULTIPROCESS_DIR_VARIABLE] = previous_dir
        finally:
            self._socket.close()
        if self.service is not None:
            self.service.state = "stopped"
        if self._failure is not None:
            raise ServingError(self._failure)
        logger.info("All HTTP processes stopped")

    def _reserve_port(self) -> socket.socket:
        host, port = self.host, self.port
        try:
            sock = _bind(host, port, reuse_port=_REUSE_PORT)
            if not _REUSE_PORT:
                sock.listen(2048)
        except OSError as exc:
            raise ServingError(
                f"Cannot listen on {host}:{port} ({exc.strerror or exc}); stop what uses it "
                "or choose another MVI_PORT / MVI_HOST"
            ) from exc
        self.port = int(sock.getsockname()[1])
        return sock

    def _install_signals(self) -> None:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._wakeup = (reader, writer)
        assert self._selector is not None
        self._selector.register(reader, selectors.EVENT_READ, None)
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signals(self) -> None:
        signal.set_wakeup_fd(-1)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        if self._wakeup is not None:
            for sock in self._wakeup:
                sock.close()

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._signals.append(sig)

    def _loop(self) -> None:
        assert self._selector is not None
        while True:
            for key, _ in self._selector.select(self._timeout()):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        key.fileobj.recv(4096)  # type: ignore[union-attr]
                else:
                    self._read(key.data)
            while self._signals:
                sig = self._signals.pop(0)
                if sig != signal.SIGCHLD:
                    self._begin_stop(signal.Signals(sig).name)
            self._reap()
            now = time.monotonic()
            if self._stopping:
                if not any(slot.pid for slot in self.slots):
                    return
                if now >= self._kill_at and not self._killed:
                    self._kill_stragglers()
            else:
                for slot in self.slots:
                    if slot.restart_at is not None and now >= slot.restart_at:
                        self._start(slot)

    def _timeout(self) -> float:
        now = time.monotonic()
        deadlines = [s.restart_at for s in self.slots if s.restart_at is not None]
        if self._stopping and not self._killed:
            deadlines.append(self._kill_at)
        return max(0.0, min([now + _TICK, *deadlines]) - now)

    # -- processes ------------------------------------------------------------------------
    def _start(self, slot: Slot) -> None:
        parent_end, child_end = Channel.pair()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:  # the HTTP process: never returns into the supervisor's code
            code = 1
            try:
                parent_end.close()
                pending = self._forget_supervisor()
                code = self.serve_process(slot.index, child_end, self._listener(), pending)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                logger.exception("HTTP process %d failed", slot.index)
            finally:
                flush_output()
                os._exit(code)
        child_end.close()
        parent_end.sock.settimeout(_SEND_TIMEOUT)
        slot.pid, slot.channel, slot.ready, slot.restart_at = pid, parent_end, False, None
        slot.started = time.monotonic()
        assert self._selector is not None
        self._selector.register(parent_end, selectors.EVENT_READ, slot)
        logger.info("Started HTTP process %d (pid %d)", slot.index, pid)

    def serve_process(
        self, index: int, channel: Channel, sock: socket.socket, pending: list[int]
    ) -> int:
        """The life of the HTTP process in slot ``index`` (in the forked child); its exit
        status. The service's by default (a subclass serves another ASGI app)."""
        assert self.service is not None
        return serve_http_process(self.service, index, channel, sock, self.metrics_dir, pending)

    def _forget_supervisor(self) -> list[int]:
        """In a freshly forked process: drop the supervisor's signals, sockets and channels.
        Returns the list that SIGTERM/SIGINT are noted in until the server can hear them."""
        signal.set_wakeup_fd(-1)
        pending: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda s, f: pending.append(s))
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if self._selector is not None:
            self._selector.close()
        if self._wakeup is not None:
            for sock in self._wakeup:
                sock.close()
        for other in self.slots:
            if other.channel is not None:
                other.channel.close()
        return pending

    def _listener(self) -> socket.socket:
        assert self._socket is not None
        if not _REUSE_PORT:
            return self._socket
        self._socket.close()
        return _bind(self.host, self.port, reuse_port=True)

    def _read(self, slot: Slot) -> None:
        channel = slot.channel
        if channel is None:
            return
        try:
            messages = channel.receive_available()
        except ChannelClosed:
            self._drop_channel(slot)  # the process is ending; _reap() will see it
            return
        except MalformedMessage as exc:
            logger.error(
                "HTTP process %d sent a malformed message (%s); killing it", slot.index, exc
            )
            self._drop_channel(slot)
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.pid, signal.SIGKILL)
            return
        for message in messages:
            kind = message.get("type")
            if kind == PARAMETER:
                frame = self.hub.handle(message)
                if frame is not None:
                    self._broadcast(frame)
            elif kind == READY:
                slot.ready = True
                logger.info("HTTP process %d (pid %d) is ready", slot.index, slot.pid)
            else:
                logger.warning("Ignored a message from HTTP process %d: %r", slot.index, message)

    def _broadcast(self, frame: bytes) -> None:
        for slot in self.slots:
            if slot.channel is None:
                continue
            try:
                slot.channel.send_frame(frame)
            except ChannelClosed as exc:
                # It cannot take updates: stop it rather than let it serve stale values.
                logger.error(
                    "HTTP process %d does not take parameter updates (%s); stopping it",
                    slot.index,
                    exc,
                )
                self._drop_channel(slot)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGTERM)

    def _drop_channel(self, slot: Slot) -> None:
        if slot.channel is not None:
            assert self._selector is not None
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(slot.channel)
            slot.channel.close()
            slot.channel = None

    def _reap(self) -> None:
        for slot in self.slots:
            if not slot.pid:
                continue
            try:
                pid, status = os.waitpid(slot.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = slot.pid, 0
            if pid == 0:
                continue
            self._exited(slot, os.waitstatus_to_exitcode(status))

    def _exited(self, slot: Slot, code: int) -> None:
        pid, lifetime = slot.pid, time.monotonic() - slot.started
        slot.pid = 0
        self._drop_channel(slot)
        mark_process_dead(pid, self.metrics_dir)  # type: ignore[no-untyped-call]
        if self._stopping:
            log = logger.info if code == 0 else logger.warning
            log("HTTP process %d (pid %d) exited with %d", slot.index, pid, code)
            return
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
        slot.failures, delay = self.policy.after_exit(slot.failures, slot.ready, lifetime)
        if delay is None:
            self._failure = (
                f"HTTP process {slot.index} failed to start {slot.failures} times in a row "
                f"(last: it {how}); see the log above for its error"
            )
            logger.error("%s; stopping the service", self._failure)
            self._begin_stop("failure")
            return
        logger.warning(
            "HTTP process %d (pid %d) %s; starting it again in %.1fs", slot.index, pid, how, delay
        )
        slot.restart_at = time.monotonic() + delay

    def _begin_stop(self, reason: str) -> None:
        if not self._stopping:
            self._stopping = True
            self._kill_at = time.monotonic() + self.settings.graceful_timeout + _KILL_MARGIN
            if self.service is not None:
                self.service.state = "draining"
            logger.info("Stopping (%s): draining %d HTTP processes", reason, len(self.slots))
        for slot in self.slots:
            slot.restart_at = None
            if slot.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGTERM)

    def _kill_stragglers(self) -> None:
        self._killed = True
        for slot in self.slots:
            if slot.pid:
                logger.error(
                    "HTTP process %d (pid %d) did not stop in time; killing it",
                    slot.index,
                    slot.pid,
                )
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGKILL)

    def _stop_remaining(self) -> None:
        """On the way out (also after an error in the supervisor): no process outlives it."""
        alive = [slot for slot in self.slots if slot.pid]
        if not alive:
            return
        if not self._stopping:
            self._begin_stop("supervisor exiting")
        deadline = self._kill_at
        while any(slot.pid for slot in self.slots):
            if time.monotonic() >= deadline and not self._killed:
                self._kill_stragglers()
            self._reap()
            time.sleep(0.05)
