"""``mvi manager start``: run the manager (REST API, gateway, supervisor) in the foreground."""

from __future__ import annotations

from pathlib import Path
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
    runtime: Annotated[
        str | None,
        typer.Option(
            help="Where versions run: local (processes here) or ray (actors on a Ray "
            "cluster) [MVI_MANAGER_RUNTIME; local].",
            show_default=False,
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="host:port of the Ray cluster's head, with --runtime ray; its token comes "
            "from MVI_MANAGER_RAY_AUTH_TOKEN [MVI_MANAGER_RAY_ADDRESS].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start the manager and serve until SIGTERM or Ctrl-C (its services stop with it).

    A manager that is killed leaves its services running; the next one adopts them.
    """
    from mvi.manager.server import serve

    updates: dict[str, Any] = {}
    if host is not None:
        updates["manager_host"] = host
    if port is not None:
        updates["manager_port"] = port
    if data_dir is not None:
        updates["home"] = data_dir
    if no_auth:
        updates["manager_auth"] = False
    if runtime is not None:
        if runtime not in ("local", "ray"):
            fail(f"--runtime must be local or ray, not {runtime!r}")
        updates["manager_runtime"] = runtime
    if ray_address is not None:
        updates["manager_ray_address"] = ray_address
    settings = get_settings().model_copy(update=updates)
    try:
        status = serve(settings)
    except ConfigurationError as exc:
        fail(str(exc))
    if status != 0:
        raise typer.Exit(status)
