"""The main program of an entrypoint's worker process (``python -m mvi.serving.pool.worker FD``).

The service process starts it with one end of a UNIX socket pair as file descriptor FD
and sends a boot frame: where to import the entrypoint from, and the service's parameter
values. The worker imports the module that defines the entrypoint (the service's script
runs again under the name ``__mp_main__``, so its ``if __name__ == "__main__":`` block does
not), finds the decorated function or class by its qualified name, builds the class
instance (the model loads here, once per worker), answers ``ready``, then serves calls one
at a time until the socket closes. Frames are :mod:`mvi.transport.framing`'s (msgpack,
arrays as raw ``.npy`` buffers); nothing is pickled.

The worker dies with its service: it asks Linux for SIGKILL when its parent dies, and a
closed socket ends it too.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import logging
import os
import runpy
import signal
import socket
import sys
import types
from typing import Any

from mvi.sdk.definition import ServiceDefinition
from mvi.transport.framing import (
    BOOT,
    CALL,
    ERROR,
    FAILED,
    PARAMS,
    READY,
    RESULT,
    encode_frame,
    read_frame,
    send_frame,
)

__all__ = ["in_worker", "main"]

_PR_SET_PDEATHSIG = 1
_active = False

logger = logging.getLogger("mvi.worker")


def in_worker() -> bool:
    """Whether this process is an entrypoint worker (``service.run()`` is a no-op there)."""
    return _active


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the closed socket still ends the worker
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _import_main(info: dict[str, Any]) -> types.ModuleType:
    """The service's main module, run again under the name ``__mp_main__``."""
    module = types.ModuleType("__mp_main__")
    if info.get("main_name"):
        content = runpy.run_module(info["main_name"], run_name="__mp_main__", alter_sys=True)
    elif info.get("main_path"):
        content = runpy.run_path(info["main_path"], run_name="__mp_main__")
    else:
        raise RuntimeError(
            "the service's main module has no file to import again; start the service "
            "from a script or with python -m"
        )
    module.__dict__.update(content)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module
    return module


def _find(info: dict[str, Any]) -> Any:
    """The Entrypoint that the boot frame names."""
    name, module_name, qualname = info["name"], info["module"], info["qualname"]
    if module_name in ("__main__", "__mp_main__"):
        module = _import_main(info)
    else:
        module = importlib.import_module(module_name)
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    entrypoint = getattr(found, "__mvi_entrypoint__", None)
    if entrypoint is None or entrypoint.name != name:
        raise RuntimeError(
            f"{module_name}.{qualname} is not the decorated entrypoint {name!r}: keep the "
            "function or class decorated at module level under its own name"
        )
    return entrypoint


class _WorkerLoop:
    """Serves calls from the service process over ``sock``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop: asyncio.AbstractEventLoop | None = None
        self.owners: list[ServiceDefinition] = []

    def send(self, frame: list[Any]) -> None:
        send_frame(self.sock, encode_frame(frame))

    def frames(self) -> Any:
        while (frame := read_frame(self.sock)) is not None:
            yield frame

    def serve(self) -> None:
        frames = self.frames()
        boot = next(frames, None)
        if boot is None or boot[0] != BOOT:
            return
        info = boot[1]
        _die_with_parent(info["parent"])
        try:
            entrypoint = _find(info)
            self.owners = ServiceDefinition.holding(entrypoint)
            self.apply_parameters(info.get("parameters") or {})
            func = entrypoint.load()
        except BaseException as exc:
            logger.exception("Worker for entrypoint %s could not start", info["name"])
            self.send([FAILED, f"{type(exc).__name__}: {exc}"])
            return
        self.send([READY, os.getpid()])
        for frame in frames:
            if frame[0] == CALL:
                answer = self.call(entrypoint, func, info["batched"], frame[1], frame[2])
                send_frame(self.sock, answer)
            elif frame[0] == PARAMS:
                self.apply_parameters(frame[1])

    def apply_parameters(self, values: dict[str, bytes]) -> None:
        for service in self.owners:
            for pname, raw in values.items():
                if pname in service.parameters:
                    try:
                        service.parameters.apply(pname, raw)
                    except Exception:
                        logger.exception("Worker could not take parameter %s", pname)

    def call(
        self, entrypoint: Any, func: Any, batched: bool, call_id: int, items: list[Any]
    ) -> list[bytes | memoryview]:
        """The encoded answer frame to one call frame."""
        from mvi._exceptions import CallFailed
        from mvi.serving.engine.dispatcher import batch_results, call_batch
        from mvi.serving.engine.failures import failure, internal_error

        name = entrypoint.name
        try:
            try:
                kwargs = [
                    entrypoint.arguments(entrypoint.request_model.model_validate(item))
                    for item in items
                ]
                result = call_batch(func, kwargs, batched)
                if asyncio.iscoroutine(result):
                    if self.loop is None:
                        self.loop = asyncio.new_event_loop()
                    result = self.loop.run_until_complete(result)
            except Exception as exc:
                raise failure(name, exc) from None
            results = batch_results(name, result, len(items), batched)
            adapter = entrypoint.response_adapter
            try:
                if adapter is not None:
                    results = [
                        adapter.dump_python(
                            adapter.validate_python(r), context={"keep_arrays": True}
                        )
                        for r in results
                    ]
                return encode_frame([RESULT, call_id, results])
            except Exception:
                raise internal_error(name, "returned a value that does not fit its type") from None
        except CallFailed as failed:
            frame = [ERROR, call_id, failed.status, failed.detail, failed.headers, failed.error_id]
            try:
                return encode_frame(frame)
            except Exception:  # an HTTPException detail with no wire form
                return encode_frame([ERROR, call_id, failed.status, str(failed.detail), [], None])


def main(argv: list[str] | None = None) -> None:
    """Serve one entrypoint over the socket whose descriptor is the first argument."""
    global _active
    _active = True
    args = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(args[0]))
    from mvi.settings import get_settings

    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format=f"%(asctime)s %(levelname)s [%(name)s worker {os.getpid()}] %(message)s",
        stream=sys.stderr,
    )
    # the service stops its workers itself (closing their sockets) once its in-flight calls
    # are answered; a Ctrl+C or SIGTERM sent to the whole process group must not cut them
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        _WorkerLoop(sock).serve()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()  # what the function stored for monitoring is flushed at exit


if __name__ == "__main__":
    main()
