"""The Ray runtime: each replica of a version is a detached, named Ray actor on a node of
the cluster, which builds the version's environment there and supervises its process.

- :mod:`~mvi.manager.runtimes.ray.safety`: Ray's environment, set before ``ray`` is imported
  (no usage reports, no cloud probes, loopback in tests, a token);
- :mod:`~mvi.manager.runtimes.ray.bundle`: a version's source and wheelhouse, made by the
  manager, kept in the cluster's GCS, and unpacked and installed offline on each node;
- :mod:`~mvi.manager.runtimes.ray.actor`: the replica actor, on the node;
- :mod:`~mvi.manager.runtimes.ray.runtime`: the manager's side, :class:`RayRuntime`;
- :mod:`~mvi.manager.runtimes.ray.node`: the node helper behind ``mvi node start``.

Nothing here imports ``ray`` at import time: a manager without the ``ray`` extra runs local
processes only.
"""

from __future__ import annotations

__all__: list[str] = []
