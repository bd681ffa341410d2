"""``mvi manager start``: run the manager (REST API, gateway, supervisor) in the foreground."""

from __future__ import annotations

import logging
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from mvi._exceptions import ConfigurationError
from mvi.cli._app import app, fail
from mvi.settings import get_settings

__all__ = ["manager_app", "start"]

manager_app = typer.Typer(
    name="manager",
    help="Run the manager: deploys, supervises and routes to service versions.",
    no_args_is_help=True,
)
app.add_typer(manager_app)


@manager_app.command()
def start(
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to listen on [MVI_MANAGER_HOST; 127.0.0.1].", show_default=False
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Port of the API and gateway [MVI_MANAGER_PORT; 8000].",
            show_default=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the registry, services, environments and logs live [MVI_HOME; ~/.mvi].",
            show_default=False,
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Serve without tokens: anyone who can reach the port may do anything. "
            "For local development only [MVI_MANAGER_AUTH=false].",
        ),
    ] = False,
) -> None:
    """Start the manager and serve until SIGTERM or Ctrl-C (its services stop with it).

    A manager that is killed leaves its services running; the next one adopts them.
    """
    import uvicorn

    from mvi.manager.app import DataDirLock, create_app
    from mvi.manager.layout import DataDir
    from mvi.manager.supervision.logs import configure_manager_logging

    settings = get_settings()
    updates: dict[str, Any] = {}
    if host is not None:
        updates["manager_host"] = host
    if port is not None:
        updates["manager_port"] = port
    if data_dir is not None:
        updates["home"] = data_dir
    if no_auth:
        updates["manager_auth"] = False
    settings = settings.model_copy(update=updates)
    if settings.manager_port == 0:
        fail("The manager needs a fixed port (services are told where it is); use --port N")
    layout = DataDir(settings.home.expanduser().resolve())
    try:
        layout.create()
        lock = DataDirLock.acquire(layout.lock_file)
    except ConfigurationError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"Cannot use {layout.root} as the data directory ({exc}); choose another --data-dir")
    configure_manager_logging(
        layout.manager_log, settings.manager_log_max_bytes, settings.manager_log_backups
    )
    config = uvicorn.Config(
        create_app(settings, lock=lock),
        host=settings.manager_host,
        port=settings.manager_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
        proxy_headers=False,  # the gateway adds X-Forwarded-* itself, from the real peer
    )
    server = _Server(config)
    try:
        server.run()
    finally:
        lock.release()
    if not server.started:
        logging.getLogger("mvi.manager").error("the manager did not start")
        raise typer.Exit(1)


class _Server:
    """uvicorn's server, ending with status 0 after a graceful stop on SIGTERM/SIGINT."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                super().handle_exit(sig, frame)
                self._captured_signals.clear()  # do not re-raise: a clean stop exits 0

        self._server = Server(config)

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def run(self) -> None:
        self._server.run()
