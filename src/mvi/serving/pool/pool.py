"""Worker processes of one entrypoint, seen from the service process.

How a worker gets the function: it is a fresh ``python -m mvi.serving.pool.worker`` process
(not a fork), that imports the module defining the entrypoint, the service's script run
again as ``__mp_main__`` when that is where it lives, exactly as multiprocessing's "spawn"
does. Forking the running service instead would copy an event loop, its threads (thread
pools, the monitoring writer) and its listening socket into the child, and POSIX only
promises the forking thread survives, so locks held by the others stay locked forever; a
fresh interpreter costs about a second at start and is the only safe way to restart a
worker later. The price: the entrypoint must be importable (a module-level function or
class, which :class:`~mvi.sdk.entrypoint.Entrypoint` checks at decoration time).

Each worker is connected by a UNIX socket pair; calls and answers are
:mod:`mvi.transport.framing` frames (msgpack, arrays as raw buffers beside it, never
pickle). A worker runs one batch (or call) at a time. When a worker dies (SIGKILL, a
crash in native code), its socket closes at once: the calls it was running fail with 503
and ``Retry-After``, and a new worker starts (after a backoff if workers keep dying
before they are ready). Workers leave with the service: on shutdown their sockets close,
and if the service is killed, Linux sends them SIGKILL (``PR_SET_PDEATHSIG``). Each HTTP
process has its own pool.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mvi._exceptions import CallFailed, ConfigurationError, Overloaded
from mvi.serving.metrics import MULTIPROCESS_DIR_VARIABLE
from mvi.transport import framing

if TYPE_CHECKING:
    from mvi.sdk.entrypoint import Entrypoint
    from mvi.sdk.parameters import Parameter, ParameterSet

__all__ = ["WorkerPool"]

logger = logging.getLogger("mvi.workers")

_BACKOFF = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_STOP_GRACE = 5.0


class _WorkerConnection(asyncio.BufferedProtocol):
    """The service's end of one worker's socket (frames read straight into place)."""

    def __init__(self, worker: _WorkerHandle) -> None:
        self.worker = worker
        self.assembler = framing.FrameAssembler()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.assembler.buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            for skeleton, buffers in self.assembler.filled(nbytes):
                self.worker.received(framing.decode_frame(skeleton, buffers))
        except Exception:  # a frame we cannot read: this worker is not to be trusted
            logger.exception("Unreadable frame from worker %s; stopping it", self.worker.pid)
            self.worker.kill()

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost()


class _WorkerHandle:
    """One worker process and its in-flight call."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: subprocess.Popen[bytes] | None = None
        self.connection: _WorkerConnection | None = None
        self.ready = False
        self.busy = False
        self.calls: dict[int, asyncio.Future[list[Any]]] = {}
        self.started: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def spawn(self) -> None:
        """Start the process, connect, send the boot frame; :attr:`started` resolves when
        it is ready (or fails if it cannot start)."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            env = dict(os.environ)
            env.pop(MULTIPROCESS_DIR_VARIABLE, None)  # workers report no HTTP metrics
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mvi.serving.pool.worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno(),
                stderr=sys.stderr.fileno(),
                cwd=os.getcwd(),
                env=env,
            )
        finally:
            theirs.close()
        self.started = loop.create_future()
        connection = self.connection = _WorkerConnection(self)
        await loop.create_unix_connection(lambda: connection, sock=ours)
        self.send([framing.BOOT, self.pool.boot_info()])

    def send(self, frame: list[Any]) -> None:
        if self.connection is not None and self.connection.transport is not None:
            self.connection.transport.writelines(framing.encode_frame(frame))

    def received(self, frame: list[Any]) -> None:
        kind = frame[0]
        if kind in (framing.RESULT, framing.ERROR):
            future = self.calls.pop(frame[1], None)
            if future is None or future.done():
                return
            if kind == framing.RESULT:
                future.set_result(frame[2])
            else:
                _, _, status, detail, headers, error_id = frame
                headers = [(str(k), str(v)) for k, v in headers]
                future.set_exception(CallFailed(status, detail, headers, error_id))
        elif kind == framing.READY:
            self.ready = True
            if self.started is not None and not self.started.done():
                self.started.set_result(None)
            self.pool.worker_ready(self)
        elif kind == framing.FAILED and self.started is not None and not self.started.done():
            self.started.set_exception(
                ConfigurationError(
                    f"A worker of entrypoint {self.pool.entrypoint.name!r} could not "
                    f"start: {frame[1]} (its traceback is in the log above)"
                )
            )

    async def call(self, call_id: int, items: list[dict[str, Any]]) -> list[Any]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.calls[call_id] = future
        self.busy = True
        try:
            self.send([framing.CALL, call_id, items])
            return await future
        finally:
            self.busy = False
            self.calls.pop(call_id, None)

    def lost(self) -> None:
        """The socket closed: the process died or is exiting."""
        self.ready = False
        calls, self.calls = self.calls, {}
        for future in calls.values():
            if not future.done():
                future.set_exception(
                    Overloaded(
                        "The worker process running this call stopped; retry",
                        self.pool.retry_after(),
                    )
                )
        if self.started is not None and not self.started.done():
            if self.pool.closing:
                self.started.cancel()
            else:
                self.started.set_exception(
                    ConfigurationError(
                        f"A worker of entrypoint {self.pool.entrypoint.name!r} exited while "
                        "starting (its error is in the log above)"
                    )
                )
        self.pool.worker_lost(self)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    async def reap(self, grace: float) -> None:
        """Wait for the process to end (killing it after ``grace`` seconds)."""
        proc = self.proc
        if proc is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, proc.wait), grace)
        except TimeoutError:
            proc.kill()
            await loop.run_in_executor(None, proc.wait)


class WorkerPool:
    """``size`` worker processes running one entrypoint; a dispatcher backend."""

    def __init__(
        self,
        entrypoint: Entrypoint,
        size: int,
        parameters: ParameterSet,
        *,
        start_timeout: float,
        on_ready: Callable[[], None] = lambda: None,
        on_restart: Callable[[], None] = lambda: None,
        retry_after: Callable[[], int] = lambda: 1,
    ) -> None:
        self.entrypoint = entrypoint
        self.slots = size
        self.parameters = parameters
        self.start_timeout = start_timeout
        self.on_ready = on_ready
        self.on_restart = on_restart
        self.retry_after = retry_after
        self.workers = [_WorkerHandle(self, i) for i in range(size)]
        self._ids = itertools.count()
        self.closing = False
        self._failures = [0] * size
        self._restarts: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def boot_info(self) -> dict[str, Any]:
        """What a new worker needs to find and run the entrypoint."""
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        module, qualname = self.entrypoint.locator
        return {
            "name": self.entrypoint.name,
            "module": module,
            "qualname": qualname,
            "batched": self.entrypoint.serving.batched,
            "main_path": getattr(main, "__file__", None),
            "main_name": spec.name if spec is not None and spec.name != "__main__" else None,
            "parent": os.getpid(),
            "parameters": _encoded(self.parameters),
        }

    async def start(self) -> None:
        """Start every worker and wait until each has loaded the entrypoint.

        Raises :class:`mvi.ConfigurationError` if one cannot start (import error, a
        failing ``__init__``), after stopping the others.
        """
        self._loop = asyncio.get_running_loop()
        self.parameters.on_change(self._parameter_changed, replicated=True)
        try:
            for worker in self.workers:
                await worker.spawn()
            async with asyncio.timeout(self.start_timeout):
                outcomes = await asyncio.gather(
                    *(w.started for w in self.workers if w.started), return_exceptions=True
                )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        except TimeoutError:
            await self.close()
            raise ConfigurationError(
                f"The workers of entrypoint {self.entrypoint.name!r} were not ready after "
                f"{self.start_timeout:g} s (MVI_WORKER_START_TIMEOUT)"
            ) from None
        except BaseException:
            await self.close()
            raise
        logger.info(
            "Entrypoint %s: %d worker processes ready (pids %s)",
            self.entrypoint.name,
            self.slots,
            ", ".join(str(w.pid) for w in self.workers),
        )

    def ready(self) -> int:
        """Workers that are up (running a batch or not)."""
        return sum(1 for worker in self.workers if worker.ready)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.pid for w in self.workers if w.ready and w.pid is not None]

    async def run(self, items: list[dict[str, Any]]) -> list[Any]:
        """Run one batch on an idle worker; the results in order."""
        for worker in self.workers:
            if worker.ready and not worker.busy:
                results = await worker.call(next(self._ids), items)
                if len(results) != len(items):  # a worker out of step: never mix answers
                    raise CallFailed(500, "Internal server error")
                return results
        raise Overloaded("No worker process is free; retry", self.retry_after())

    def worker_ready(self, worker: _WorkerHandle) -> None:
        self._failures[worker.index] = 0
        self.on_ready()

    def worker_lost(self, worker: _WorkerHandle) -> None:
        if self.closing:
            return
        attempt = self._failures[worker.index]
        self._failures[worker.index] += 1
        delay = _BACKOFF[min(attempt, len(_BACKOFF) - 1)]
        logger.warning(
            "Worker %s of entrypoint %s stopped; starting another in %.1f s",
            worker.pid,
            self.entrypoint.name,
            delay,
        )
        self.on_ready()  # the dispatcher may have batches to fail or reschedule
        if self.workers[worker.index] is worker and self._loop is not None:
            task = self._loop.create_task(self._restart(worker, delay))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)

    async def _restart(self, old: _WorkerHandle, delay: float) -> None:
        await old.reap(_STOP_GRACE)
        if delay:
            await asyncio.sleep(delay)
        if self.closing:
            return
        new = _WorkerHandle(self, old.index)
        self.workers[old.index] = new
        self.on_restart()
        try:
            await new.spawn()
            assert new.started is not None
            async with asyncio.timeout(self.start_timeout):
                await new.started
        except Exception as exc:
            logger.error("Worker of entrypoint %s failed to restart: %s", self.entrypoint.name, exc)
            new.kill()

    def _parameter_changed(self, parameter: Parameter) -> None:
        loop = self._loop
        if loop is None or self.closing:
            return
        try:
            update = {parameter.name: parameter.encode()}
        except Exception:
            return  # a value with no JSON form stays in this process
        loop.call_soon_threadsafe(self._broadcast, update)

    def _broadcast(self, update: dict[str, bytes]) -> None:
        for worker in self.workers:
            worker.send([framing.PARAMS, update])

    def kill(self) -> None:
        """Kill every worker at once (their event loop is gone: nothing to wait on)."""
        self.closing = True
        for worker in self.workers:
            worker.kill()
            if worker.proc is not None:
                try:
                    worker.proc.wait(_STOP_GRACE)
                except subprocess.TimeoutExpired:
                    logger.warning("Worker %s did not exit after SIGKILL", worker.pid)

    async def close(self) -> None:
        """Stop every worker: close its socket, wait, kill after a grace period."""
        self.closing = True
        for task in list(self._restarts):
            task.cancel()
        for worker in self.workers:
            if worker.connection is not None and worker.connection.transport is not None:
                worker.connection.transport.close()
        await asyncio.gather(*(w.reap(_STOP_GRACE) for w in self.workers))


def _encoded(parameters: ParameterSet) -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    for parameter in parameters:
        try:
            values[parameter.name] = parameter.encode()
        except Exception:
            continue
    return values
