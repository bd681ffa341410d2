"""The autoscaler: once per interval, each autoscaled version gets the replicas its load
needs, as :class:`~mvi.manager.fleet.autoscaling.ScalingPolicy` decides from the gateway's
own count of its requests in flight (:meth:`~mvi.manager.gateway.balancer.Balancer.take_load`).
The new number is written to the registry (``replicas``) and given to the runtime.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mvi.manager.fleet.autoscaling import ScalingPolicy, ScalingState
from mvi.manager.fleet.parts import FleetParts
from mvi.manager.gateway.balancer import Balancer
from mvi.manager.registry import ServiceVersion

__all__ = ["Autoscaler"]

logger = logging.getLogger("mvi.manager.autoscaler")


class Autoscaler:
    """Drives the scaling policy of every autoscaled version of a fleet."""

    def __init__(self, parts: FleetParts, balancer: Balancer) -> None:
        self.parts = parts
        self.balancer = balancer
        self.interval = parts.settings.manager_autoscale_interval
        self._states: dict[str, ScalingState] = {}

    def policy_of(self, row: ServiceVersion) -> ScalingPolicy | None:
        """The policy of an autoscaled version (``None`` when it is not autoscaled)."""
        if row.min_replicas is None or row.max_replicas is None or row.target_inflight is None:
            return None
        return ScalingPolicy(
            row.min_replicas,
            row.max_replicas,
            row.target_inflight,
            self.parts.settings.manager_autoscale_cooldown,
        )

    async def run(self) -> None:
        """Decide every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.step(time.monotonic())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("an autoscaling step failed")

    async def step(self, now: float) -> None:
        """One decision for every autoscaled, supervised version."""
        parts = self.parts
        rows = await parts.registry.versions()
        keys = set()
        for row in rows:
            policy = self.policy_of(row)
            if policy is None or not parts.supervisor.supervised(row.key):
                continue
            keys.add(row.key)
            state = self._states.setdefault(row.key, ScalingState())
            load = self.balancer.take_load(row.key)
            wanted = policy.decide(state, now, load, row.replicas)
            if wanted == row.replicas:
                continue
            async with parts.lock(row.name):
                logger.info(
                    "%s: %d -> %d replicas (%.2f requests in flight)",
                    row.key,
                    row.replicas,
                    wanted,
                    load,
                )
                await parts.registry.update(row.name, row.version, replicas=wanted)
                await parts.supervisor.scale(row.key, wanted)
        for key in set(self._states) - keys:
            del self._states[key]
