"""Supervision: each service version's process kept in the state the operator asked for.

:mod:`~mvi.manager.supervision.supervisor` runs the processes (start, readiness, restart
with backoff, stop), following the state machine of :mod:`~mvi.manager.supervision.states`
(no I/O). :mod:`~mvi.manager.supervision.process` is one process, started or adopted from a
previous manager; :mod:`~mvi.manager.supervision.logs` the log files they write, rotated
and read back.
"""

__all__: list[str] = []
