"""The commands that talk to a manager about its versions: ls, logs, stop, start, restart,
assign, kill and call (``mvi deploy`` is in :mod:`mvi.cli.commands.deploy`, ``mvi login`` in
:mod:`mvi.cli.commands.auth`)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from mvi._exceptions import ManagerError
from mvi.cli._app import app, console, fail
from mvi.cli.client import ManagerClient
from mvi.cli.render import services_table
from mvi.settings import get_settings

if TYPE_CHECKING:
    pass

__all__ = [
    "assign",
    "call",
    "kill",
    "logs",
    "ls",
    "restart",
    "start",
    "stop",
]


def _client() -> ManagerClient:
    return ManagerClient.from_settings()


def _print_table(records: list[dict[str, Any]]) -> None:
    console.print(services_table(records), markup=False, highlight=False)


def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``func``; a manager error becomes one clear line and a non-zero exit."""
    try:
        return func(*args, **kwargs)
    except ManagerError as exc:
        fail(exc.message)


# -- ls --------------------------------------------------------------------------------------
@app.command()
def ls(
    name: Annotated[str | None, typer.Argument(help="Only this service.")] = None,
    version: Annotated[str | None, typer.Argument(help="Only this version.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List deployed service versions: main, status, and since when."""
    with _client() as client:
        if name is None:
            records = _run(client.json, "GET", "/api/services")
        elif version is None:
            records = _run(client.json, "GET", f"/api/services/{name}")
        else:
            records = [_run(client.json, "GET", f"/api/services/{name}/{version}")]
    if as_json:
        console.print(json.dumps(records, indent=2), markup=False, highlight=False)
    elif not records:
        console.print("No services are deployed; deploy one with `mvi deploy`.", markup=False)
    else:
        _print_table(records)


# -- logs ------------------------------------------------------------------------------------
def _main_version(client: ManagerClient, name: str) -> str:
    records = _run(client.json, "GET", f"/api/services/{name}")
    main = next((r for r in records if r["main"]), None)
    if main is None:
        fail(f"{name} has no main version; give the version")
    return str(main["version"])


@app.command()
def logs(
    name: Annotated[str | None, typer.Argument(help="Service (omit with --manager).")] = None,
    version: Annotated[str | None, typer.Argument(help="Version (default: the main).")] = None,
    lines: Annotated[
        str, typer.Option("--lines", "-n", help="Last lines to show, or 'all'.")
    ] = "50",
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="Only lines since: 10m, 2h, 1d or 2026-01-02T10:00:00.")
    ] = None,
    manager: Annotated[
        bool, typer.Option("--manager", help="The manager's own log instead.")
    ] = False,
) -> None:
    """Print a service version's output (stdout and stderr), or the manager's log."""
    params: dict[str, str] = {"lines": lines, "follow": str(follow).lower()}
    if since:
        params["since"] = since
    with _client() as client:
        if manager:
            path = "/api/manager/logs"
        elif name is None:
            fail("Give the service NAME (and VERSION), or --manager for the manager's log")
        else:
            version = version or _main_version(client, name)
            path = f"/api/services/{name}/{version}/logs"
        timeout = httpx.Timeout(client.timeout, read=None if follow else client.timeout)
        out = sys.stdout.buffer
        try:
            with _run(client.stream, "GET", path, params=params, timeout=timeout) as response:
                for chunk in response.iter_raw():
                    out.write(chunk)
                    out.flush()
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
        except httpx.HTTPError as exc:
            fail(f"The log stream from {client.url} broke off ({exc})")


# -- stop, start, restart --------------------------------------------------------------------
def _operate(name: str, version: str, action: str) -> dict[str, Any]:
    with _client() as client:
        timeout = get_settings().manager_startup_timeout + get_settings().manager_stop_timeout + 30
        return dict(
            _run(client.json, "POST", f"/api/services/{name}/{version}/{action}", timeout=timeout)
        )


@app.command()
def stop(
    name: Annotated[str, typer.Argument(help="Service name.")],
    version: Annotated[str, typer.Argument(help="Version.")],
) -> None:
    """Stop a version gracefully; it stays stopped until `mvi start`."""
    record = _operate(name, version, "stop")
    _print_table([record])


def _started(name: str, version: str, action: str) -> None:
    record = _operate(name, version, action)
    _print_table([record])
    if record["status"] != "running":
        fail(
            f"{name} {version} did not start: {record['message'] or record['status']}; "
            f"see `mvi logs {name} {version}`"
        )


@app.command()
def start(
    name: Annotated[str, typer.Argument(help="Service name.")],
    version: Annotated[str, typer.Argument(help="Version.")],
) -> None:
    """Start a stopped, failed or crashed version and wait until it runs."""
    _started(name, version, "start")


@app.command()
def restart(
    name: Annotated[str, typer.Argument(help="Service name.")],
    version: Annotated[str, typer.Argument(help="Version.")],
) -> None:
    """Stop a version gracefully and start it again."""
    _started(name, version, "restart")


# -- assign, kill ----------------------------------------------------------------------------
@app.command()
def assign(
    name: Annotated[str, typer.Argument(help="Service name.")],
    version: Annotated[str, typer.Argument(help="The version to make main.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Make VERSION the main version of NAME (/services/NAME/... goes to it)."""
    if not yes:
        typer.confirm(
            f"Make {name} {version} the main version? Requests to /services/{name}/... "
            "will go to it",
            abort=True,
        )
    with _client() as client:
        records = _run(client.json, "POST", f"/api/services/{name}/{version}/assign")
    _print_table(records)


@app.command()
def kill(
    name: Annotated[str, typer.Argument(help="Service name.")],
    version: Annotated[str | None, typer.Argument(help="Version (default: the main).")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every version: the others first, the main last.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop a version and delete its code and logs (the main only when it is the last)."""
    if every and version is not None:
        fail("Give a VERSION or --all, not both")
    with _client() as client:
        records = _run(client.json, "GET", f"/api/services/{name}")
        if every:
            ordered = [r for r in records if not r["main"]] + [r for r in records if r["main"]]
            what = ", then ".join(
                f"{r['version']}{' (main)' if r['main'] else ''}" for r in ordered
            )
            question = f"Kill every version of {name} ({what})?"
        else:
            target = version or next((r["version"] for r in records if r["main"]), None)
            question = f"Kill {name} {target}? Its process stops and its code and logs are deleted"
        if not yes:
            typer.confirm(question, abort=True)
        force = {"force": "true"}  # confirmed (or --yes): the manager's own guard is satisfied
        if every:
            body = _run(
                client.json, "DELETE", f"/api/services/{name}", params={"all": "true", **force}
            )
        elif version is None:
            body = _run(client.json, "DELETE", f"/api/services/{name}", params=force)
        else:
            body = _run(client.json, "DELETE", f"/api/services/{name}/{version}", params=force)
    for record in body["killed"]:
        main = " (main)" if record["main"] else ""
        console.print(f"Killed {record['name']} {record['version']}{main}", markup=False)


# -- call ------------------------------------------------------------------------------------
@app.command()
def call(
    name: Annotated[str, typer.Argument(help="Service name.")],
    entrypoint: Annotated[str, typer.Argument(help="Entrypoint to call.")],
    data: Annotated[str, typer.Option("--data", "-d", help="The JSON arguments.")] = "{}",
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="This version (default: the main).")
    ] = None,
) -> None:
    """Call ENTRYPOINT of NAME through the manager's gateway and print the JSON answer."""
    try:
        json.loads(data)
    except ValueError as exc:
        fail(f"--data is not valid JSON ({exc})")
    target = f"{name}_{version}" if version else name
    with _client() as client:
        try:
            response = client.http.post(
                f"/services/{target}/{entrypoint}",
                content=data.encode(),
                headers={"content-type": "application/json"},
                timeout=httpx.Timeout(client.timeout, read=None),
            )
        except httpx.TransportError as exc:
            fail(client._unreachable(exc).message)
        if not response.is_success:
            try:
                detail = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                detail = response.text
            if not isinstance(detail, str):
                detail = json.dumps(detail)
            fail(f"{response.status_code} from {name} {entrypoint}: {detail}")
    sys.stdout.write(response.text + ("" if response.text.endswith("\n") else "\n"))
    sys.stdout.flush()
