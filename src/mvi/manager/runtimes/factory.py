"""The runtime the settings choose (``MVI_MANAGER_RUNTIME``): local processes or Ray."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mvi.manager.layout import DataDir
from mvi.manager.runtimes.base import ReplicaListener, Runtime
from mvi.manager.runtimes.local import LocalRuntime
from mvi.manager.supervision.supervisor import LaunchSpec, StatusEvent
from mvi.settings import Settings

__all__ = ["create_runtime"]


def create_runtime(
    settings: Settings,
    layout: DataDir,
    *,
    listener: Callable[[StatusEvent], Awaitable[None]],
    on_replicas: ReplicaListener,
    pick_port: Callable[[], Awaitable[int]],
    repick_port: Callable[[LaunchSpec], Awaitable[int]],
) -> Runtime:
    """A :class:`~mvi.manager.runtimes.local.LocalRuntime`, or with ``manager_runtime="ray"``
    a :class:`~mvi.manager.runtimes.ray.runtime.RayRuntime` (connected on first use)."""
    if settings.manager_runtime == "ray":
        from mvi.manager.runtimes.ray.runtime import RayRuntime

        return RayRuntime(settings, layout, listener=listener, on_replicas=on_replicas)
    return LocalRuntime(
        settings,
        listener=listener,
        on_replicas=on_replicas,
        pick_port=pick_port,
        repick_port=repick_port,
    )
