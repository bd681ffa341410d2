"""Who may call the manager.

:mod:`~mvi.manager.auth.access` decides what a request needs and what a caller may do, and
:mod:`~mvi.manager.auth.tokens` makes and checks the tokens (JWTs), both without I/O;
:mod:`~mvi.manager.auth.login_limiter` slows down password guessing.
:mod:`~mvi.manager.auth.credentials` keeps the signing secret, the users and the issued
tokens (the registry); :mod:`~mvi.manager.auth.guard` is the ASGI middleware that checks
every request before the API or the gateway sees it.
"""

__all__: list[str] = []
