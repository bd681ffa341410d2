"""Streaming entrypoints of a real service: NDJSON and server-sent events over HTTP, a
stream of frames over the socket RPC (``service.run(rpc_port=...)``), items sent as they
come, errors mid-stream, and a client that disconnects stopping the generator."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import free_port

from mvi._exceptions import RemoteError
from mvi.transport.framing import encode_frame, read_frame
from mvi.transport.rpc import SocketClient
from mvi.transport.rpc.protocol import HELLO, ITEM, REQUEST

SERVICE = """
import asyncio, os, sys, time
from collections.abc import AsyncIterator, Iterator
from mvi import service, InvalidRequest

def note(name: str) -> None:
    with open(name, "a") as f:
        f.write("x\\n")

@service.entrypoint
async def tokens(prompt: str, count: int = 3, pause: float = 0.0) -> AsyncIterator[str]:
    try:
        for i in range(count):
            yield f"{prompt}-{i}"
            await asyncio.sleep(pause)
    finally:
        note(f"closed-async-{prompt}")

@service.entrypoint
def numbers(n: int, pause: float = 0.0, tag: str = "sync") -> Iterator[dict]:
    try:
        for i in range(n):
            yield {"i": i, "square": i * i}
            time.sleep(pause)
    finally:
        note(f"closed-sync-{tag}")

@service.entrypoint
async def breaks(after: int) -> AsyncIterator[int]:
    for i in range(after):
        yield i
    raise InvalidRequest(f"stopped after {after}")

@service.entrypoint
async def crashes() -> AsyncIterator[int]:
    yield 1
    raise RuntimeError("boom")

@service.entrypoint
async def typed() -> AsyncIterator[int]:
    yield 1
    yield "not a number"

if __name__ == "__main__":
    service.run(rpc_port=int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ["RPC"]))
"""


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    port = free_port()
    service = start_module_service(SERVICE, env={"RPC": str(port)}, wait=False)
    service.wait_ready(timeout=60)
    service.rpc_port = port
    return service


@pytest.fixture(scope="module")
def rpc(svc: Any) -> Any:
    with SocketClient(port=svc.rpc_port, connection_timeout=20) as client:
        yield client


def wait_for_file(path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/tokens", {"prompt": "a"}, ["a-0", "a-1", "a-2"]),
        (
            "/numbers",
            {"n": 3},
            [{"i": 0, "square": 0}, {"i": 1, "square": 1}, {"i": 2, "square": 4}],
        ),
    ],
)
def test_a_generator_streams_ndjson_by_default(
    svc: Any, path: str, body: dict[str, Any], expected: list[Any]
) -> None:
    response = svc.post(path, json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in response.text.splitlines()] == expected


def test_accept_event_stream_gives_server_sent_events_ending_with_end(svc: Any) -> None:
    response = svc.post(
        "/tokens", json={"prompt": "s", "count": 2}, headers={"accept": "text/event-stream"}
    )
    assert response.headers["content-type"] == "text/event-stream"
    assert response.text == 'data: "s-0"\n\ndata: "s-1"\n\nevent: end\ndata: {}\n\n'


def test_items_arrive_as_they_are_made_not_at_the_end(svc: Any) -> None:
    with httpx.stream(
        "POST", f"{svc.url}/tokens", json={"prompt": "slow", "count": 2, "pause": 4.0}, timeout=60
    ) as response:
        lines = response.iter_lines()
        assert json.loads(next(lines)) == "slow-0"
        first = time.monotonic()
        assert json.loads(next(lines)) == "slow-1"
        second = time.monotonic()
    assert second - first >= 3.0  # the first came while the generator still paused


def test_invalid_input_is_refused_before_the_stream_starts(svc: Any) -> None:
    response = svc.post("/numbers", json={"n": "many"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "n"]
    refused = svc.post("/tokens", json={"prompt": "a"}, headers={"accept": "application/x-npy"})
    assert refused.status_code == 406 and "text/event-stream" in refused.text


@pytest.mark.parametrize(
    ("path", "body", "items", "status"),
    [("/breaks", {"after": 2}, [0, 1], 400), ("/crashes", {}, [1], 500), ("/typed", {}, [1], 500)],
)
def test_an_error_mid_stream_is_the_last_record(
    svc: Any, path: str, body: dict[str, Any], items: list[int], status: int
) -> None:
    records = [json.loads(line) for line in svc.post(path, json=body).text.splitlines()]
    assert records[:-1] == items
    error = records[-1]["error"]
    assert error["status"] == status
    if status == 400:
        assert error["detail"] == "stopped after 2"
    else:
        assert error["error_id"] and "boom" not in json.dumps(error)
    sse = svc.post(path, json=body, headers={"accept": "text/event-stream"}).text
    assert sse.split("\n\n")[-2].startswith("event: error\ndata: {")


@pytest.mark.parametrize(
    ("path", "marker"), [("/tokens", "closed-async-gone"), ("/numbers", "closed-sync-gone")]
)
def test_an_http_client_that_disconnects_stops_the_generator(
    svc: Any, path: str, marker: str
) -> None:
    body: dict[str, Any] = {"prompt": "gone", "count": 1000, "pause": 0.05}
    first = b'"gone-0"'
    if path == "/numbers":
        body, first = {"n": 1000, "pause": 0.05, "tag": "gone"}, b'{"i":0,'
    payload = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        # the head goes out before the generator's first step: a client gone before that
        # step leaves a generator that never ran (no finally to run); wait for an item
        received = b""
        while first not in received:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 OK")
    wait_for_file(Path(svc.workdir) / marker)
    time.sleep(0.3)
    assert (Path(svc.workdir) / marker).read_text() == "x\n"  # closed once, not run on


def test_rpc_streams_the_items_as_frames(rpc: Any) -> None:
    assert list(rpc.iter_items("tokens", {"prompt": "r"})) == ["r-0", "r-1", "r-2"]
    assert list(rpc.iter_items("numbers", {"n": 2})) == [
        {"i": 0, "square": 0},
        {"i": 1, "square": 1},
    ]


def test_rpc_invalid_input_and_errors_mid_stream_are_remote_errors(rpc: Any) -> None:
    with pytest.raises(RemoteError) as caught:
        list(rpc.iter_items("numbers", {"n": "many"}))
    assert caught.value.category == "invalid_input"
    got: list[int] = []
    with pytest.raises(RemoteError) as caught:
        for item in rpc.iter_items("breaks", {"after": 2}):
            got.append(item)
    assert got == [0, 1] and caught.value.category == "invalid_request"
    assert caught.value.message == "stopped after 2"


def test_the_rpc_info_marks_streaming_entrypoints(rpc: Any) -> None:
    entrypoints = rpc.request("~info")["entrypoints"]
    assert entrypoints["tokens"]["stream"] is True
    assert entrypoints["tokens"]["response"] == {"type": "string"}


def test_an_rpc_client_that_disconnects_mid_stream_stops_the_generator(svc: Any) -> None:
    with socket.create_connection(("127.0.0.1", svc.rpc_port), timeout=10) as sock:
        assert read_frame(sock)[0] == HELLO
        request = [REQUEST, 1, "tokens", {"prompt": "rpcgone", "count": 1000, "pause": 0.05}]
        sock.sendall(b"".join(bytes(part) for part in encode_frame(request)))
        assert read_frame(sock) == [ITEM, 1, "rpcgone-0"]
    wait_for_file(Path(svc.workdir) / "closed-async-rpcgone")
