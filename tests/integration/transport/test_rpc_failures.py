"""Socket RPC under bad input and failure: malformed and oversize frames from a raw
socket, a client that vanishes or stops reading, a server killed or stopped under load."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from tests.conftest import free_port, settled, wait_for

from mvi._exceptions import RemoteError, RpcDisconnected, ServingError
from mvi.transport.framing import encode_frame, read_frame
from mvi.transport.rpc import SocketClient

from ._rpc_app import ThreadServer

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 1 << 20


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadServer]:
    running = ThreadServer(f"tcp:{free_port()}", max_frame_bytes=LIMIT)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: ThreadServer) -> Iterator[SocketClient]:
    with SocketClient(port=server.server.port) as connected:
        yield connected


def raw(server: ThreadServer) -> socket.socket:
    """A raw connection to the server, past its HELLO frame."""
    sock = socket.create_connection(("127.0.0.1", server.server.port), timeout=5)
    hello = read_frame(sock)
    assert hello[0] == 2 and hello[1]["max_frame_bytes"] == LIMIT
    return sock


def frame(value: Any) -> bytes:
    return b"".join(bytes(part) for part in encode_frame(value))


def skeleton(body: bytes) -> bytes:
    return struct.pack(">QI", len(body), 0) + body


@pytest.mark.parametrize(
    ("data", "category"),
    [
        (skeleton(b"\xc1\xc1\xc1"), "protocol"),  # not msgpack
        (frame({"not": "a list"}), "protocol"),
        (frame([0, "id", "/double", 1]), "protocol"),  # no request id to answer
        (skeleton(msgpack.packb([0, 1, "/x", msgpack.ExtType(9, b"")])), "protocol"),
        (skeleton(msgpack.packb([msgpack.ExtType(2, msgpack.packb(["|O", [1], 0]))])), "protocol"),
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "protocol"),  # not a frame at all
        (struct.pack(">QI", LIMIT + 1, 0), "too_large"),
        (struct.pack(">QIQ", 10, 1, 1 << 40), "too_large"),
    ],
    ids=[
        "bad-msgpack",
        "not-a-list",
        "no-id",
        "unknown-ext",
        "object-array",
        "http",
        "big",
        "big-buffer",
    ],
)
def test_a_bad_frame_gets_a_connection_error_then_only_that_connection_closes(
    server: ThreadServer, client: SocketClient, data: bytes, category: str
) -> None:
    with raw(server) as sock:
        sock.sendall(data)
        kind, request_id, error = read_frame(sock)
        assert (kind, request_id, error["category"]) == (6, 0, category)
        assert read_frame(sock) is None  # closed by the server
    assert client.request("/double", 21) == 42  # every other connection goes on


def test_a_malformed_request_with_an_id_is_answered_and_the_connection_goes_on(
    server: ThreadServer,
) -> None:
    with raw(server) as sock:
        sock.sendall(frame([0, 7, 123, None]) + frame([9, 8]) + frame([0, 9, "/double", 2]))
        answers: dict[int, Any] = {}
        for _ in range(3):
            kind, request_id, payload = read_frame(sock)
            answers[request_id] = (kind, payload)
        assert answers[7][0] == 6 and answers[7][1]["category"] == "protocol"
        assert answers[8][0] == 6 and "not a request" in answers[8][1]["message"]
        assert answers[9] == (3, 4)


def test_a_request_id_already_in_flight_closes_the_connection(server: ThreadServer) -> None:
    with raw(server) as sock:
        sock.sendall(frame([0, 5, "/sleep", 0.5]) + frame([0, 5, "/sleep", 0.5]))
        kind, request_id, error = read_frame(sock)
        assert (kind, request_id) == (6, 0) and "already in flight" in error["message"]
        assert read_frame(sock) is None


def test_requests_are_multiplexed_and_answered_as_they_finish(server: ThreadServer) -> None:
    with raw(server) as sock:
        sock.sendall(frame([0, 1, "/sleep", 0.3]) + frame([0, 2, "/double", 5]))
        assert read_frame(sock) == [3, 2, 10]  # the quick one first
        assert read_frame(sock) == [3, 1, 0.3]


def test_a_client_that_vanishes_mid_stream_stops_the_generator(
    server: ThreadServer, client: SocketClient
) -> None:
    server.record.finally_ran.clear()
    with raw(server) as sock:
        sock.sendall(frame([0, 1, "/forever", 100]))
        for _ in range(5):
            kind, request_id, item = read_frame(sock)
            assert (kind, request_id, item) == (4, 1, b"x" * 100)
    assert server.record.finally_ran.wait(5)  # the generator's finally ran
    assert client.request("/double", 1) == 2


def test_a_slow_reader_is_back_pressured_not_buffered(
    server: ThreadServer, client: SocketClient
) -> None:
    size = 64 * 1024
    server.record.finally_ran.clear()
    server.record.produced = 0  # the server is the module's: other tests streamed before
    with raw(server) as sock:
        sock.sendall(frame([0, 1, "/forever", size]))
        stalled = settled(lambda: server.record.produced)  # the client reads nothing
        # What is buffered is bounded: socket buffers plus MVI_RPC_WRITE_BUFFER_BYTES.
        assert stalled * size < 64 * 1024 * 1024
        assert client.request("/double", 3) == 6  # other connections are served meanwhile
        sock.settimeout(5)
        while read_frame(sock) is not None:  # reading lets it go on
            if server.record.produced > stalled + 50:
                break
        assert server.record.produced > stalled + 50
    assert server.record.finally_ran.wait(5)


def test_pipelined_requests_stop_being_started_while_answers_are_not_read(
    server: ThreadServer,
) -> None:
    size, count = 128 * 1024, 1000
    requests = b"".join(frame([0, i + 1, "/big", size]) for i in range(count))
    server.record.calls = 0
    with raw(server) as sock:
        sock.sendall(requests)  # a few tens of kB: the kernel takes it all
        stalled = settled(lambda: server.record.calls)
        assert stalled < count  # waiting for the reader
        got = 0
        while got < count:  # reading lets every request run
            kind, _, answer = read_frame(sock)
            assert kind == 3 and len(answer) == size
            got += 1
    assert server.record.calls == count


def test_a_request_during_graceful_stop_is_refused_then_the_socket_closes(tmp_path: Path) -> None:
    running = ThreadServer(f"unix:{tmp_path / 'drain.sock'}", graceful_timeout=5)
    with SocketClient(path=tmp_path / "drain.sock") as client:
        done: list[Any] = []
        worker = threading.Thread(target=lambda: done.append(client.request("/sleep", 0.5)))
        worker.start()
        time.sleep(0.1)
        running.server.shutdown()
        worker.join(5)
        assert done == [0.5]  # the in-flight request finished
    running.thread.join(5)
    assert not running.thread.is_alive()


class Process:
    """The test application served by a real process (for signals)."""

    def __init__(self, address: str, *options: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.transport._rpc_app", address, *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != b"READY":
            self.proc.kill()
            raise RuntimeError(self.proc.communicate()[1].decode())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def test_a_server_killed_under_load_fails_pending_requests_promptly(tmp_path: Path) -> None:
    path = tmp_path / "killed.sock"
    first = Process(f"unix:{path}")
    results: list[Any] = []
    failed_at: list[float] = []
    try:
        with SocketClient(path=path) as client:

            def load() -> None:
                for answer in client.stream("/sleep", [0.2] * 400, return_exceptions=True):
                    results.append(answer)
                    if isinstance(answer, Exception) and not failed_at:
                        failed_at.append(time.monotonic())

            loader = threading.Thread(target=load)
            loader.start()
            wait_for(lambda: len(results) > 0, timeout=10)
            killed_at = time.monotonic()
            first.proc.send_signal(signal.SIGKILL)
            loader.join(10)
            assert not loader.is_alive()
    finally:
        first.stop()
    assert len(results) == 400
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors and all(isinstance(e, RpcDisconnected) for e in errors)
    assert "may or may not have run" in str(errors[0])
    assert failed_at[0] - killed_at < 2.0  # promptly, not after a timeout
    second = Process(f"unix:{path}")  # the stale socket file is taken over
    try:
        with SocketClient(path=path, connection_timeout=5) as client:
            assert client.request("/double", 7) == 14
    finally:
        second.stop()


def test_sigterm_finishes_in_flight_requests_then_exits(tmp_path: Path) -> None:
    port = free_port()
    server = Process(f"tcp:{port}")
    try:
        with SocketClient(port=port) as client:
            answers: list[Any] = []
            worker = threading.Thread(
                target=lambda: answers.append(client.request("/sleep_sync", 0.8))
            )
            worker.start()
            time.sleep(0.3)
            server.proc.send_signal(signal.SIGTERM)
            worker.join(10)
            assert answers == [0.8]
            assert server.proc.wait(10) == 0
            with pytest.raises(RpcDisconnected):
                client.request("/double", 1)
    finally:
        server.stop()


def test_without_signal_handling_sigterm_is_left_to_the_program() -> None:
    port = free_port()
    server = Process(f"tcp:{port}", "no-signals")
    try:
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == -signal.SIGTERM  # Python's default: no graceful stop
    finally:
        server.stop()


def test_a_path_that_is_not_a_socket_or_is_served_is_refused(tmp_path: Path) -> None:
    taken = tmp_path / "file.sock"
    taken.write_text("not a socket")
    with pytest.raises(ServingError, match="exists and is not a socket"):
        ThreadServer(f"unix:{taken}")
    live = ThreadServer(f"unix:{tmp_path / 'live.sock'}")
    try:
        with pytest.raises(ServingError, match="another server listens"):
            ThreadServer(f"unix:{tmp_path / 'live.sock'}")
        with SocketClient(path=tmp_path / "live.sock") as client:
            assert client.request("/double", 1) == 2  # the first one is untouched
    finally:
        live.stop()


def test_a_port_in_use_is_a_serving_error(server: ThreadServer) -> None:
    with pytest.raises(ServingError, match=r"cannot listen on 127\.0\.0\.1"):
        ThreadServer(f"tcp:{server.server.port}")


def test_remote_errors_keep_their_category_over_a_process(tmp_path: Path) -> None:
    path = tmp_path / "errors.sock"
    server = Process(f"unix:{path}")
    try:
        with SocketClient(path=path) as client:
            with pytest.raises(RemoteError) as caught:
                client.request("/invalid")
            assert caught.value.status == 400
    finally:
        server.stop()
