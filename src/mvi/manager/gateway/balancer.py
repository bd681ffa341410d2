"""Which replica of a version takes the next request, decided without I/O.

A version may be served by several replicas (processes on this machine or on a cluster's
nodes). The fleet publishes where each listens (:meth:`Balancer.set_endpoints`); the gateway
asks :meth:`Balancer.pick` for the replica with the fewest requests outstanding (ties go
round), counts each request while it is in flight (:meth:`acquire`, :meth:`release`), and
after a refused or reset connection marks the replica failed for a moment and asks again,
excluding the replicas it tried. The counts also give the autoscaler its load: the mean
number of requests in flight since its last look (:meth:`take_load`), weighted by time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

__all__ = ["Balancer", "Endpoint"]


@dataclass(frozen=True)
class Endpoint:
    """Where one replica listens, and on which node (for ``mvi ls``)."""

    host: str
    port: int
    node: str = "local"


@dataclass
class _ReplicaLoad:
    endpoint: Endpoint
    outstanding: int = 0
    failed_until: float = 0.0


@dataclass
class _VersionLoad:
    replicas: list[_ReplicaLoad] = field(default_factory=list)
    turn: int = 0
    inflight: int = 0
    area: float = 0.0
    """Requests in flight integrated over time since ``window_start``."""
    changed_at: float = 0.0
    window_start: float = 0.0


class Balancer:
    """The replicas of every version and their requests in flight."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, failure_pause: float = 1.0
    ) -> None:
        self.clock = clock
        self.failure_pause = failure_pause
        """Seconds a replica that refused a connection is passed over (unless it is the last)."""
        self._versions: dict[str, _VersionLoad] = {}

    def _version(self, key: str) -> _VersionLoad:
        version = self._versions.get(key)
        if version is None:
            now = self.clock()
            version = self._versions[key] = _VersionLoad(changed_at=now, window_start=now)
        return version

    # -- what the fleet tells ---------------------------------------------------------------
    def set_endpoints(self, key: str, endpoints: Sequence[Endpoint]) -> None:
        """The replicas of ``key`` that are ready now (those that stay keep their counts)."""
        version = self._version(key)
        known = {replica.endpoint: replica for replica in version.replicas}
        version.replicas = [known.get(endpoint) or _ReplicaLoad(endpoint) for endpoint in endpoints]

    def forget(self, key: str) -> None:
        """Drop a removed version."""
        self._versions.pop(key, None)

    def endpoints(self, key: str) -> list[Endpoint]:
        """Where the ready replicas of ``key`` listen."""
        version = self._versions.get(key)
        return [replica.endpoint for replica in version.replicas] if version else []

    # -- what the gateway asks --------------------------------------------------------------
    def pick(self, key: str, exclude: Collection[Endpoint] = ()) -> Endpoint | None:
        """The replica with the fewest requests outstanding, not in ``exclude`` (one that
        failed lately only if no other is left); ``None`` when none is left."""
        version = self._versions.get(key)
        if version is None or not version.replicas:
            return None
        replicas = version.replicas
        count = len(replicas)
        start = version.turn % count
        version.turn += 1
        now = self.clock()
        best: _ReplicaLoad | None = None
        fallback: _ReplicaLoad | None = None
        for offset in range(count):
            replica = replicas[(start + offset) % count]
            if replica.endpoint in exclude:
                continue
            if replica.failed_until > now:
                if fallback is None or replica.outstanding < fallback.outstanding:
                    fallback = replica
                continue
            if best is None or replica.outstanding < best.outstanding:
                best = replica
        chosen = best or fallback
        return chosen.endpoint if chosen is not None else None

    def acquire(self, key: str, endpoint: Endpoint) -> None:
        """A request to ``endpoint`` starts."""
        version = self._version(key)
        self._advance(version)
        version.inflight += 1
        replica = self._replica(version, endpoint)
        if replica is not None:
            replica.outstanding += 1

    def release(self, key: str, endpoint: Endpoint) -> None:
        """A request to ``endpoint`` ended (answered or failed)."""
        version = self._versions.get(key)
        if version is None:
            return
        self._advance(version)
        version.inflight = max(version.inflight - 1, 0)
        replica = self._replica(version, endpoint)
        if replica is not None and replica.outstanding > 0:
            replica.outstanding -= 1

    def failed(self, key: str, endpoint: Endpoint) -> None:
        """``endpoint`` refused or reset a connection: pass it over for a moment."""
        version = self._versions.get(key)
        replica = self._replica(version, endpoint) if version else None
        if replica is not None:
            replica.failed_until = self.clock() + self.failure_pause

    # -- what the autoscaler reads -----------------------------------------------------------
    def inflight(self, key: str) -> int:
        """Requests to ``key`` in flight right now."""
        version = self._versions.get(key)
        return version.inflight if version else 0

    def take_load(self, key: str) -> float:
        """The mean number of requests to ``key`` in flight since the last call (weighted
        by time), and start a new window."""
        version = self._version(key)
        self._advance(version)
        elapsed = version.changed_at - version.window_start
        mean = version.area / elapsed if elapsed > 0 else float(version.inflight)
        version.area = 0.0
        version.window_start = version.changed_at
        return mean

    @staticmethod
    def _replica(version: _VersionLoad, endpoint: Endpoint) -> _ReplicaLoad | None:
        for replica in version.replicas:
            if replica.endpoint == endpoint:
                return replica
        return None

    def _advance(self, version: _VersionLoad) -> None:
        now = self.clock()
        version.area += version.inflight * (now - version.changed_at)
        version.changed_at = now
