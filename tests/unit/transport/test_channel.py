"""Framed JSON messages between the processes of a service: framing, limits, bad frames."""

from __future__ import annotations

import struct
import threading
from typing import Any

import orjson
import pytest

from mvi.transport.channel import (
    Channel,
    ChannelClosed,
    MalformedMessage,
    MessageDecoder,
    encode_message,
)

MESSAGES: list[dict[str, Any]] = [
    {"type": "parameter", "name": "threshold", "value": "0.5"},
    {"type": "ready"},
    {"type": "parameter", "name": "phrase", "value": '"Grüße \\u2603"'},
    {"nested": {"list": [1, 2.5, None, True]}},
]


def frames(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_message(m) for m in messages)


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, 10_000])
def test_messages_survive_any_split_of_the_stream(piece: int) -> None:
    stream = frames(MESSAGES)
    decoder = MessageDecoder()
    received: list[dict[str, Any]] = []
    for start in range(0, len(stream), piece):
        received += decoder.feed(stream[start : start + piece])
    assert received == MESSAGES
    assert decoder.pending == 0


def test_partial_frame_waits_for_the_rest() -> None:
    frame = encode_message({"type": "ready"})
    decoder = MessageDecoder()
    assert decoder.feed(frame[:-1]) == []
    assert decoder.pending == len(frame) - 1
    assert decoder.feed(frame[-1:]) == [{"type": "ready"}]


def test_frame_over_the_limit_is_refused_before_it_is_buffered() -> None:
    decoder = MessageDecoder(limit=100)
    with pytest.raises(MalformedMessage, match="over the 100"):
        decoder.feed(struct.pack(">I", 101))


def test_message_over_the_limit_is_not_sent() -> None:
    from mvi.transport import channel

    with pytest.raises(MalformedMessage, match="over the"):
        encode_message({"value": "x" * (channel.MAX_MESSAGE_BYTES + 1)})


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'"text"', b"{", b"\xff\xfe"],
    ids=["garbage", "array", "string", "truncated", "bad-utf8"],
)
def test_body_that_is_not_a_json_object_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        MessageDecoder().feed(struct.pack(">I", len(body)) + body)


def test_channel_pair_carries_messages_both_ways_and_reports_the_end() -> None:
    left, right = Channel.pair()
    received: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: received.extend(right))
    reader.start()
    for message in MESSAGES:
        left.send(message)
    left.close()
    reader.join(5)
    assert received == MESSAGES
    with pytest.raises(ChannelClosed):
        right.send({"type": "ready"})
    right.close()


def test_senders_on_several_threads_never_interleave_frames() -> None:
    left, right = Channel.pair()
    received: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: received.extend(right))
    reader.start()
    big = "y" * 50_000  # bigger than one socket write, so frames would tear if unlocked

    def send(n: int) -> None:
        for i in range(20):
            left.send({"sender": n, "i": i, "pad": big})

    senders = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(10)
    left.close()
    reader.join(10)
    assert len(received) == 80
    for n in range(4):
        assert [m["i"] for m in received if m["sender"] == n] == list(range(20))
    assert all(m["pad"] == big for m in received)
    right.close()


def test_encoded_frame_is_length_then_orjson() -> None:
    message = {"type": "ready"}
    body = orjson.dumps(message)
    assert encode_message(message) == struct.pack(">I", len(body)) + body
