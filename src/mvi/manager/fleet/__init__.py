"""The fleet: every service version this manager runs, and the operations on them.

:class:`~mvi.manager.fleet.operations.Fleet` is what the REST API calls. It keeps the
registry (what is deployed and what should run), the supervisor (processes), the gateway's
routing table and the built environments in agreement, one operation per name at a time.
Deploys are in :mod:`~mvi.manager.fleet.deploys`, the reconciliation at start in
:mod:`~mvi.manager.fleet.recovery`, and the decisions they take, without I/O, in
:mod:`~mvi.manager.fleet.rules`.
"""

__all__: list[str] = []
