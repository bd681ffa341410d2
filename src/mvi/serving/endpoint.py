"""The request path of one entrypoint, as a plain ASGI callable.

Bytes in, bytes out: the body is read with a size limit and validated straight from its
bytes (JSON, ``.npy`` or msgpack: :mod:`mvi.serving.codec`), a cached
answer is sent if there is one, the call is admitted (or refused with 503), run where the
entrypoint's options say, and the answer is encoded once in the format the caller
accepts. FastAPI's routing serves the same callable (so ``service.app`` behaves the same
under a test client), while the service's own ASGI front door calls it directly.

Where a call runs:

- an async function, unbatched, in this process: awaited on the event loop;
- a plain ``def``, unbatched, in this process: inline or in a thread
  (:mod:`mvi.serving.engine.execution`);
- batched or in worker processes: through the entrypoint's waiting line
  (:mod:`mvi.serving.engine.dispatcher`).

Every call has the entrypoint's ``timeout`` from its arrival: past it the caller gets 504
and the call is cancelled (an async function), skipped (not started yet) or its result
dropped (a thread or a worker cannot be interrupted; its slot stays taken until it ends).
A caller that disconnects while its call waits in a line or for a thread has the call
skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from mvi._exceptions import BodyTooLarge, CallFailed, ClientDisconnected, Overloaded
from mvi.serving.cache import AnswerStore, MemoryStore, RedisStore, cache_key
from mvi.serving.codec import (
    JSON_TYPE,
    KEEP_ARRAYS,
    EntrypointCodec,
    encode_json,
    validation_errors,
)
from mvi.serving.engine.admission import Admission
from mvi.serving.engine.batching import BatchPolicy
from mvi.serving.engine.deadlines import Deadlines
from mvi.serving.engine.dispatcher import Dispatcher, Job, LocalBackend
from mvi.serving.engine.execution import ExecutionPolicy
from mvi.serving.engine.failures import failure
from mvi.serving.http import (
    JSON,
    json_body,
    read_body,
    request_headers,
    send_response,
)
from mvi.serving.tensor import pack, unpack

if TYPE_CHECKING:
    from mvi.sdk.entrypoint import Entrypoint
    from mvi.serving.pool.pool import WorkerPool
    from mvi.serving.service import Service

__all__ = ["EntrypointEndpoint", "encode_json", "validation_errors"]

logger = logging.getLogger("mvi.monitoring")

_THREADS = 40
_TIMEOUT, _DISCONNECT = "timeout", "disconnect"


def _timed(func: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = func(**kwargs)
    return result, time.perf_counter() - started


class EntrypointEndpoint:
    """ASGI callable answering ``POST {root}/{entrypoint}``."""

    def __init__(self, entrypoint: Entrypoint, service: Service) -> None:
        self.entrypoint = entrypoint
        self.service = service
        self.name = entrypoint.name
        self._monitored = (f"{self.name}_request", f"{self.name}_response")
        self.status_code = entrypoint.status_code
        settings = service.settings
        self.limit = settings.max_body_bytes
        options = entrypoint.serving
        self.options = options
        self.execution = ExecutionPolicy(options.execution)  # type: ignore[arg-type]
        if options.workers:
            slots = options.workers
        elif options.batched:
            slots = 1
        else:
            slots = _THREADS
        self.admission = Admission(options.max_queue, slots=slots)
        self.deadlines: Deadlines[asyncio.Task[Any]] = Deadlines(options.timeout)
        self.queued = options.batched or options.workers > 0
        self.codec = EntrypointCodec(entrypoint)
        self.cache: AnswerStore | None = None
        self.func: Callable[..., Any] | None = None if entrypoint.is_class else entrypoint.func
        self.dispatcher: Dispatcher | None = None
        self.pool: WorkerPool | None = None
        self._backend: LocalBackend | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._cancelled: dict[asyncio.Task[Any], str] = {}
        self._registry: object = None
        self._bind_metrics()

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def started(self) -> bool:
        """Whether this endpoint is ready to serve on the running event loop."""
        return self._loop is not None

    async def start(self) -> None:
        """Build the class instance, start worker processes and the waiting line, open
        the cache (done at startup; a request that finds it undone does it)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None:  # served again on another loop (a new test client)
            self._abandon()
        starting = self._starting
        if starting is None or starting[0] is not loop:
            starting = self._starting = (loop, asyncio.Lock())
        async with starting[1]:
            if self._loop is loop:
                return
            await self._start()
            self._loop = loop

    async def ready(self) -> None:
        """Start (on the running event loop) unless started there already."""
        if self._loop is not asyncio.get_running_loop():
            await self.start()

    @property
    def threads(self) -> ThreadPoolExecutor | None:
        """The threads a plain ``def`` (or a generator) runs in, once started."""
        return self._threads

    def _abandon(self) -> None:
        """Drop what belonged to an event loop that is gone (no awaiting on it)."""
        self._loop = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._cancelled.clear()
        self.deadlines = Deadlines(self.options.timeout)
        self.dispatcher = None
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.kill()
        for executor in (self._threads, self._backend.thread if self._backend else None):
            if executor is not None:
                executor.shutdown(wait=False)
        self._threads = self._backend = None
        self.cache = None
        if self.entrypoint.is_class:
            self.func = None

    async def _start(self) -> None:
        entrypoint, options, settings = self.entrypoint, self.options, self.service.settings
        loop = asyncio.get_running_loop()
        if options.workers:
            from mvi.serving.pool.pool import WorkerPool

            self.pool = WorkerPool(
                entrypoint,
                options.workers,
                self.service.parameters,
                start_timeout=settings.worker_start_timeout,
                on_ready=self._pump,
                on_restart=lambda: self._worker_restarts.inc(),
                retry_after=self.admission.retry_after,
            )
            await self.pool.start()
            backend: Any = self.pool
        else:
            if self.func is None:
                self.func = await loop.run_in_executor(None, entrypoint.load)
            if options.batched:
                self._backend = LocalBackend(
                    self.name, self.func, batched=True, execution=self.execution
                )
                backend = self._backend
            elif not entrypoint.is_async:
                self._threads = ThreadPoolExecutor(_THREADS, f"mvi-{self.name}")
        if self.queued:
            policy = BatchPolicy(options.batch_size or 1, options.wait, backend.slots)
            self.dispatcher = Dispatcher(policy, backend, self.admission, self._batch_observed)
        if options.cached:
            if settings.cache_url:
                prefix = f"{settings.cache_prefix}:{settings.service_name}"
                prefix += f":{settings.service_version}"
                self.cache = RedisStore(settings.cache_url, prefix, options.ttl)
            else:
                self.cache = MemoryStore(options.cache_size, options.ttl)

    async def stop(self) -> None:
        """Stop workers and threads; the next call (or :meth:`start`) starts them again."""
        self._loop = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dispatcher, self.dispatcher = self.dispatcher, None
        if dispatcher is not None:
            await dispatcher.close()
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.close()
        threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=False)
        cache, self.cache = self.cache, None
        if cache is not None:
            await cache.close()
        if self.entrypoint.is_class:
            self.func = None

    def _pump(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.pump()

    # -- metrics -------------------------------------------------------------------------
    def _bind_metrics(self) -> None:
        """Fetch the labelled metric children once (again after a registry switch)."""
        metrics = self.service.metrics
        name = self.name
        self._registry = metrics.registry
        self._tally = metrics.tally(name)
        self._queue_depth = metrics.queue_depth.labels(name)
        self._rejected = metrics.rejected.labels(name)
        self._timed_out = metrics.timed_out.labels(name)
        self._batch_sizes = metrics.batch_size.labels(name)
        self._worker_restarts = metrics.worker_restarts.labels(name)
        self._cache_hits = metrics.cache_hits.labels(name)
        self._cache_misses = metrics.cache_misses.labels(name)

    def _batch_observed(self, size: int) -> None:
        self._batch_sizes.observe(size)
        self._queue_depth.set(self.admission.waiting)

    # -- the request path ----------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if self.service.metrics.registry is not self._registry:
            self._bind_metrics()
        tally = self._tally
        tally.started()
        try:
            if self.entrypoint.is_stream:
                from mvi.serving.streaming import serve_stream

                status = await serve_stream(self, scope, receive, send)
            else:
                status, body, content_type, headers = await self.answer(scope, receive)
                await send_response(send, status, body, content_type, headers)
        except ClientDisconnected:
            status = 499  # nginx's "client closed request": nobody is left to answer
        except BaseException:
            tally.abandoned()
            raise
        tally.answered(status, time.perf_counter() - started)

    async def call(self, data: Any) -> Any:
        """One call with ``data``, the keyword arguments as plain values (a mapping, as
        msgpack or the socket RPC carry it; ``None`` for none): validated by the same
        request model, through the same cache, admission, batching, worker processes and
        deadline as over HTTP. The result comes back as plain values (arrays kept); every
        refusal is a :class:`~mvi._exceptions.CallFailed` with the status HTTP would answer.
        """
        started = time.perf_counter()
        if self.service.metrics.registry is not self._registry:
            self._bind_metrics()
        tally = self._tally
        tally.started()
        status = self.status_code
        try:
            if self._loop is not asyncio.get_running_loop():  # ready(), without its await
                await self.start()
            codec = self.codec
            request = codec.validate(data)
            key = None
            if self.cache is not None:
                key = self._key(request, "rpc")
                hit = await self.cache.get(key)
                if hit is not None:
                    self._cache_hits.inc()
                    return unpack(hit)
                self._cache_misses.inc()
            result = await self._run(request, None)
            value = codec.to_python(result)
            if key is not None and self.cache is not None:
                with contextlib.suppress(TypeError, ValueError):  # not msgpack-able: not kept
                    await self.cache.set(key, pack(value))
            if self.entrypoint.monitor:
                await self.monitor(request, encode_json(codec.to_json(result)))
            return value
        except CallFailed as failed:
            status = failed.status
            raise
        finally:
            tally.answered(status, time.perf_counter() - started)

    async def monitor(self, request: BaseModel, response: bytes) -> None:
        """Queue one call's arguments and answer (JSON) to be stored; durable: until committed."""
        store = self.service.monitoring
        try:
            arguments = type(request).__pydantic_serializer__.to_json(request)
            sequence = store.put_call(self._monitored, arguments, response)
        except Exception:  # monitoring never fails a call that succeeded
            logger.exception("Monitoring the call of %r failed", self.name)
            return
        if store.durable:  # answer once the records are committed
            await store.committed(sequence)

    async def answer(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
        """Status, body, content type and extra headers of the answer to one request."""
        try:
            await self.ready()
            headers = request_headers(scope)
            try:
                raw = await read_body(scope, receive, self.limit, headers.content_length)
            except BodyTooLarge:
                raise CallFailed(413, f"Request body is over the {self.limit}-byte limit") from None
            codec = self.codec
            answer = codec.negotiate(headers.accept)
            request = codec.decode(raw, headers.content_type)
            entrypoint = self.entrypoint
            key = None
            if self.cache is not None:
                key = self._key(request, answer)
                hit = await self.cache.get(key)
                if hit is not None:
                    self._cache_hits.inc()
                    return self.status_code, hit, answer.encode(), []
                self._cache_misses.inc()
            result = await self._run(request, receive)
            body = codec.encode(result, answer)
            if key is not None and self.cache is not None:
                await self.cache.set(key, body)
            if entrypoint.monitor:  # the JSON texts as they are: nothing parsed or encoded again
                try:
                    response = body if answer == JSON_TYPE else encode_json(codec.to_json(result))
                except Exception:  # monitoring never fails a call that succeeded
                    logger.exception("Monitoring the call of %r failed", entrypoint.name)
                else:
                    await self.monitor(request, response)
            return self.status_code, body, answer.encode() if answer != JSON_TYPE else JSON, []
        except CallFailed as failed:
            extra = {"error_id": failed.error_id} if failed.error_id else {}
            raw_headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in failed.headers
            ]
            return failed.status, json_body(failed.detail, **extra), JSON, raw_headers

    def _key(self, request: BaseModel, answer: str) -> str:
        arguments = request.model_dump(context=KEEP_ARRAYS)
        return f"{cache_key(self.name, arguments)}:{answer.rsplit('/', 1)[-1]}"

    # -- running the call ------------------------------------------------------------------------
    def admit(self) -> None:
        """Take a place in the entrypoint's line (give it back with
        ``admission.abandon()``), or raise :class:`Overloaded` (503) when it is full."""
        admission = self.admission
        if not admission.admit():
            self._rejected.inc()
            raise Overloaded(
                f"Entrypoint {self.name!r} has {admission.max_queue} calls waiting; retry later",
                admission.retry_after(),
            )

    async def _run(self, request: BaseModel, receive: Receive | None) -> Any:
        admission = self.admission
        self.admit()
        if self.queued:
            return await self._run_queued(request, receive)
        kwargs = self.entrypoint.arguments(request)
        func = self.func
        assert func is not None
        try:
            if self.entrypoint.is_async:
                return await self._guarded(func(**kwargs), None)
            policy = self.execution
            if policy.inline:
                started = time.perf_counter()
                try:
                    return func(**kwargs)
                finally:
                    policy.record(time.perf_counter() - started)
            assert self._threads is not None
            future = asyncio.get_running_loop().run_in_executor(
                self._threads, functools.partial(_timed, func, kwargs)
            )
            result, took = await self._guarded(future, receive)
            policy.record(took)
            return result
        except ClientDisconnected:
            raise
        except Exception as exc:
            raise failure(self.name, exc) from None
        finally:
            admission.abandon()

    async def _run_queued(self, request: BaseModel, receive: Receive | None) -> Any:
        arguments = (
            request.model_dump(context=KEEP_ARRAYS)
            if self.pool is not None
            else self.entrypoint.arguments(request)
        )
        loop = asyncio.get_running_loop()
        job = Job(arguments, loop.create_future(), loop.time())
        dispatcher = self.dispatcher
        assert dispatcher is not None
        try:
            dispatcher.submit(job)
            self._queue_depth.set(self.admission.waiting)
            return await self._guarded(job.future, receive)
        finally:
            if not job.started:
                self.admission.abandon()
                self._queue_depth.set(self.admission.waiting)

    async def _guarded(self, awaitable: Any, receive: Receive | None) -> Any:
        """Await the call under the entrypoint's deadline (and, with ``receive``, watch
        for the client leaving); 504 past the deadline."""
        loop = self._loop
        assert loop is not None
        task = asyncio.current_task(loop)
        assert task is not None
        due = self.deadlines.add(task, loop.time())
        if self._timer is None:
            self._timer = loop.call_at(due, self._expire)
        watch = loop.create_task(self._watch(receive, task)) if receive is not None else None
        try:
            return await awaitable
        except asyncio.CancelledError:
            reason = self._cancelled.pop(task, None)
            if reason is None:
                raise
            task.uncancel()
            if reason == _DISCONNECT:
                raise ClientDisconnected from None
            self._timed_out.inc()
            raise CallFailed(
                504, f"Entrypoint {self.name!r} took over {self.options.timeout:g} s"
            ) from None
        finally:
            self.deadlines.discard(task)
            if watch is not None:
                watch.cancel()
            if self._cancelled.pop(task, None) is not None:
                task.uncancel()  # cancelled as the call ended: nothing left to interrupt

    def _expire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        for task in self.deadlines.expire(loop.time()):
            self._cancelled.setdefault(task, _TIMEOUT)
            task.cancel()
        due = self.deadlines.next_due()
        if due is not None:
            self._timer = loop.call_at(due, self._expire)

    async def _watch(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        while True:
            try:
                message = await receive()
            except Exception:  # a server that refuses a second receive: stop watching
                return
            if message["type"] == "http.disconnect":
                if task in self.deadlines:
                    self._cancelled.setdefault(task, _DISCONNECT)
                    task.cancel()
                return
