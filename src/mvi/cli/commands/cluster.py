"""The cluster commands: ``mvi scale``, ``mvi node start`` and ``mvi export k8s``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mvi._exceptions import ManagerError
from mvi.cli._app import app, console, fail
from mvi.cli.client import ManagerClient
from mvi.cli.render import services_table
from mvi.settings import get_settings

__all__ = ["export_k8s", "node_start", "scale"]

node_app = typer.Typer(name="node", help="Run a node of a Ray cluster for the manager.")
app.add_typer(node_app)
export_app = typer.Typer(name="export", help="Export a version to run elsewhere.")
app.add_typer(export_app)


def _json(method: str, path: str, **kwargs: Any) -> Any:
    try:
        with ManagerClient.from_settings() as client:
            return client.json(method, path, **kwargs)
    except ManagerError as exc:
        fail(exc.message)


@app.command()
def scale(
    name: Annotated[str, typer.Argument(help="Service name.")],
    version: Annotated[str, typer.Argument(help="Version.")],
    replicas: Annotated[
        int | None, typer.Argument(help="How many replicas (turns autoscaling off).")
    ] = None,
    min_replicas: Annotated[
        int | None, typer.Option("--min", help="Autoscale: never fewer replicas.")
    ] = None,
    max_replicas: Annotated[
        int | None, typer.Option("--max", help="Autoscale: never more replicas.")
    ] = None,
    target: Annotated[
        float | None,
        typer.Option("--target", help="Autoscale: requests in flight per replica to aim at."),
    ] = None,
) -> None:
    """Run REPLICAS replicas of NAME VERSION, or autoscale it with --min, --max, --target."""
    body = {
        "replicas": replicas,
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "target_inflight": target,
    }
    record = _json("POST", f"/api/services/{name}/{version}/scale", json=body)
    console.print(services_table([record]), markup=False, highlight=False)


@node_app.command("start")
def node_start(
    head: Annotated[bool, typer.Option("--head", help="Start the cluster's head.")] = False,
    address: Annotated[
        str | None, typer.Option(help="host:port of the head (for a worker node).")
    ] = None,
    node_ip: Annotated[
        str, typer.Option("--node-ip", help="This machine's address on the cluster network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The head's port.", min=1, max=65535)] = 6379,
    num_cpus: Annotated[
        float | None, typer.Option("--num-cpus", help="CPUs this node offers (default: all).")
    ] = None,
) -> None:
    """Run a Ray node with mvi's safety settings; the token is MVI_MANAGER_RAY_AUTH_TOKEN."""
    from mvi.manager.runtimes.ray.node import NodeOptions, start_node

    settings = get_settings()
    token = settings.manager_ray_auth_token
    if token is None or not token.get_secret_value():
        fail("set MVI_MANAGER_RAY_AUTH_TOKEN to the cluster's token (the same on every node)")
    home = settings.manager_ray_home or settings.home.expanduser() / "ray-home"
    try:
        options = NodeOptions(node_ip, head=head, address=address, port=port, num_cpus=num_cpus)
        start_node(options, home=home, token=token.get_secret_value())
    except (ValueError, OSError) as exc:
        fail(str(exc))


@export_app.command("k8s")
def export_k8s(
    name: Annotated[str, typer.Argument(help="Service name.")],
    version: Annotated[str, typer.Argument(help="Version.")],
    out: Annotated[
        Path | None, typer.Option(help="Folder to write (default: ./k8s-NAME-VERSION).")
    ] = None,
) -> None:
    """Write a Dockerfile and Kubernetes manifests for NAME VERSION (validated offline)."""
    from mvi.manager.builds.archives import unpack

    target = out or Path(f"k8s-{name}-{version}")
    if target.exists() and any(target.iterdir()):
        fail(f"{target} is not empty; choose another --out")
    try:
        with ManagerClient.from_settings() as client:
            response = client.http.get(f"/api/services/{name}/{version}/export/k8s")
            client.check(response)
    except ManagerError as exc:
        fail(exc.message)
    target.parent.mkdir(parents=True, exist_ok=True)
    archive = target.with_name(target.name + ".tar.gz")
    archive.write_bytes(response.content)
    try:
        if target.exists():
            target.rmdir()
        unpack(archive, target, max_bytes=1024 * 1024 * 1024, max_members=100_000)
    finally:
        archive.unlink(missing_ok=True)
    console.print(f"Wrote {target}/ (Dockerfile, k8s/*.yaml); see its README.md", markup=False)
