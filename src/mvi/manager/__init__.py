"""The manager: deploys, supervises and routes to the versions of many services.

One process serves the REST API under ``/api`` and the gateway under ``/services/``
(:mod:`~mvi.manager.app`), started by ``mvi manager start`` through
:func:`mvi.manager.server.serve`. Its parts, one sub-package each:

- :mod:`~mvi.manager.fleet`: the operations on versions (deploy, start, stop, assign,
  rollback, kill) and the recovery at start, over the registry.
- :mod:`~mvi.manager.supervision`: the service processes, their state machine and logs.
- :mod:`~mvi.manager.gateway`: the reverse proxy, its routing table and the shadows.
- :mod:`~mvi.manager.auth`: who may call, the tokens, users and the guard in front.
- :mod:`~mvi.manager.notifications`: what services raise, and the emails of it.
- :mod:`~mvi.manager.builds`: deploy archives and the virtual environments they need.
- :mod:`~mvi.manager.api`: the REST routers and their JSON bodies.

At the top: :mod:`~mvi.manager.registry` (the database of versions, users, tokens and
notifications, migrated by :mod:`~mvi.manager.migrations`), :mod:`~mvi.manager.layout`
(the data directory) and :mod:`~mvi.manager.naming` (valid names, versions and routes).
"""

__all__: list[str] = []
