"""Where versions run: a runtime starts, stops, locates and watches a version's replicas.

:mod:`mvi.manager.runtimes.base` is the interface the fleet uses (a
:class:`~mvi.manager.runtimes.base.Runtime`), :mod:`mvi.manager.runtimes.local` runs
replicas as local processes with the supervisor (the default), and
:mod:`mvi.manager.runtimes.ray` runs them as actors on a Ray cluster.
"""

from __future__ import annotations

from mvi.manager.runtimes.base import Replica, ReplicaListener, Runtime

__all__ = ["Replica", "ReplicaListener", "Runtime"]
