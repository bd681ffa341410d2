"""Several HTTP processes serving one service on one port (``MVI_WORKERS=N``).

:mod:`~mvi.serving.processes.supervisor` forks and watches them,
:mod:`~mvi.serving.processes.http_process` is what each runs after the fork, and
:mod:`~mvi.serving.processes.replication` shares parameter updates between them.
"""
