"""What a service's own tests use: ``patch`` and an in-process HTTP client.

``patch`` is :func:`unittest.mock.patch` (the original SDK's ``mvi.testing.patch``): patch
``notify`` or ``call_service`` where the service module looks them up::

    from mvi.testing import ServiceClient, patch

    import service  # the project's service.py

    def test_world_is_refused_with_a_warning():
        with patch("service.notify") as notify:
            assert service.hello("World") == "Greeting failed"
        notify.assert_called_once()

    def test_hello_over_http_without_a_port():
        with ServiceClient(service.service) as client:
            assert client.post("/hello", json={"name": "Bob"}).json() == "Hello Bob"

:class:`ServiceClient` serves the service in this process, through the very ASGI
application that ``service.run()`` gives uvicorn (root path, lean entrypoint path, FastAPI
routes and all), with the service's startup and shutdown run around the ``with`` block.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

import anyio
import anyio.from_thread
import httpx

from mvi._exceptions import ServingError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message

    from mvi.serving.service import Service

__all__ = ["ServiceClient", "patch"]


@contextlib.asynccontextmanager
async def _lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run ``app``'s ASGI lifespan: startup on entry, shutdown on exit (as uvicorn does)."""
    to_app, app_inbox = anyio.create_memory_object_stream[Any](2)
    app_outbox, from_app = anyio.create_memory_object_stream[Any](2)
    failure: list[BaseException] = []
    stopped = anyio.Event()

    async def run() -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        try:
            await app(scope, app_inbox.receive, app_outbox.send)
        except Exception as exc:  # reported by step(), with the failure message the app sent
            failure.append(exc)
        finally:
            app_outbox.close()
            stopped.set()

    async def step(kind: str) -> ServingError | None:
        await to_app.send({"type": f"lifespan.{kind}"})
        try:
            message: Message = await from_app.receive()
        except anyio.EndOfStream:
            message = {"type": f"lifespan.{kind}.failed"}
        if message["type"] == f"lifespan.{kind}.complete":
            return None
        await stopped.wait()  # the app raises right after sending the failure
        cause = failure[0] if failure else None
        text = f"{type(cause).__name__}: {cause}" if cause else message.get("message", "")
        error = ServingError(f"The service's {kind} failed: {text or 'the app stopped'}")
        error.__cause__ = cause
        return error

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        error = await step("startup")
        if error is None:
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    error = await step("shutdown")
    if error is not None:
        raise error


class _PortalTransport(httpx.BaseTransport):
    """Sends each request to an ASGI app running in an event loop in another thread."""

    def __init__(self, app: ASGIApp, raise_app_exceptions: bool) -> None:
        self.asgi = httpx.ASGITransport(app, raise_app_exceptions=raise_app_exceptions)
        self.app = app
        self._stack: contextlib.ExitStack | None = None
        self._portal: anyio.from_thread.BlockingPortal | None = None

    def __enter__(self) -> _PortalTransport:
        if self._stack is not None:
            raise RuntimeError("This ServiceClient is serving already; enter it once")
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
            stack.enter_context(portal.wrap_async_context_manager(_lifespan(self.app)))
            self._stack, self._portal = stack.pop_all(), portal
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        stack, self._stack, self._portal = self._stack, None, None
        if stack is not None:
            stack.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        portal = self._portal
        if portal is None:
            raise RuntimeError(
                "The service is not started: use the client in a `with ServiceClient(service) "
                "as client:` block, which runs the service's startup and shutdown"
            )
        body = request.read()
        status, headers, content = portal.call(self._send, request, body)
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _send(
        self, request: httpx.Request, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )
        response = await self.asgi.handle_async_request(forwarded)
        content = await response.aread()
        return response.status_code, response.headers.raw, content


class ServiceClient(httpx.Client):
    """An ``httpx.Client`` of a service served in this process, without a port.

    Use it as a context manager: entering runs the service's startup (class entrypoints
    load their models, worker processes start, periodic jobs begin), leaving runs its
    shutdown. Paths are relative to the service's root (``MVI_SERVICE_ROOT_PATH``), as
    with a running service: ``client.post("/hello", json={...})``.

    ``service`` defaults to ``mvi.service``. With ``raise_app_exceptions`` (the default)
    an exception that escapes a route of your own is raised in the test rather than
    answered with 500 (entrypoints answer their errors as a server would). Other keyword
    arguments are ``httpx.Client``'s (``headers``, ``timeout``, ``follow_redirects``, ...).
    """

    def __init__(
        self,
        service: Service | None = None,
        *,
        base_url: str = "http://testserver",
        raise_app_exceptions: bool = True,
        **kwargs: Any,
    ) -> None:
        from mvi.serving.app import ServiceApp
        from mvi.serving.service import default_service

        service = default_service() if service is None else service
        self.service = service
        self.app = ServiceApp(service, service.app, reraise=raise_app_exceptions)
        root = service.settings.service_root_path
        transport = _PortalTransport(self.app, raise_app_exceptions)
        super().__init__(base_url=base_url.rstrip("/") + root, transport=transport, **kwargs)
