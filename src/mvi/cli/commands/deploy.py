"""``mvi deploy``: upload a project folder, a ``.tar.gz`` or a git commit, and wait for it."""

from __future__ import annotations

import concurrent.futures
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from mvi._exceptions import GitSourceError
from mvi.cli._app import app, console, err_console, fail
from mvi.cli.client import ManagerClient
from mvi.cli.commands.services import _client, _print_table, _run
from mvi.settings import get_settings

if TYPE_CHECKING:
    from mvi.manager.sources import GitSource

__all__ = ["deploy"]

_UPLOAD_CHUNK = 256 * 1024


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


def _deploy_params(
    replace: bool,
    wait: float,
    replicas: int | None,
    port: int | None,
    source: GitSource | None,
) -> dict[str, Any]:
    """The query of a deploy upload."""
    params: dict[str, Any] = {"replace": str(replace).lower(), "wait": wait}
    if replicas is not None:
        params["replicas"] = replicas
    if port is not None:
        params["port"] = port
    if source is not None:
        params.update({k: v for k, v in source.columns().items() if v is not None})
    return params


def _post(
    client: ManagerClient, upload: _Upload, name: str, version: str, params: dict[str, Any]
) -> httpx.Response:
    return client.http.post(
        f"/api/services/{name}/{version}",
        params=params,
        content=iter(upload),
        headers={"content-type": "application/gzip", "content-length": str(upload.size)},
        timeout=httpx.Timeout(client.timeout, read=float(params["wait"]) + 60),
    )


def _await_deploy(
    client: ManagerClient, path: Path, name: str, version: str, params: dict[str, Any]
) -> httpx.Response:
    """Upload, then show the version's status until the manager answers (bounded by
    ``wait``); progress goes to stderr, and only to a terminal."""
    upload = _Upload(path)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(_post, client, upload, name, version, params)
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
                _deploy_params(replace, settings.manager_deploy_wait, replicas, port, git),
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
