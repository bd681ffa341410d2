"""The replica credential: a service that listens on a cluster node's address answers only
the manager's gateway.

On a cluster a replica listens on its node's network address, where anyone on that network
could call it around the gateway's authentication. The manager gives each version a random
secret (``MVI_SERVICE_REPLICA_SECRET``); the gateway sends it in :data:`REPLICA_KEY_HEADER`
(and drops any copy a client sent), and :class:`ReplicaGuard` answers 403 to every request
without it, before the request reaches the application (no body is read, no work is done).
"""

from __future__ import annotations

import hmac

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["REPLICA_KEY_HEADER", "ReplicaGuard"]

REPLICA_KEY_HEADER = b"x-mvi-replica-key"
"""The request header that carries a version's replica credential."""

_REFUSED = orjson.dumps(
    {"detail": "This replica answers only its manager's gateway: call the service through it"}
)


class ReplicaGuard:
    """ASGI middleware: HTTP and websocket requests must carry the version's secret."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        if not secret:
            raise ValueError("the replica secret must not be empty")
        self.app = app
        self._secret = secret.encode()

    def admits(self, scope: Scope) -> bool:
        """Whether the request's headers carry the secret (compared in constant time)."""
        for name, value in scope.get("headers", ()):
            if name == REPLICA_KEY_HEADER:
                return hmac.compare_digest(value, self._secret)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or self.admits(scope):
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_REFUSED)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _REFUSED})
