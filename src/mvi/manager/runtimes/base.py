"""The interface between the fleet and where its versions run.

A :class:`Runtime` keeps each supervised version's replicas as the operator asked: it
starts them (:meth:`Runtime.supervise`), changes their number (:meth:`Runtime.scale`),
stops them, says where they are (:meth:`Runtime.replicas`), and reports every change twice:
the version's status as a :class:`~mvi.manager.supervision.supervisor.StatusEvent` (the
fleet records it in the registry) and its replicas to a :data:`ReplicaListener` (the fleet
hands the ready ones to the gateway's balancer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mvi.manager.gateway.balancer import Endpoint
from mvi.manager.supervision.process import ProcessHandle
from mvi.manager.supervision.states import Status
from mvi.manager.supervision.supervisor import LaunchSpec

__all__ = ["Replica", "ReplicaListener", "Runtime"]


@dataclass(frozen=True)
class Replica:
    """One replica of a version, as its runtime last saw it."""

    index: int
    ready: bool
    endpoint: Endpoint | None
    """Where it listens (``None`` before it has started)."""
    node: str
    """The machine (``local``) or cluster node it runs on."""
    pid: int | None = None
    restarts: int = 0


ReplicaListener = Callable[[str, list[Replica]], None]
"""Hears ``(key, replicas)`` whenever the replicas of a version change."""


class Runtime(Protocol):
    """Starts, stops, locates and watches the replicas of versions."""

    def supervise(
        self,
        spec: LaunchSpec,
        *,
        adopt: ProcessHandle | None = None,
        since: float | None = None,
        established: bool = False,
    ) -> object:
        """Take a version under supervision with ``spec.replicas`` replicas and start them
        (``adopt``/``established``: after a manager restart, find what still runs)."""

    async def scale(self, key: str, replicas: int) -> None:
        """Change how many replicas of a supervised version run."""

    async def stop(
        self, key: str, message: str = "stopped on request", *, keep_failed: bool = False
    ) -> None:
        """Stop every replica of ``key`` gracefully (``keep_failed``: keep a failure)."""

    async def forget(self, key: str) -> None:
        """Stop ``key`` and drop it."""

    async def close(self, stop_services: bool) -> None:
        """Stop supervising: stop every version, or leave them for the next manager."""

    async def wait_settled(self, key: str, timeout: float) -> Status:
        """Wait until ``key`` is running, failed, crashed or stopped (or ``timeout``)."""

    def supervised(self, key: str) -> bool:
        """Whether ``key`` is under supervision and its supervision still goes on."""

    def knows(self, key: str) -> bool:
        """Whether ``key`` was ever supervised by this runtime (and not forgotten)."""

    def ports(self) -> set[int]:
        """The ports on this machine that its replicas hold."""

    def replicas(self, key: str) -> list[Replica]:
        """The replicas of ``key`` (empty when it is not supervised)."""
