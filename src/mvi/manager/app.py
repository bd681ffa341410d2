"""The manager's ASGI application: the REST API, its docs, and the gateway.

:func:`create_app` builds it for one set of settings. At start (the lifespan) it takes the
data directory's lock, migrates the registry (``alembic upgrade head``), and reconciles the
registry with the processes it finds; at stop it stops the services (or leaves them for the
next manager) and releases everything. ``/services/...`` goes straight to the gateway,
everything else to FastAPI.

Every request first passes the :class:`~mvi.manager.auth.guard.Guard` (a valid token, unless the
manager runs with ``--no-auth``). At its first start the manager makes its signing secret
and the ``admin`` user, whose random password it prints once on stderr (never to the log),
unless ``MVI_ADMIN_PASSWORD`` gives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime

from fastapi import Depends, FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.types import Message, Receive, Scope, Send

from mvi._exceptions import (
    BuildFailed,
    ManagerError,
    NotAuthenticated,
    PermissionDenied,
)
from mvi._version import __version__
from mvi.manager import migrations
from mvi.manager.api import api_router
from mvi.manager.auth.credentials import ADMIN, Authority, load_or_create_secret
from mvi.manager.auth.csrf import CsrfTokens
from mvi.manager.auth.guard import Guard, challenge
from mvi.manager.auth.login_limiter import LoginLimiter
from mvi.manager.dashboard import install_dashboard
from mvi.manager.fleet.operations import Fleet
from mvi.manager.gateway.proxy import Gateway
from mvi.manager.gateway.routing import PREFIX, RoutingTable
from mvi.manager.layout import DataDir, DataDirLock
from mvi.manager.notifications.mailer import Mailer, SmtpConfig
from mvi.manager.notifications.notifier import Notifier
from mvi.manager.notifications.rules import CrashLoopDetector
from mvi.manager.notifications.store import NotificationStore
from mvi.manager.origins import own_origins, relative_location
from mvi.manager.registry import Registry, create_registry_engine
from mvi.manager.supervision.states import Status
from mvi.manager.supervision.supervisor import StatusEvent
from mvi.serving.docs import install_docs
from mvi.serving.http import validation_failed
from mvi.settings import Settings, get_settings

__all__ = ["ManagerApp", "create_app", "manager_url"]

logger = logging.getLogger("mvi.manager")


def manager_url(settings: Settings) -> str:
    """The URL services reach this manager at."""
    host = settings.manager_host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.manager_port}"


async def _manager_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ManagerError)
    body: dict[str, object] = {"detail": exc.message}
    if isinstance(exc, BuildFailed):
        body["lines"] = exc.lines
    headers = challenge(exc) if isinstance(exc, NotAuthenticated | PermissionDenied) else None
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def _announce_password(password: str, url: str) -> None:
    """Show a new admin password once, on stderr (the log file never gets it)."""
    rule = "=" * 72
    sys.stderr.write(
        f"\n{rule}\n"
        f"  The manager made the user '{ADMIN}' with this password (shown only now):\n\n"
        f"      {password}\n\n"
        f"  Log in with:  mvi login {url}\n"
        "  (set MVI_ADMIN_PASSWORD to choose the password instead)\n"
        f"{rule}\n\n"
    )
    sys.stderr.flush()


def _warn_open(url: str) -> None:
    logger.warning(
        "AUTH IS OFF (--no-auth): anyone who can reach %s can deploy, run and kill services "
        "and read every log. Use this for local development only.",
        url,
    )


async def _start_notifier(settings: Settings, registry: Registry, url: str) -> Notifier:
    smtp = SmtpConfig.from_settings(settings, socket.gethostname())
    notifier = Notifier(
        NotificationStore(registry),
        None,
        manager_url=url,
        alert_emails=settings.manager_alert_emails,
        alert_interval=settings.manager_alert_interval,
        crash_loops=CrashLoopDetector(
            settings.manager_crash_loop_crashes, settings.manager_crash_loop_window
        ),
    )
    if smtp is not None:
        notifier.mailer = Mailer(
            smtp,
            attempts=settings.smtp_attempts,
            backoff=settings.smtp_retry_backoff,
            queue_size=settings.smtp_queue_size,
            on_failure=notifier.email_failed,
        )
        notifier.mailer.start()
        logger.info("notification emails go through %s (%s)", smtp.address, smtp.tls)
    return notifier


def _status_listener(notifier: Notifier) -> Callable[[StatusEvent], Awaitable[None]]:
    async def listen(event: StatusEvent) -> None:
        if event.status == Status.CRASHED:
            await notifier.crashed(event.name, event.version, event.since)
        elif event.status in (Status.STOPPED, Status.FAILED):
            notifier.forget(event.name, event.version)

    return listen


class ManagerApp:
    """``/services/...`` to the gateway, everything else (and the lifespan) to FastAPI.

    On the gateway's own port (``gateway_port``) only ``/services/...`` is served. A
    redirect of the API to the manager's own origin is made relative, so a forged ``Host``
    never names where the client goes.
    """

    def __init__(
        self,
        api: FastAPI,
        gateway: Gateway,
        guard: Guard | None = None,
        *,
        gateway_port: int | None = None,
        public_url: str | None = None,
    ) -> None:
        self.api = api
        self.gateway = gateway
        self.guard = guard
        self.gateway_port = gateway_port
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.guard is not None and scope["type"] != "lifespan":
            await self.guard(scope, receive, send, self._route)
            return
        await self._route(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith(PREFIX):
            await self.gateway(scope, receive, send)
            return
        server = scope.get("server") or ("", 0)
        if self.gateway_port is not None and server[1] == self.gateway_port:
            detail = f"Port {self.gateway_port} serves the gateway only (/services/...)"
            await JSONResponse({"detail": detail}, status_code=404)(scope, receive, send)
            return
        if scope["type"] == "http":
            send = self._relative_redirects(scope, send)
        await self.api(scope, receive, send)

    def _relative_redirects(self, scope: Scope, send: Send) -> Send:
        async def relative(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                own = {*own_origins(scope, self.public_url), *own_origins(scope, None)}
                headers = [
                    (key, relative_location(value, own) if key == b"location" else value)
                    for key, value in message.get("headers", ())
                ]
                message = {**message, "headers": headers}
            await send(message)

        return relative


def create_app(
    settings: Settings | None = None,
    *,
    lock: DataDirLock | None = None,
    api_dependencies: Sequence[params.Depends] = (),
) -> ManagerApp:
    """The manager for ``settings``; ``api_dependencies`` guard every ``/api`` route."""
    settings = settings or get_settings()
    layout = DataDir(settings.home.expanduser().resolve())
    guard = Guard(
        enabled=settings.manager_auth,
        public_url=settings.manager_public_url,
        gateway_port=settings.manager_gateway_port,
    )
    url = manager_url(settings)
    routes = RoutingTable()
    gateway = Gateway.from_settings(routes, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        layout.create()
        held = lock or DataDirLock.acquire(layout.lock_file)
        engine = create_registry_engine(settings.manager_db_url or layout.registry_url)
        try:
            await asyncio.to_thread(migrations.upgrade, engine)
            registry = Registry(engine)
            secret = await asyncio.to_thread(load_or_create_secret, layout.secret_file)
            authority = Authority(registry, secret)
            await asyncio.to_thread(authority.load)
            admin_password = settings.admin_password
            made = await asyncio.to_thread(
                authority.ensure_admin,
                admin_password.get_secret_value() if admin_password is not None else None,
            )
            if made is not None:
                _announce_password(made, url)
            if not settings.manager_auth:
                _warn_open(url)
            notifier = await _start_notifier(settings, registry, url)
            fleet = Fleet(
                settings,
                layout,
                registry,
                routes,
                manager_url=manager_url(settings),
                shadows=gateway.shadows,
                balancer=gateway.balancer,
                authority=authority,
            )
            fleet.status_listeners.append(_status_listener(notifier))
            app.state.settings = settings
            app.state.authority = authority
            app.state.notifier = notifier
            app.state.login_limiter = LoginLimiter(
                settings.manager_login_max_failures, settings.manager_login_window
            )
            guard.authority = authority
            guard.csrf = app.state.csrf = CsrfTokens(secret)
            app.state.fleet = fleet
            app.state.stopping = asyncio.Event()
            app.state.started_at = datetime.now(UTC)
            await fleet.startup()
            logger.info(
                "manager %s ready on %s (data in %s, registry: %s)",
                __version__,
                manager_url(settings),
                layout.root,
                engine.dialect.name,
            )
            try:
                yield
            finally:
                app.state.stopping.set()
                logger.info("manager stopping")
                await fleet.close()
                await gateway.aclose()
                if notifier.mailer is not None:
                    await notifier.mailer.close(timeout=5.0)
                guard.authority = guard.csrf = None
        finally:
            engine.dispose()
            held.release()

    api = FastAPI(
        title="mvi manager",
        version=__version__,
        description="Deploy, supervise and route to service versions. "
        "The gateway forwards /services/{name}/... to a name's main version and "
        "/services/{name}_{version}/... to exactly that version.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(api)
    api.state.gateway = gateway
    install_dashboard(api)
    api.add_exception_handler(ManagerError, _manager_error)
    api.add_exception_handler(RequestValidationError, validation_failed)
    # declares the bearer token in the OpenAPI document (the guard does the checking)
    bearer = Depends(HTTPBearer(auto_error=False, description="A token from `mvi login`."))
    api.include_router(api_router([bearer, *api_dependencies]))

    @api.get("/api/health", tags=["manager"], summary="The manager is up")
    async def health(request: Request) -> dict[str, str]:
        """``ok``, and how services are isolated from the manager's data (``isolation``:
        user, landlock or none; see docs/security.md)."""
        fleet = getattr(request.app.state, "fleet", None)
        isolation = fleet.isolation.mode if fleet is not None else "unknown"
        return {"status": "ok", "isolation": str(isolation)}

    return ManagerApp(
        api,
        gateway,
        guard,
        gateway_port=settings.manager_gateway_port,
        public_url=settings.manager_public_url,
    )
