"""The ASGI application of a service: FastAPI for users and docs, a lean front door for calls."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mvi._exceptions import (
    InvalidParameterValue,
    MonitoringUnavailable,
    TooManyRecords,
    UnknownParameter,
    UnknownVariable,
)
from mvi.sdk.routes import BODYLESS_METHODS
from mvi.serving.docs import install_docs
from mvi.serving.endpoint import EntrypointEndpoint, encode_json, validation_errors
from mvi.serving.http import JSON, json_body, send_response, validation_failed
from mvi.serving.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from mvi.monitoring import MonitoringStore
    from mvi.monitoring.selection import Selection
    from mvi.sdk.entrypoint import Entrypoint
    from mvi.serving.service import Service

__all__ = ["RUN_JOBS", "ServiceApp", "build_fastapi"]

RUN_JOBS = "mvi_run_jobs"
"""``app.state`` flag: whether this process runs the service's periodic jobs (default yes)."""

logger = logging.getLogger("mvi.serving")

T = TypeVar("T")


class ParameterUpdate(BaseModel):
    """Body of ``POST /~parameters/{name}``."""

    value: Any


class EntrypointRoute(APIRoute):
    """A FastAPI route whose documentation comes from FastAPI and whose handling is ours."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        handler: EntrypointEndpoint = kwargs.pop("handler")
        super().__init__(path, endpoint, **kwargs)
        self.app = handler


def _doc_endpoint(entrypoint: Entrypoint) -> Callable[..., Any]:
    """A stand-in endpoint whose signature tells FastAPI the body and answer types."""

    async def endpoint(body: Any) -> Any:  # never called: EntrypointRoute answers instead
        raise RuntimeError("unreachable")

    params = []
    if entrypoint.parameter_names and not BODYLESS_METHODS.issuperset(entrypoint.methods):
        params.append(
            inspect.Parameter(
                "body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=entrypoint.request_model
            )
        )
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = entrypoint.name
    endpoint.__doc__ = inspect.getdoc(entrypoint.func)
    return endpoint


_BINARY = {"schema": {"type": "string", "format": "binary"}}


def _binary_media(entrypoint: Entrypoint) -> dict[str, Any]:
    """OpenAPI for the binary bodies an entrypoint with arrays takes and answers."""
    from mvi.data_types import is_array

    takes = any(is_array(a) for a in entrypoint.annotations.values())
    answers = is_array(entrypoint.response_annotation)
    if not (takes or answers):
        return {}
    extra: dict[str, Any] = {}
    if takes:
        content = {"application/msgpack": _BINARY}
        if sum(1 for a in entrypoint.annotations.values() if is_array(a)) == 1:
            content["application/x-npy"] = _BINARY
        extra["requestBody"] = {"content": content}
    content = {"application/msgpack": _BINARY}
    if answers:
        content["application/x-npy"] = _BINARY
    extra["responses"] = {str(entrypoint.status_code): {"content": content}}
    return extra


def _merged(base: dict[str, Any] | None, extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base or {})
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def add_entrypoint_route(app: FastAPI, service: Service, entrypoint: Entrypoint) -> None:
    """Expose ``entrypoint`` on ``app`` at its path (``/{name}``) for its methods (POST)."""
    options = dict(entrypoint.options)
    if "response_model" not in options and entrypoint.response_adapter is not None:
        options["response_model"] = entrypoint.response_annotation
    options.setdefault("tags", ["entrypoints"])
    binary = _binary_media(entrypoint)
    if binary:
        options["openapi_extra"] = _merged(options.get("openapi_extra"), binary)
    handler = EntrypointEndpoint(entrypoint, service)
    route = EntrypointRoute(
        entrypoint.path,
        _doc_endpoint(entrypoint),
        methods=list(entrypoint.methods),
        handler=handler,
        **options,
    )
    app.router.routes.append(route)
    app.openapi_schema = None
    service.endpoints[entrypoint.name] = handler
    for method in entrypoint.methods:
        service.route_endpoints[(method, entrypoint.path)] = handler


_START = Query(None, description="Earliest time: ISO 8601 (no zone: UTC) or epoch seconds.")
_END = Query(None, description="Latest time (inclusive), like start.")
_VARIABLES = Query(
    None, description="Variables to read, repeated or comma-separated (default: all)."
)


async def _read_monitoring(
    service: Service,
    start: str | None,
    end: str | None,
    variables: list[str] | None,
    read: Callable[[MonitoringStore, Selection], T],
) -> T:
    """``read(store, selection)`` off the event loop, its errors as HTTP answers."""
    from mvi.monitoring.selection import Selection

    try:
        selection = Selection.parse(start, end, variables)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        return await anyio.to_thread.run_sync(lambda: read(service.monitoring, selection))
    except UnknownVariable as exc:
        raise HTTPException(
            412, f"No monitoring data is stored under {exc}; store() it first"
        ) from None
    except TooManyRecords as exc:
        raise HTTPException(422, str(exc)) from None
    except MonitoringUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None


def _system_router(service: Service) -> APIRouter:
    router = APIRouter(tags=["service"])

    # ServiceApp answers these two itself, ahead of everything else: these routes document them
    @router.get("/~health", summary="The process is alive")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/~ready", summary="Startup finished and not draining")
    async def ready() -> Response:
        status, body = _readiness(service)
        return Response(body, status, media_type="application/json")

    @router.get("/~metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @router.get("/~parameters", summary="Every parameter's value")
    async def parameters() -> Response:
        return Response(encode_json(service.parameters.values()), media_type="application/json")

    @router.get("/~parameters/{name}", summary="One parameter's value")
    async def parameter(name: str) -> Response:
        try:
            value = service.parameters.get(name).value
        except UnknownParameter as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(encode_json(value), media_type="application/json")

    @router.post(
        "/~parameters/{name}",
        summary="Change a parameter",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ParameterUpdate.model_json_schema()}},
            }
        },
    )
    async def update_parameter(name: str, request: Request) -> Response:
        try:
            update = ParameterUpdate.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(validation_errors(exc)) from None
        try:
            parameter = service.parameters.get(name)
            if not parameter.expose:
                raise HTTPException(405, f"Parameter {name!r} is not exposed for updates")
            value = service.set_parameter(name, update.value)
        except UnknownParameter as exc:
            raise HTTPException(404, str(exc)) from None
        except InvalidParameterValue as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(encode_json({"name": name, "value": value}), media_type="application/json")

    @router.get(
        "/~monitor",
        summary="Stored monitoring data",
        description='`{variable: {"timestamp": [ISO 8601 UTC, ...], "value": [...]}}`; '
        "412 for a variable with no data stored.",
    )
    async def monitor(
        start: str | None = _START,
        end: str | None = _END,
        variables: list[str] | None = _VARIABLES,
    ) -> Response:
        data = await _read_monitoring(
            service,
            start,
            end,
            variables,
            lambda store, sel: encode_json(store.query(sel.start, sel.end, sel.variables)),
        )
        return Response(data, media_type="application/json")

    @router.get(
        "/~monitor/csv",
        summary="Stored monitoring data as a zip of CSV files",
        description="One `timestamp,value` CSV file per variable; 412 for a variable with "
        "no data stored.",
        response_class=Response,
    )
    async def monitor_csv(
        start: str | None = _START,
        end: str | None = _END,
        variables: list[str] | None = _VARIABLES,
    ) -> Response:
        data = await _read_monitoring(
            service,
            start,
            end,
            variables,
            lambda store, sel: store.csv_zip(sel.start, sel.end, sel.variables),
        )
        filename = f"{service.settings.service_name}-monitoring.zip"
        return Response(
            data,
            media_type="application/zip",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    return router


_ERROR_ID = "mvi.error_id"  # scope key: the error id a 500 was answered with
_ALIVE = b'{"status":"alive"}'


def _readiness(service: Service) -> tuple[int, bytes]:
    """The status and body of ``/~ready``: 200 once started, 503 while starting or draining."""
    state = service.state
    return (200 if state == "ready" else 503), b'{"status":"%s"}' % state.encode()


def _new_error_id(what: str, exc: BaseException) -> str:
    """Log ``exc`` with its traceback under a new error id; returns the id."""
    error_id = uuid.uuid4().hex
    logger.error("%s failed [error_id=%s]", what, error_id, exc_info=exc)
    return error_id


async def internal_failure(request: Request, exc: Exception) -> Response:
    """The 500 for an exception no route handled: ``{"detail", "error_id"}``, the traceback
    logged once under that id."""
    error_id = _new_error_id(f"{request.method} {request.url.path}", exc)
    request.scope[_ERROR_ID] = error_id
    body = json_body("Internal server error", error_id=error_id)
    return Response(body, 500, media_type="application/json")


def build_fastapi(service: Service) -> FastAPI:
    """The FastAPI app users see: entrypoints, system routes, docs and their own routes."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.state = "starting"
        service.activate()
        # With several HTTP processes, only one of them runs the periodic jobs (see
        # mvi.serving.processes.supervisor); it sets this flag on the others.
        jobs = service.jobs if getattr(app.state, RUN_JOBS, True) else []
        # entrypoints first: class instances, worker processes, caches (startup fails if not)
        for endpoint in list(service.endpoints.values()):
            await endpoint.start()
        if service.rpc is not None:  # the socket RPC beside HTTP (mvi.serving.rpc)
            await service.rpc.start()
        tasks = [asyncio.create_task(job.run_forever()) for job in jobs]
        service.state = "ready"
        try:
            yield
        finally:
            service.state = "draining"
            if service.rpc is not None:
                await service.rpc.stop()
            for endpoint in list(service.endpoints.values()):
                await endpoint.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await anyio.to_thread.run_sync(service.close)

    settings = service.settings
    app = FastAPI(
        title=settings.service_name,
        version=settings.service_version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(Exception, internal_failure)
    app.include_router(_system_router(service))
    for entrypoint in service.entrypoints.values():
        add_entrypoint_route(app, service, entrypoint)
    return app


class ServiceApp:
    """The ASGI callable uvicorn serves: the root-path prefix, ``/~health`` and ``/~ready``
    answered at once (before any routing, middleware or entrypoint work, so that a service
    whose entrypoints are all busy still answers its supervisor), then a direct call for
    entrypoints when no user middleware needs to see them, else FastAPI. An exception that
    escapes either is a JSON 500 carrying its ``error_id``, never a plain-text one; with
    ``reraise`` (for in-process tests) it is raised again after that answer."""

    def __init__(self, service: Service, app: FastAPI, *, reraise: bool = False) -> None:
        self.service = service
        self.reraise = reraise
        self.app: ASGIApp = app
        self.fastapi = app
        self.root = service.settings.service_root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root = self.root
            route = path
            if root and (path == root or path.startswith(root + "/")):
                scope["root_path"] = root
                route = path[len(root) :]
            method = scope["method"]
            if method == "GET" and route[:2] == "/~":
                if route == "/~health":
                    await send_response(send, 200, _ALIVE, JSON, [])
                    return
                if route == "/~ready":
                    status, body = _readiness(self.service)
                    await send_response(send, status, body, JSON, [])
                    return
            if not self.fastapi.user_middleware:
                endpoint = self.service.route_endpoints.get((method, route or "/"))
                if endpoint is not None:
                    try:
                        await endpoint(scope, receive, send)
                    except Exception as exc:
                        await self._failed(scope, send, exc)
                        if self.reraise:
                            raise
                    return
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                await self._failed(scope, send, exc)
                if self.reraise:
                    raise
            return
        await self.app(scope, receive, send)

    async def _failed(self, scope: Scope, send: Send, exc: Exception) -> None:
        """Answer 500 with an error id for ``exc``, unless an answer has begun already."""
        if _ERROR_ID in scope:
            return  # internal_failure answered and logged it
        error_id = _new_error_id(f"{scope['method']} {scope['path']}", exc)
        body = json_body("Internal server error", error_id=error_id)
        with contextlib.suppress(Exception):  # the answer had begun: nothing more to say
            await send_response(send, 500, body, JSON, [])
