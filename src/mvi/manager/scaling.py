"""How many replicas serve a version: the registry columns of issue 15 (``0004_replicas``).

:class:`ScalingColumns` is a mixin of :class:`~mvi.manager.registry.ServiceVersion`: the
number of replicas, autoscaling's bounds and target, the replica credential, and the port
a web app's process always listens on (``0005_app_port``).
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ["ScalingColumns"]


class ScalingColumns:
    """The replica columns of a version."""

    replicas: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """How many replicas should serve it (the autoscaler changes it within its bounds)."""
    min_replicas: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Autoscaling's lower bound (``None``: autoscaling is off)."""
    max_replicas: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Autoscaling's upper bound."""
    target_inflight: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Autoscaling's target of requests in flight per replica."""
    replica_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The credential its replicas on a cluster's nodes demand of every request (the
    gateway's ``x-mvi-replica-key``); ``None`` for local processes."""
    app_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The port its app listens on whatever it is told (``mvi deploy --port``), so it runs
    one local replica there; ``None``: the manager picks each replica's port and tells the
    app (``MVI_PORT``, ``PORT``)."""

    @property
    def autoscaled(self) -> bool:
        """Whether the autoscaler sets its number of replicas."""
        return (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.target_inflight is not None
        )
