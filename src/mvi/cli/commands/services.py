"""The commands that talk to a manager: deploy, ls, logs, stop, start, restart, assign, kill
and call (``mvi login`` is in :mod:`mvi.cli.commands.auth`)."""

from __future__ import annotations

import concurrent.futures
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from mvi._exceptions import GitSourceError, ManagerError
from mvi.cli._app import app, console, err_console, fail
from mvi.cli.client import ManagerClient
from mvi.cli.render import services_table
from mvi.settings import get_settings

if TYPE_CHECKING:
    from mvi.manager.sources import GitSource

__all__ = [
    "assign",
    "call",
    "deploy",
    "kill",
    "logs",
    "ls",
    "restart",
    "start",
    "stop",
]

_UPLOAD_CHUNK = 256 * 1024


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


# -- deploy ----------------------------------------------------------------------------------
def _archive(source: Path) -> tuple[Path, bool]:
    """The .tar.gz to upload, and whether it is a temporary file made here."""
    if source.is_dir():
        from mvi.manager.builds.archives import pack

        fd, name = tempfile.mkstemp(prefix="mvi-deploy-", suffix=".tar.gz")
        with open(fd, "wb") as handle:
            pack(source, handle)
        return Path(name), True
    if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
        return source, False
    if source.exists():
        fail(f"{source} is neither a folder nor a .tar.gz archive")
    fail(f"{source} does not exist; give the folder of a service project or a .tar.gz")


class _Upload:
    """The archive streamed in chunks, counting what was sent (for the progress line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            while chunk := handle.read(_UPLOAD_CHUNK):
                self.sent += len(chunk)
                yield chunk

    def progress(self) -> str:
        done = self.sent / self.size if self.size else 1.0
        return f"Uploading {_size(self.sent)} of {_size(self.size)} ({done:.0%})"


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"


def _post(
    client: ManagerClient,
    upload: _Upload,
    name: str,
    version: str,
    replace: bool,
    wait: float,
    replicas: int | None = None,
    port: int | None = None,
    source: GitSource | None = None,
) -> httpx.Response:
    params: dict[str, Any] = {"replace": str(replace).lower(), "wait": wait}
    if replicas is not None:
        params["replicas"] = replicas
    if port is not None:
        params["port"] = port
    if source is not None:
        params.update({k: v for k, v in source.columns().items() if v is not None})
    return client.http.post(
        f"/api/services/{name}/{version}",
        params=params,
        content=iter(upload),
        headers={"content-type": "application/gzip", "content-length": str(upload.size)},
        timeout=httpx.Timeout(client.timeout, read=wait + 60),
    )


def _await_deploy(
    client: ManagerClient,
    path: Path,
    name: str,
    version: str,
    replace: bool,
    wait: float,
    replicas: int | None = None,
    port: int | None = None,
    source: GitSource | None = None,
) -> httpx.Response:
    """Upload, then show the version's status until the manager answers (bounded by
    ``wait``); progress goes to stderr, and only to a terminal."""
    upload = _Upload(path)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            _post, client, upload, name, version, replace, wait, replicas, port, source
        )
        if err_console.is_terminal:
            started = time.monotonic()
            with err_console.status(upload.progress()) as status:
                while not future.done():
                    concurrent.futures.wait([future], timeout=0.5)
                    if future.done():
                        break
                    if upload.sent < upload.size:
                        status.update(upload.progress())
                        continue
                    try:
                        record = client.http.get(f"/api/services/{name}/{version}", timeout=5)
                        state = record.json().get("status") if record.is_success else "unpacking"
                    except (httpx.HTTPError, ValueError, AttributeError):
                        state = "waiting"
                    elapsed = time.monotonic() - started
                    status.update(f"{name} {version}: {state} ({elapsed:.0f}s)")
        try:
            return future.result()
        except httpx.TransportError as exc:
            raise client._unreachable(exc) from None


@app.command()
def deploy(
    name: Annotated[str, typer.Argument(help="Service name (lowercase letters, digits, _).")],
    version: Annotated[str, typer.Argument(help="Semantic version, e.g. 1.0.0.")],
    source: Annotated[
        Path | None,
        typer.Argument(
            help="The project folder, or a .tar.gz of it (not with --git).", show_default=False
        ),
    ] = None,
    git: Annotated[
        str | None,
        typer.Option(
            "--git",
            help="Clone this git URL (a path, file://, https://, ssh://) and deploy it.",
            show_default=False,
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option(
            help="With --git: the branch, tag or commit to deploy (default: the default branch).",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace NAME VERSION if it is deployed.")
    ] = False,
    replicas: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="How many replicas serve it (default 1; see `mvi scale`).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=1024,
            max=65535,
            help="The port a web app listens on (it is served at / behind the gateway); "
            "without it the manager picks one and the app reads MVI_PORT or PORT.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Deploy SOURCE (or the commit --git and --ref name) as NAME VERSION: upload, build its
    environment, start it, wait for it."""
    settings = get_settings()
    if source is not None and git is not None:
        fail("Give the project folder (or .tar.gz) to deploy, or --git URL, not both")
    if source is None and git is None:
        fail("Give the project folder (or .tar.gz) to deploy, or --git URL")
    if ref is not None and git is None:
        fail("--ref chooses what --git clones; give --git URL too")
    console.print("Deploying service...", markup=False)
    with tempfile.TemporaryDirectory(prefix="mvi-git-") as scratch:
        checked: GitSource | None = None
        if git is not None:
            from mvi.cli.checkout import checkout

            try:
                found = checkout(git, ref, Path(scratch) / "source", settings.cli_git_timeout)
            except GitSourceError as exc:
                fail(str(exc))
            source, checked = found.path, found.source
            err_console.print(f"Cloned {checked.url} at {checked.commit}", markup=False)
        assert source is not None
        _deploy(name, version, source, replace, replicas, port, checked)


def _deploy(
    name: str,
    version: str,
    source: Path,
    replace: bool,
    replicas: int | None,
    port: int | None,
    git: GitSource | None,
) -> None:
    settings = get_settings()
    archive, temporary = _archive(source)
    try:
        with _client() as client:
            response = _run(
                _await_deploy,
                client,
                archive,
                name,
                version,
                replace,
                settings.manager_deploy_wait,
                replicas,
                port,
                git,
            )
            body = _run(client.check, response).json()
    finally:
        if temporary:
            archive.unlink(missing_ok=True)
    service = body["service"]
    if not body["settled"]:
        _print_table(body["versions"])
        fail(
            f"{name} {version} is still {service['status']} after waiting; "
            f"follow it with `mvi ls {name} {version}` and `mvi logs {name} {version}`"
        )
    if service["status"] != "running":
        _print_table(body["versions"])
        fail(
            f"{name} {version} did not start: {service['message'] or service['status']}; "
            f"see `mvi logs {name} {version}`"
        )
    console.print("Service deployed successfully", markup=False)
    _print_table(body["versions"])


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
