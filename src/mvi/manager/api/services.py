"""``/api/services``: deploy, list, start, stop, restart, assign, kill, and logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from mvi.manager.api.logstream import LogQuery, log_response
from mvi.manager.api.schemas import DeployOut, ErrorOut, KilledOut, ScaleIn, ServiceVersionOut
from mvi.manager.fleet.operations import Fleet
from mvi.manager.sources import GitSource

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 403, 404, 409, 413, 422)
}

router = APIRouter(prefix="/services", tags=["services"], responses=_ERRORS)


def get_fleet(request: Request) -> Fleet:
    """The fleet of the running manager."""
    fleet: Fleet = request.app.state.fleet
    return fleet


FleetDep = Annotated[Fleet, Depends(get_fleet)]


@router.get("", summary="Every deployed version")
async def list_services(fleet: FleetDep) -> list[ServiceVersionOut]:
    """All versions of all services, by name and version."""
    return [ServiceVersionOut.of(row, fleet.replicas_of(row)) for row in await fleet.versions()]


@router.get("/{name}", summary="The versions of one service")
async def list_versions(name: str, fleet: FleetDep) -> list[ServiceVersionOut]:
    """All versions of ``name`` (404 if none)."""
    return [ServiceVersionOut.of(row, fleet.replicas_of(row)) for row in await fleet.versions(name)]


@router.get("/{name}/{version}", summary="One version")
async def get_version(name: str, version: str, fleet: FleetDep) -> ServiceVersionOut:
    """One version of ``name``, with its replicas."""
    row = await fleet.get(name, version)
    return ServiceVersionOut.of(row, fleet.replicas_of(row))


@router.post("/{name}/{version}/scale", summary="Set a version's replicas or autoscaling")
async def scale(name: str, version: str, body: ScaleIn, fleet: FleetDep) -> ServiceVersionOut:
    """``replicas`` replicas from now on (autoscaling off), or autoscaling between
    ``min_replicas`` and ``max_replicas`` aiming at ``target_inflight`` requests in flight
    per replica. 422 for values out of range."""
    row = await fleet.scale(
        name,
        version,
        replicas=body.replicas,
        min_replicas=body.min_replicas,
        max_replicas=body.max_replicas,
        target_inflight=body.target_inflight,
    )
    return ServiceVersionOut.of(row, fleet.replicas_of(row))


@router.post(
    "/{name}/{version}",
    summary="Deploy a version (body: a gzip tar of the project)",
    status_code=status.HTTP_201_CREATED,
    responses={202: {"model": DeployOut, "description": "Still building or starting"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def deploy(
    name: str,
    version: str,
    request: Request,
    response: Response,
    fleet: FleetDep,
    replace: Annotated[bool, Query(description="Replace the version if it exists.")] = False,
    wait: Annotated[
        float | None,
        Query(gt=0, description="Seconds to wait for the final status (bounded by the manager)."),
    ] = None,
    replicas: Annotated[
        int | None, Query(ge=1, description="How many replicas serve it (default 1).")
    ] = None,
    port: Annotated[
        int | None,
        Query(
            ge=1024,
            le=65535,
            description="The port the (web) app listens on; default: one the manager picks "
            "and gives the app as MVI_PORT and PORT.",
        ),
    ] = None,
    git_url: Annotated[
        str | None, Query(description="The git URL the archive was cloned from (recorded).")
    ] = None,
    git_ref: Annotated[str | None, Query(description="The ref asked for (recorded).")] = None,
    git_commit: Annotated[
        str | None, Query(description="The full commit id the archive holds (recorded).")
    ] = None,
) -> DeployOut:
    """Upload, unpack, build and start a version, and wait for it to run.

    201 with the version once it is running (or has failed to start: see its ``status``);
    202 if the wait ended first. 422 bad name, version or project, or a failed install
    (``lines`` has the installer's output); 409 already deployed (use ``replace``), or
    ``port`` used by another version or process; 400 not a safe gzip tar; 413 over the size
    limit. ``git_url``, ``git_ref`` and ``git_commit`` record where the archive came from
    (``mvi deploy --git`` clones and packs it; the manager never fetches the URL).
    """
    source = GitSource.of_query(git_url, git_ref, git_commit)
    length = request.headers.get("content-length")
    result = await fleet.deploys.deploy(
        name,
        version,
        request.stream(),
        replace=replace,
        content_length=int(length) if length and length.isdigit() else None,
        wait=wait,
        replicas=replicas,
        port=port,
        source=source,
    )
    versions = [ServiceVersionOut.of(row) for row in await fleet.versions(name)]
    body = DeployOut(
        settled=result.settled, service=ServiceVersionOut.of(result.record), versions=versions
    )
    if not result.settled:
        response.status_code = status.HTTP_202_ACCEPTED
    return body


@router.post("/{name}/{version}/stop", summary="Stop a version")
async def stop(name: str, version: str, fleet: FleetDep) -> ServiceVersionOut:
    """SIGTERM, then SIGKILL after the grace period; it stays stopped until started."""
    return ServiceVersionOut.of(await fleet.stop(name, version))


@router.post("/{name}/{version}/start", summary="Start a version")
async def start(name: str, version: str, fleet: FleetDep) -> ServiceVersionOut:
    """Start a stopped, failed or crashed version and wait until it runs (or fails)."""
    return ServiceVersionOut.of(await fleet.start(name, version))


@router.post("/{name}/{version}/restart", summary="Restart a version")
async def restart(name: str, version: str, fleet: FleetDep) -> ServiceVersionOut:
    """Stop (gracefully) and start again."""
    return ServiceVersionOut.of(await fleet.start(name, version, restart=True))


@router.post("/{name}/{version}/assign", summary="Make a version the main")
async def assign(name: str, version: str, fleet: FleetDep) -> list[ServiceVersionOut]:
    """``/services/{name}/...`` goes to ``version`` from now on; answers every version."""
    await fleet.assign(name, version)
    return [ServiceVersionOut.of(row) for row in await fleet.versions(name)]


ForceQuery = Annotated[
    bool,
    Query(
        description="Required to kill the last version of a name, or every version: "
        "without it such a kill is refused with 409."
    ),
]


@router.delete("/{name}/{version}", summary="Kill a version")
async def kill_version(
    name: str, version: str, fleet: FleetDep, force: ForceQuery = False
) -> KilledOut:
    """Stop a version and delete its code and logs (its monitoring data is kept).

    403 for the main while other versions of the name exist; 409 for the last version
    without ``force=true``.
    """
    rows = await fleet.kill(name, version, force=force)
    return KilledOut(killed=[ServiceVersionOut.of(r) for r in rows])


@router.delete("/{name}", summary="Kill the main version, or all versions")
async def kill_service(
    name: str,
    fleet: FleetDep,
    every: Annotated[
        bool, Query(alias="all", description="Every version: the others first, the main last.")
    ] = False,
    force: ForceQuery = False,
) -> KilledOut:
    """Kill the main (refused while others exist), or with ``all`` every version; killing
    the last version, or every version, needs ``force=true`` (else 409)."""
    rows = await fleet.kill_all(name, force=force) if every else await fleet.kill(name, force=force)
    return KilledOut(killed=[ServiceVersionOut.of(r) for r in rows])


@router.get(
    "/{name}/{version}/export/k8s",
    summary="A Dockerfile and Kubernetes manifests of a version (gzip tar)",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}}},
)
async def export_k8s(name: str, version: str, fleet: FleetDep) -> Response:
    """The version's code, pinned requirements, Dockerfile and manifests (ConfigMap,
    Deployment, Service; Secret references only), validated offline; what ``mvi export
    k8s`` unpacks. 409 while it is being built; 422 if a manifest fails validation."""
    data = await run_in_threadpool(fleet.export_k8s, await fleet.get(name, version))
    headers = {"content-disposition": f'attachment; filename="k8s-{name}-{version}.tar.gz"'}
    return Response(data, media_type="application/gzip", headers=headers)


@router.get(
    "/{name}/{version}/logs",
    summary="A version's log",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
async def version_logs(
    name: str,
    version: str,
    request: Request,
    fleet: FleetDep,
    query: Annotated[LogQuery, Depends()],
) -> StreamingResponse:
    """The last lines of the version's stdout and stderr; ``follow`` streams what comes."""
    row = await fleet.get(name, version)
    path = fleet.parts.layout.service_log(row.name, row.version)
    return log_response(request, path, fleet.parts.settings.manager_log_backups, query)
