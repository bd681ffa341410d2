"""WebSocket upgrades through the gateway: one upstream connection per client connection.

The guard has already authenticated the handshake as it does an HTTP request (and removed
the caller's token); the gateway resolves the path as for HTTP, opens a WebSocket to the
version (the same upstream path and forwarded headers, the client's ``Origin`` and
subprotocols passed on), and only then accepts the client, with the subprotocol the
service chose. A service that refuses the handshake or cannot be reached closes the
client's handshake (HTTP 403 to the client). Messages are relayed as they come, text as
text and bytes as bytes, each at most ``max_message_bytes`` in either direction (a larger
one closes both sides with 1009). A close on either side closes the other with the same
code and reason (:func:`relayed_close`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Origin, Subprotocol

__all__ = ["WebSocketRelay", "relayed_close"]

logger = logging.getLogger("mvi.manager.gateway")

_HANDSHAKE = frozenset(
    {
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"sec-websocket-accept",
        b"origin",
    }
)  # the client library makes its own handshake; Origin is passed as its own argument
_TOO_BIG = 1009
_INTERNAL = 1011
_POLICY = 1008


def relayed_close(code: int | None, reason: str = "") -> tuple[int, str]:
    """The close code and reason to send on, given those one side closed with.

    1005 (no code) and a missing code become 1000; 1006 (the connection dropped without a
    close) becomes 1011; codes that may not be sent in a close frame become 1011 too. A
    reason is cut to the 123 bytes a close frame holds.
    """
    if code is None or code == 1005:
        code = 1000
    elif code == 1006 or not (1000 <= code <= 4999) or code in (1004, 1015):
        code = _INTERNAL
    encoded = reason.encode("utf-8")[:123]
    return code, encoded.decode("utf-8", "ignore")


def _origin(headers: list[tuple[bytes, bytes]]) -> Origin | None:
    for key, value in headers:
        if key == b"origin":
            return Origin(value.decode("latin-1"))
    return None


class WebSocketRelay:
    """Relays one WebSocket connection between a client and a service version."""

    def __init__(self, *, max_message_bytes: int, open_timeout: float) -> None:
        self.max_message_bytes = max_message_bytes
        self.open_timeout = open_timeout

    async def relay(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        host: str,
        port: int,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Connect to ``ws://{host}:{port}{target}`` and relay until one side closes."""
        first: Message = await receive()
        if first["type"] != "websocket.connect":
            return
        uri = f"ws://{host}:{port}{target.decode('latin-1')}"
        forwarded = [
            (key.decode("latin-1"), value.decode("latin-1"))
            for key, value in headers
            if key not in _HANDSHAKE
        ]
        subprotocols = [Subprotocol(p) for p in scope.get("subprotocols", ())]
        try:
            upstream = await connect(
                uri,
                origin=_origin(scope["headers"]),
                subprotocols=subprotocols or None,
                additional_headers=forwarded,
                user_agent_header=None,
                proxy=None,
                open_timeout=self.open_timeout,
                max_size=self.max_message_bytes,
                compression=None,
            )
        except InvalidStatus as exc:
            logger.info("%s: the service refused the WebSocket (%s)", uri, exc)
            await send({"type": "websocket.close", "code": _POLICY})
            return
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            logger.info("%s: no WebSocket to the service (%s)", uri, exc)
            await send({"type": "websocket.close", "code": _INTERNAL})
            return
        try:
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
            await self._pump(receive, send, upstream)
        finally:
            await upstream.close()

    async def _pump(self, receive: Receive, send: Send, upstream: ClientConnection) -> None:
        to_service = asyncio.create_task(self._to_service(receive, send, upstream))
        to_client = asyncio.create_task(self._to_client(send, upstream))
        try:
            done, _ = await asyncio.wait({to_service, to_client}, return_when="FIRST_COMPLETED")
            if to_service in done and to_service.exception() is None:
                # the client left, or sent too much: the service's last messages have
                # nowhere to go
                to_client.cancel()
            else:
                to_service.cancel()
            for task in (to_service, to_client):
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                    await task
        finally:
            to_service.cancel()
            to_client.cancel()

    async def _to_service(self, receive: Receive, send: Send, upstream: ClientConnection) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "websocket.disconnect":
                code, reason = relayed_close(message.get("code"), message.get("reason") or "")
                await upstream.close(code, reason)
                return
            if message["type"] != "websocket.receive":
                continue
            data: str | bytes | None = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
            if size > self.max_message_bytes:
                reason = f"message over {self.max_message_bytes} bytes"
                await send({"type": "websocket.close", "code": _TOO_BIG, "reason": reason})
                await upstream.close(_TOO_BIG, reason)
                return
            await upstream.send(data)

    async def _to_client(self, send: Send, upstream: ClientConnection) -> None:
        try:
            async for data in upstream:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed:
            pass
        received = upstream.protocol.close_rcvd
        sent = upstream.protocol.close_sent
        if received is not None:
            code, reason = relayed_close(received.code, received.reason)
        elif sent is not None:  # we closed it (a message too big from the service)
            code, reason = relayed_close(sent.code, sent.reason)
        else:
            code, reason = relayed_close(1006)
        with contextlib.suppress(OSError, RuntimeError):
            await send({"type": "websocket.close", "code": code, "reason": reason})
