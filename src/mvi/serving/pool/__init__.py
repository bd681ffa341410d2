"""Entrypoint worker processes (``@service.entrypoint(workers=N)``).

:mod:`~mvi.serving.pool.pool` is the service process's side (:class:`WorkerPool`: start,
call, restart, stop), :mod:`~mvi.serving.pool.worker` the main program each worker runs.
They talk in :mod:`mvi.transport.framing`'s frames over a UNIX socket pair.
"""
