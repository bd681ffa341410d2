"""The manager's side of the Ray runtime: :class:`RayRuntime`.

Each supervised version has a task that connects to the cluster (once per manager), puts
the version's bundle into the cluster's GCS (:mod:`~mvi.manager.runtimes.ray.bundle`),
and then, about once a second (``MVI_MANAGER_REPLICA_CHECK_INTERVAL``), makes the replica
actors it lacks (detached, named ``{key}#{index}``, ``max_restarts=-1``, spread over the
nodes, reserving the version's CPUs and memory), removes those beyond its number, and asks
each where it listens. The replica table it keeps is the manager's: the ready replicas go to
the gateway, the version's status (running while one replica is ready) to the registry.

A manager that restarts finds the actors again by name (``get_if_exists``): nothing is
started twice. When the manager stops gracefully with ``MVI_MANAGER_STOP_SERVICES_ON_EXIT``
the actors are stopped; otherwise they run on for the next manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

import orjson

from mvi._exceptions import BuildFailed, ClusterUnavailable
from mvi.manager.gateway.balancer import Endpoint
from mvi.manager.layout import DataDir
from mvi.manager.runtimes.base import Replica, ReplicaListener
from mvi.manager.runtimes.ray.actor import ReplicaHost, ReplicaPlan
from mvi.manager.runtimes.ray.bundle import Bundle, BundleMaker, source_key, wheels_key
from mvi.manager.runtimes.ray.safety import new_token, prepare
from mvi.manager.supervision.process import ProcessHandle
from mvi.manager.supervision.states import Status
from mvi.manager.supervision.supervisor import LaunchSpec, StatusEvent
from mvi.settings import Settings

__all__ = ["RayRuntime", "actor_name"]

logger = logging.getLogger("mvi.manager.ray")

_CALL_TIMEOUT = 2.0
_MIB = 1024 * 1024


def actor_name(key: str, index: int) -> str:
    """The name of replica ``index`` of version ``key``."""
    return f"{key}#{index}"


@dataclass(eq=False)
class _ClusterVersion:
    spec: LaunchSpec
    desired: int
    status: Status = Status.STARTING
    since: float = field(default_factory=time.time)
    message: str = "starting its replicas"
    want_running: bool = True
    handles: dict[int, Any] = field(default_factory=dict)
    table: dict[int, Replica] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    recorded: Status | None = None
    restarts: int = 0
    prepared: bool = False
    """Whether its bundle is in the cluster (until then a wait also allows for the build)."""


class RayRuntime:
    """Replicas as actors on a Ray cluster; see the module's docstring."""

    def __init__(
        self,
        settings: Settings,
        layout: DataDir,
        *,
        listener: Callable[[StatusEvent], Awaitable[None]],
        on_replicas: ReplicaListener,
    ) -> None:
        self.settings = settings
        self.layout = layout
        self.listener = listener
        self.on_replicas = on_replicas
        self.bundles = BundleMaker(
            layout.root / "wheelhouses", timeout=settings.manager_build_timeout
        )
        self.versions: dict[str, _ClusterVersion] = {}
        self._connected = False
        self._connect_lock = asyncio.Lock()
        self._actor_class: Any = None

    # -- the cluster ----------------------------------------------------------------------------
    async def connect(self) -> None:
        """Join the cluster (once): the safety environment first, then ``ray.init``."""
        async with self._connect_lock:
            if not self._connected:
                await asyncio.to_thread(self._connect)
                self._connected = True

    def _connect(self) -> None:
        settings = self.settings
        token = settings.manager_ray_auth_token
        address = settings.manager_ray_address
        if token is None and address is not None:
            raise ClusterUnavailable(
                "Joining a Ray cluster needs its token: set MVI_MANAGER_RAY_AUTH_TOKEN to the "
                "RAY_AUTH_TOKEN its nodes were started with"
            )
        home = settings.manager_ray_home or self.layout.root / "ray-home"
        prepare(home, token.get_secret_value() if token is not None else new_token())
        try:
            import ray
        except ImportError:
            raise ClusterUnavailable(
                "The Ray runtime needs Ray: pip install 'mvi[ray]' (or run --runtime local)"
            ) from None
        options: dict[str, Any] = {
            "namespace": settings.manager_ray_namespace,
            "_node_ip_address": settings.manager_ray_node_ip,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if address is None:
            options.update(include_dashboard=False, num_cpus=1)
        try:
            if not ray.is_initialized():
                ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterUnavailable(f"Cannot join the Ray cluster at {address}: {exc}") from None
        self._actor_class = ray.remote(ReplicaHost)

    async def close(self, stop_services: bool) -> None:
        """Stop watching; stop the replicas too when ``stop_services``."""
        if stop_services:
            await asyncio.gather(
                *(
                    self.stop(key, "stopped with the manager", keep_failed=True)
                    for key in list(self.versions)
                ),
                return_exceptions=True,
            )
        for version in self.versions.values():
            if version.task is not None:
                version.task.cancel()
        await asyncio.gather(
            *(v.task for v in self.versions.values() if v.task), return_exceptions=True
        )

    # -- the Runtime interface --------------------------------------------------------------------
    def supervise(
        self,
        spec: LaunchSpec,
        *,
        adopt: ProcessHandle | None = None,
        since: float | None = None,
        established: bool = False,
    ) -> _ClusterVersion:
        """Watch ``spec``'s version and keep ``spec.replicas`` actors of it (existing ones,
        after a manager restart, are found again by name)."""
        version = self.versions.get(spec.key)
        if version is not None and version.task is not None and not version.task.done():
            raise RuntimeError(f"{spec.key} is already supervised")
        version = _ClusterVersion(spec, max(spec.replicas, 1))
        if established:
            version.message = "re-attaching to its replicas after a manager restart"
        self.versions[spec.key] = version
        version.task = asyncio.create_task(self._watch(version), name=f"ray {spec.key}")
        return version

    async def scale(self, key: str, replicas: int) -> None:
        """Keep ``replicas`` actors of ``key`` from now on (the next check makes or removes)."""
        version = self.versions.get(key)
        if version is not None:
            version.desired = version.spec.replicas = max(replicas, 1)
            version.wake.set()

    async def stop(
        self, key: str, message: str = "stopped on request", *, keep_failed: bool = False
    ) -> None:
        """Stop every replica of ``key`` and its watch."""
        version = self.versions.get(key)
        if version is None:
            return
        version.want_running = False
        version.wake.set()
        if version.task is not None:
            version.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await version.task
        if self._connected:
            await self._remove_actors(version, 0)
        version.table.clear()
        self._publish(key, version)
        if keep_failed and version.status == Status.FAILED:
            return
        if version.status != Status.STOPPED:
            await self._set(version, Status.STOPPED, message)

    async def forget(self, key: str) -> None:
        """Stop ``key`` and drop it; its bundle leaves the cluster's store."""
        await self.stop(key, "stopped to be removed")
        self.versions.pop(key, None)
        self.on_replicas(key, [])

    async def wait_settled(self, key: str, timeout: float) -> Status:
        """Wait until ``key`` runs (one replica ready), failed or stopped."""
        version = self.versions[key]
        deadline = time.monotonic() + timeout
        if not version.prepared:  # the wheelhouse may be building: allow for it
            deadline += self.settings.manager_build_timeout
        settled = {Status.RUNNING, Status.FAILED, Status.CRASHED, Status.STOPPED}
        while version.recorded not in settled:
            remaining = deadline - time.monotonic()
            if version.prepared and not version.task:
                break
            if remaining <= 0:
                break
            version.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(version.changed.wait(), min(remaining, 1.0))
        return version.recorded or version.status

    def supervised(self, key: str) -> bool:
        """Whether ``key``'s watch runs."""
        version = self.versions.get(key)
        return version is not None and version.task is not None and not version.task.done()

    def knows(self, key: str) -> bool:
        """Whether ``key`` was supervised (and not forgotten)."""
        return key in self.versions

    def ports(self) -> set[int]:
        """No port of this machine: replicas take theirs on their nodes."""
        return set()

    def replicas(self, key: str) -> list[Replica]:
        """The replica table of ``key``, by index."""
        version = self.versions.get(key)
        return [version.table[i] for i in sorted(version.table)] if version else []

    # -- the watch of one version -----------------------------------------------------------------
    async def _watch(self, version: _ClusterVersion) -> None:
        key = version.spec.key
        try:
            await self.connect()
            bundle = await asyncio.to_thread(self._publish_bundle, version.spec)
        except (BuildFailed, ClusterUnavailable) as exc:
            await self._set(
                version,
                Status.FAILED,
                exc.message if isinstance(exc, ClusterUnavailable) else str(exc),
            )
            return
        except Exception:
            logger.exception("preparing %s for the cluster failed", key)
            await self._set(
                version, Status.FAILED, "preparing it for the cluster failed; see the manager log"
            )
            return
        version.prepared = True
        await self._emit(version)
        plan = self._plan_text(version.spec, bundle)
        interval = self.settings.manager_replica_check_interval
        while version.want_running:
            try:
                await self._reconcile(version, plan)
                await self._check(version)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("checking the replicas of %s failed", key)
            version.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(version.wake.wait(), interval)

    def _publish_bundle(self, spec: LaunchSpec) -> Bundle:
        from ray.experimental.internal_kv import _internal_kv_exists, _internal_kv_put

        source, data = self.bundles.source(spec.workdir)
        if not _internal_kv_exists(source_key(source)):
            _internal_kv_put(source_key(source), data)
        lock, wheels = self.bundles.wheelhouse(spec.workdir)
        if not _internal_kv_exists(wheels_key(lock)):
            _internal_kv_put(wheels_key(lock), wheels)
        return Bundle(source, lock)

    def _plan_text(self, spec: LaunchSpec, bundle: Bundle) -> dict[str, Any]:
        settings = self.settings
        env = {k: v for k, v in spec.env.items() if k.startswith("MVI_") or k == "PYTHONUNBUFFERED"}
        node_ip = settings.manager_ray_node_ip
        if not ip_address(node_ip).is_loopback and "MVI_MANAGER_URL" in env:
            env["MVI_MANAGER_URL"] = f"http://{node_ip}:{settings.manager_port}"
        return {
            "key": spec.key,
            "source": bundle.source,
            "lock": bundle.lock,
            "app_file": spec.app_file,
            "arguments": spec.arguments or [],
            "root_path": spec.root_path,
            "env": env,
            "node_dir": settings.manager_ray_node_dir,
            "startup_timeout": settings.manager_startup_timeout,
            "stop_timeout": settings.manager_stop_timeout,
            "build_timeout": settings.manager_build_timeout,
        }

    async def _reconcile(self, version: _ClusterVersion, plan: dict[str, Any]) -> None:
        spec = version.spec
        for index in range(version.desired):
            if index in version.handles:
                continue
            text = ReplicaPlan.model_validate({**plan, "index": index}).model_dump_json().encode()
            options: dict[str, Any] = {
                "name": actor_name(spec.key, index),
                "namespace": self.settings.manager_ray_namespace,
                "lifetime": "detached",
                "get_if_exists": True,
                "max_restarts": -1,
                "max_task_retries": 0,
                "max_concurrency": 4,
                "num_cpus": spec.cpus,
                "scheduling_strategy": "SPREAD",
            }
            if spec.memory_mb:
                options["memory"] = spec.memory_mb * _MIB
            version.handles[index] = await asyncio.to_thread(self._make_actor, options, text)
        await self._remove_actors(version, version.desired)

    def _make_actor(self, options: dict[str, Any], plan: bytes) -> Any:
        return self._actor_class.options(**options).remote(plan)

    async def _remove_actors(self, version: _ClusterVersion, first: int) -> None:
        """Stop and kill the actors of ``version`` from index ``first`` on, also those a
        previous manager made beyond the number (found by name)."""
        import ray

        prefix = f"{version.spec.key}#"
        names = await asyncio.to_thread(ray.util.list_named_actors)
        for name in names:
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                index = int(name[len(prefix) :])
                if index >= first and index not in version.handles:
                    with contextlib.suppress(ValueError):
                        version.handles[index] = await asyncio.to_thread(
                            ray.get_actor, name, self.settings.manager_ray_namespace
                        )
        doomed = {i: h for i, h in version.handles.items() if i >= first}
        for index, handle in doomed.items():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(handle.stop.remote(), self.settings.manager_stop_timeout + 5)
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)
            version.handles.pop(index, None)
            version.table.pop(index, None)

    async def _check(self, version: _ClusterVersion) -> None:
        async def ask(index: int, handle: Any) -> tuple[int, dict[str, Any] | None]:
            try:
                raw = await asyncio.wait_for(handle.describe.remote(), _CALL_TIMEOUT)
                found = orjson.loads(raw)
                return index, found if isinstance(found, dict) else None
            except Exception:
                return index, None

        answers = await asyncio.gather(*(ask(i, h) for i, h in version.handles.items()))
        for index, found in answers:
            old = version.table.get(index)
            if found is None:  # restarting, or its node is gone: not ready meanwhile
                if old is not None and old.ready:
                    version.table[index] = Replica(
                        index, False, old.endpoint, old.node, old.pid, old.restarts + 1
                    )
                    version.restarts += 1
                continue
            port = found.get("port")
            endpoint = (
                Endpoint(str(found.get("host")), int(port), str(found.get("node", ""))[:12])
                if isinstance(port, int)
                else None
            )
            pid = found.get("pid") if isinstance(found.get("pid"), int) else None
            restarts = old.restarts if old is not None else 0
            if old is not None and old.pid is not None and pid is not None and old.pid != pid:
                restarts += 1
                version.restarts += 1
            version.table[index] = Replica(
                index,
                bool(found.get("ready")),
                endpoint,
                endpoint.node if endpoint else "",
                pid,
                restarts,
            )
            if found.get("error"):
                version.message = f"replica {index}: {found['error']}"
        for index in [i for i in version.table if i not in version.handles]:
            del version.table[index]
        self._publish(version.spec.key, version)
        ready = sum(1 for r in version.table.values() if r.ready)
        if ready and version.status != Status.RUNNING:
            await self._set(version, Status.RUNNING, f"{ready} of {version.desired} replicas ready")
        elif not ready and version.status == Status.RUNNING:
            await self._set(
                version, Status.STARTING, "no replica is ready; Ray is starting them again"
            )
        elif version.recorded is None:
            await self._emit(version)

    def _publish(self, key: str, version: _ClusterVersion) -> None:
        try:
            self.on_replicas(key, self.replicas(key))
        except Exception:
            logger.exception("a replica listener failed on %s", key)

    async def _set(self, version: _ClusterVersion, status: Status, message: str) -> None:
        version.status, version.since, version.message = status, time.time(), message
        await self._emit(version)

    async def _emit(self, version: _ClusterVersion) -> None:
        spec = version.spec
        event = StatusEvent(
            name=spec.name,
            version=spec.version,
            status=version.status,
            since=version.since,
            message=version.message,
            pid=None,
            pid_started=None,
            port=spec.port,
            restarts=version.restarts,
        )
        try:
            await self.listener(event)
        except Exception:
            logger.exception("recording the status of %s failed", spec.key)
        version.recorded = event.status
        version.changed.set()
