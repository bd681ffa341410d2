"""How many replicas a version needs for its load: the autoscaling policy, without I/O.

The gateway counts each version's requests in flight; once per interval the autoscaler
hands the mean of that count (weighted by time) to :meth:`ScalingPolicy.decide`, which
answers the number of replicas to run:

- enough replicas for ``target`` requests in flight each, ``ceil(load / target)``, within
  ``[min_replicas, max_replicas]``;
- up at once: a version whose load needs more replicas gets them all in one step;
- down slowly: one replica fewer at a time, only after the load has needed fewer for
  ``cooldown`` seconds and ``cooldown`` seconds after the last change;
- never below ``min_replicas`` nor above ``max_replicas`` (a number outside them is brought
  back at once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ScalingPolicy", "ScalingState"]


@dataclass
class ScalingState:
    """What the policy remembers of one version between two decisions."""

    changed_at: float | None = None
    """When the policy last changed the number (``None``: never)."""
    low_since: float | None = None
    """Since when the load has needed fewer replicas than run (``None``: it does not)."""


@dataclass(frozen=True)
class ScalingPolicy:
    """The bounds and target of one version, and the cooldown of scaling down."""

    min_replicas: int
    max_replicas: int
    target: float
    """Requests in flight per replica that the policy aims at."""
    cooldown: float

    def __post_init__(self) -> None:
        if self.min_replicas < 1 or self.max_replicas < self.min_replicas:
            raise ValueError("need 1 <= min_replicas <= max_replicas")
        if self.target <= 0:
            raise ValueError("the target of requests in flight must be above 0")

    def needed(self, load: float) -> int:
        """The replicas ``load`` requests in flight need, within the bounds."""
        wanted = math.ceil(load / self.target - 1e-9) if load > 0 else 0
        return min(max(wanted, self.min_replicas), self.max_replicas)

    def decide(self, state: ScalingState, now: float, load: float, current: int) -> int:
        """The number of replicas to run from ``now`` on, given ``current`` and ``load``."""
        bounded = min(max(current, self.min_replicas), self.max_replicas)
        if bounded != current:
            state.changed_at, state.low_since = now, None
            return bounded
        needed = self.needed(load)
        if needed > current:
            state.changed_at, state.low_since = now, None
            return needed
        if needed == current:
            state.low_since = None
            return current
        if state.low_since is None:
            state.low_since = now
        calm = now - state.low_since >= self.cooldown
        settled = state.changed_at is None or now - state.changed_at >= self.cooldown
        if calm and settled:
            state.changed_at = now
            state.low_since = now if current - 1 > needed else None
            return current - 1
        return current
