"""``mvi init``, ``mvi run`` and ``mvi test``: create, serve and test a service project."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from mvi._exceptions import ProjectError
from mvi.cli._app import app, console, err_console, fail
from mvi.cli._template import create_project
from mvi.project import ServiceProject
from mvi.settings import ServiceSettings

__all__ = ["init", "run", "test"]

DEFAULT_PROJECT_NAME = "my_project"


@app.command()
def init(
    path: Annotated[
        Path, typer.Argument(help="Folder to create the project folder in.", show_default=".")
    ] = Path(),
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Project name (a Python identifier); asked if omitted."),
    ] = None,
) -> None:
    """Create a service project (service.py, tests, .s2i/environment, ...) in PATH/NAME."""
    if name is None:
        name = str(typer.prompt("project_name", default=DEFAULT_PROJECT_NAME))
    try:
        target = create_project(name.strip(), path)
    except ProjectError as exc:
        fail(str(exc))
    shown = os.path.relpath(target) if target.is_relative_to(Path.cwd()) else str(target)
    console.print(f"Created {shown}", markup=False)
    console.print(
        f"Serve it with `mvi run {shown}` and test it with `mvi test {shown}`.", markup=False
    )


@app.command()
def run(
    path: Annotated[
        Path, typer.Argument(help="The service project's folder.", show_default=".")
    ] = Path(),
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (sets MVI_HOST).", show_default=False)
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Port to listen on (sets MVI_PORT).", show_default=False
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="HTTP worker processes (sets MVI_WORKERS).", show_default=False),
    ] = None,
    rpc_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Also serve the entrypoints over the socket RPC on this port (sets MVI_RPC_PORT).",
            show_default=False,
        ),
    ] = None,
    rpc_path: Annotated[
        str | None,
        typer.Option(
            help="Also serve the entrypoints over the socket RPC on this unix socket "
            "(sets MVI_RPC_PATH).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a service project locally, the way a manager would run it.

    Runs APP_FILE (default service.py) with this Python, in PATH; or APP_SCRIPT with bash,
    or serves APP_MODULE (an ASGI or WSGI module:app) with uvicorn; a link service
    (MVI_SERVICE_KIND=link, or detected) as `python -m mvi.links -s APP_FILE ...` with its
    addresses and config files, answering /~health, /~ready and /~metrics on the port.

    The variables of PATH/.s2i/environment are added to the environment; options override them.

    The service takes this process's place: signals reach it, its exit status is mvi's.
    """
    try:
        project = ServiceProject.load(path)
        project.app_path  # noqa: B018  (checks that the app exists inside the project)
        entry = project.entry
        argv = entry.command(sys.executable)
        link = project.kind == "link"
        if link:
            argv = [sys.executable, *project.link_launch().arguments()]
    except ProjectError as exc:
        fail(str(exc))
    env = {
        **os.environ,
        **project.environment,
        **ServiceSettings.environ(
            host=host, port=port, workers=workers, rpc_port=rpc_port, rpc_path=rpc_path
        ),
        **(ServiceSettings.environ(link_http=True) if link else {}),
    }
    if port is not None:
        env["PORT"] = str(port)
    # an APP_SCRIPT's `python` is this one, as a deployed script's is its environment's
    env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")]))
    what = f"the link service {project.app_file}" if link else entry.target
    err_console.print(f"Running {what} in {project.path}", style="dim", markup=False)
    argv[0] = shutil.which(argv[0], path=env["PATH"]) or argv[0]  # bash, by PATH
    _replace_process(project.path, argv, env)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="The service project's folder.", show_default=".")
    ] = Path(),
) -> None:
    """Run a service project's tests (PATH/tests) with pytest, in PATH; exits with its status.

    Arguments after PATH and `--` go to pytest, e.g. `mvi test . -- -k hello -x`.
    """
    folder = path.expanduser().resolve()
    if not folder.is_dir():
        fail(f"{path} is not a folder; give the folder of a service project")
    if not (folder / "tests").is_dir():
        fail(f"{folder} has no tests/ folder; put the project's pytest tests there")
    if importlib.util.find_spec("pytest") is None:
        fail(f"pytest is not installed; install it with: {sys.executable} -m pip install pytest")
    python_path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    _replace_process(
        folder,
        [sys.executable, "-m", "pytest", "tests", *ctx.args],
        {**os.environ, "PYTHONPATH": python_path},
    )


def _replace_process(cwd: Path, argv: list[str], env: dict[str, str]) -> NoReturn:
    """Become ``argv`` run in ``cwd``: signals then reach it directly, its exit status is ours."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.chdir(cwd)
        os.execve(argv[0], argv, env)
    except OSError as exc:
        fail(f"cannot run {' '.join(argv)} in {cwd}: {exc}")
