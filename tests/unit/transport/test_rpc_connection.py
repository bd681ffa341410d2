"""The client connection's bookkeeping: answers matched to calls by id, in any order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from mvi._exceptions import FrameTooLarge, RemoteError, RpcDisconnected
from mvi.transport.framing import encode_frame
from mvi.transport.rpc.connection import ClientConnection, ItemStream
from mvi.transport.rpc.protocol import END, ERROR, ITEM, RESULT


class Recorder(asyncio.Transport):
    """What the connection writes and whether it reads: the other side of the socket."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.reading = True
        self.closed = False

    def writelines(self, data: Any) -> None:
        self.written.append(b"".join(bytes(part) for part in data))

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def abort(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


def frames(*values: Any) -> bytes:
    return b"".join(b"".join(bytes(p) for p in encode_frame(v)) for v in values)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def connected(loop: asyncio.AbstractEventLoop) -> tuple[ClientConnection, Recorder, list[int]]:
    released: list[int] = []
    connection = ClientConnection(loop, lambda: released.append(1), 1 << 20)
    transport = Recorder()
    connection.connection_made(transport)
    feed(connection, frames([2, {"protocol": 1, "max_frame_bytes": 1000, "backlog": 4}]))
    return connection, transport, released


def feed(connection: ClientConnection, data: bytes) -> None:
    while data:
        target = connection.get_buffer(-1)
        count = min(len(target), len(data))
        target[:count] = data[:count]
        data = data[count:]
        connection.buffer_updated(count)


def test_answers_in_any_order_resolve_their_own_calls(loop: asyncio.AbstractEventLoop) -> None:
    connection, _, released = connected(loop)
    futures = [loop.create_future() for _ in range(4)]
    ids = [connection.call("/x", i, future) for i, future in enumerate(futures)]
    assert ids == [1, 2, 3, 4]
    feed(
        connection,
        frames(
            [RESULT, 3, "c"],
            [ERROR, 1, {"category": "internal", "type": "ValueError", "message": "a"}],
            [RESULT, 4, "d"],
            [RESULT, 2, "b"],
        ),
    )
    assert [f.result() for f in futures[1:]] == ["b", "c", "d"]
    assert isinstance(futures[0].exception(), RemoteError)
    assert len(released) == 4 and connection.calls == {}


def test_one_turn_of_calls_is_one_write(loop: asyncio.AbstractEventLoop) -> None:
    connection, transport, _ = connected(loop)
    for i in range(10):
        connection.call("/x", i, loop.create_future())
    loop.run_until_complete(asyncio.sleep(0))
    assert len(transport.written) == 1


def test_a_request_over_the_servers_limit_is_not_sent(loop: asyncio.AbstractEventLoop) -> None:
    connection, _, _ = connected(loop)
    with pytest.raises(FrameTooLarge, match="1000-byte limit"):
        connection.call("/x", b"x" * 2000, loop.create_future())
    assert connection.calls == {} and connection.next_id == 1


def test_answers_to_unknown_or_cancelled_ids_are_dropped(loop: asyncio.AbstractEventLoop) -> None:
    connection, transport, released = connected(loop)
    future = loop.create_future()
    request_id = connection.call("/x", 1, future)
    connection.cancel(request_id)
    feed(connection, frames([RESULT, request_id, "late"], [RESULT, 99, "never asked"]))
    assert not future.done() and len(released) == 1
    loop.run_until_complete(asyncio.sleep(0))
    assert frames([1, request_id]) in transport.written[-1]  # the server is told


def test_stream_items_then_end(loop: asyncio.AbstractEventLoop) -> None:
    connection, _, released = connected(loop)
    stream = ItemStream(connection)
    request_id = connection.call("/s", None, stream)
    feed(connection, frames([ITEM, request_id, 0], [ITEM, request_id, 1], [END, request_id]))

    async def read() -> list[Any]:
        items = []
        while True:
            try:
                items.append(await stream.next(1.0))
            except StopAsyncIteration:
                return items

    assert loop.run_until_complete(read()) == [0, 1]
    assert len(released) == 1


def test_a_request_of_a_streaming_route_collects_its_items(loop: asyncio.AbstractEventLoop) -> None:
    connection, _, _ = connected(loop)
    future = loop.create_future()
    request_id = connection.call("/s", None, future)
    feed(connection, frames([ITEM, request_id, "a"], [ITEM, request_id, "b"], [END, request_id]))
    assert future.result() == ["a", "b"]


def test_a_slow_stream_consumer_stops_the_reading(loop: asyncio.AbstractEventLoop) -> None:
    connection, transport, _ = connected(loop)
    stream = ItemStream(connection)
    request_id = connection.call("/s", None, stream)
    feed(connection, frames(*([ITEM, request_id, i] for i in range(300))))
    assert not transport.reading
    for _ in range(300 - 64):
        loop.run_until_complete(stream.next(1.0))
    assert transport.reading


def test_a_connection_error_then_loss_fails_every_call(loop: asyncio.AbstractEventLoop) -> None:
    connection, _, released = connected(loop)
    futures = [loop.create_future() for _ in range(3)]
    for future in futures:
        connection.call("/x", None, future)
    feed(
        connection,
        frames([ERROR, 0, {"category": "too_large", "type": "FrameTooLarge", "message": "big"}]),
    )
    connection.connection_lost(None)
    for future in futures:
        error = future.exception()
        assert isinstance(error, RpcDisconnected) and "big" in str(error)
    assert len(released) == 3
    with pytest.raises(RpcDisconnected):
        connection.call("/x", None, loop.create_future())


def test_a_malformed_reply_aborts_the_connection(loop: asyncio.AbstractEventLoop) -> None:
    connection, transport, _ = connected(loop)
    feed(connection, frames(["not", "a", "reply", "at all"]))
    assert transport.closed
    connection.connection_lost(None)
    assert "malformed frame" in str(connection.lost)
