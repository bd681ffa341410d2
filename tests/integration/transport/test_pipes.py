"""Named pipes over real FIFOs, with the other end in this process or in another one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mvi._exceptions import FrameTooLarge, PipeClosed, PipeUnavailable
from mvi.transport import pipe

ROOT = Path(__file__).resolve().parents[3]


class Peer:
    """The other end of a pipe in its own process."""

    def __init__(self, role: str, path: Path, mode: str = "echo") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.transport._pipe_peer", role, str(path), mode],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"READY"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "pipes" / "model"


@pytest.fixture
def pair(path: Path) -> Iterator[tuple[pipe.Server, pipe.Client]]:
    with pipe.Server(path) as server, pipe.Client(path) as client:
        yield server, client


@pytest.mark.parametrize("peer_first", [True, False], ids=["peer-first", "peer-second"])
def test_two_processes_exchange_objects_in_either_order(path: Path, peer_first: bool) -> None:
    peer = Peer("server", path) if peer_first else None
    with pipe.Client(path) as client:
        peer = peer or Peer("server", path)
        try:
            frame = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})
            client.send({"array": np.arange(6, dtype=np.int16).reshape(2, 3), "frame": frame})
            echoed = client.recv()
            np.testing.assert_array_equal(echoed["array"], np.arange(6).reshape(2, 3))
            assert echoed["array"].dtype == np.int16
            pd.testing.assert_frame_equal(echoed["frame"], frame)
            for value in ["text", 1, None, [1, {"k": b"bytes"}], np.zeros(200_000)]:
                client.send(value)
                got = client.recv()
                if isinstance(value, np.ndarray):
                    np.testing.assert_array_equal(got, value)
                else:
                    assert got == value
        finally:
            client.close()
            peer.proc.wait(10)  # the echo loop ends when our end closes
            peer.stop()
    assert not Path(f"{path}.1").exists() and not Path(f"{path}.2").exists()


def test_the_fifos_are_the_two_named_files(path: Path) -> None:
    with pipe.Server(path):
        assert Path(f"{path}.1").is_fifo() and Path(f"{path}.2").is_fifo()


def test_bytes_messages(pair: tuple[pipe.Server, pipe.Client]) -> None:
    server, client = pair
    client.send_bytes(b"hello world", 6)
    assert server.recv_bytes() == b"world"
    client.send_bytes(bytearray(b"0123456789"), 2, 3)
    buffer = bytearray(8)
    assert server.recv_bytes_into(buffer, 4) == 3
    assert buffer == bytearray(4) + b"234" + bytearray(1)
    client.send_bytes(np.arange(4, dtype=np.uint8))
    assert server.recv() == bytes([0, 1, 2, 3])  # recv() gives a bytes message as bytes


def test_too_small_a_buffer_or_maxlength_leaves_the_message_unread(
    pair: tuple[pipe.Server, pipe.Client],
) -> None:
    server, client = pair
    client.send_bytes(b"x" * 100)
    with pytest.raises(FrameTooLarge, match="does not fit"):
        server.recv_bytes_into(bytearray(10))
    with pytest.raises(FrameTooLarge, match="over 50"):
        server.recv_bytes(maxlength=50)
    assert server.recv_bytes() == b"x" * 100


def test_recv_bytes_of_an_object_message_is_refused_and_recv_reads_it(
    pair: tuple[pipe.Server, pipe.Client],
) -> None:
    server, client = pair
    client.send({"a": 1})
    with pytest.raises(TypeError, match="read it with recv"):
        server.recv_bytes()
    assert server.recv() == {"a": 1}


@pytest.mark.parametrize(
    ("offset", "size", "message"),
    [
        (-1, None, "offset is negative"),
        (20, None, "< offset"),
        (2, -1, "negative"),
        (5, 10, "< offset \\+ size"),
    ],
)
def test_bad_offsets_are_value_errors(
    pair: tuple[pipe.Server, pipe.Client], offset: int, size: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pair[1].send_bytes(b"0123456789", offset, size)


def test_the_other_side_closing_is_pipe_closed(pair: tuple[pipe.Server, pipe.Client]) -> None:
    server, client = pair
    client.send("last words")
    client.close()
    assert server.recv() == "last words"
    with pytest.raises(PipeClosed, match="closed"):
        server.recv()
    with pytest.raises(PipeClosed):
        server.send("anyone?")


def test_a_killed_peer_is_pipe_closed_promptly(path: Path) -> None:
    with pipe.Server(path) as server:
        peer = Peer("client", path, "hold")
        failures: list[BaseException] = []

        def wait() -> None:
            try:
                server.recv()
            except BaseException as exc:
                failures.append(exc)

        try:
            server.send("are you there?")  # the peer opened its end: it is connected
            reader = threading.Thread(target=wait)
            reader.start()
            time.sleep(0.2)
            peer.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            reader.join(5)
            assert time.monotonic() - killed < 2
        finally:
            peer.stop()
    assert failures and isinstance(failures[0], PipeClosed)


def test_fifos_left_by_a_crashed_process_are_reused(path: Path) -> None:
    crashed = Peer("server", path, "hold")
    crashed.proc.send_signal(signal.SIGKILL)
    crashed.stop()
    assert Path(f"{path}.1").is_fifo()  # left behind
    with pipe.Server(path) as server, pipe.Client(path) as client:
        client.send(1)
        assert server.recv() == 1
        server.send(2)
        assert client.recv() == 2


def test_an_end_held_by_a_live_process_is_refused(path: Path) -> None:
    live = Peer("server", path, "hold")
    try:
        with pytest.raises(PipeUnavailable, match="another live process"):
            pipe.Server(path)
        with pipe.Client(path) as client:  # the other end is free
            client.send_bytes(b"ok")
    finally:
        live.stop()


def test_a_path_that_is_not_a_fifo_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    Path(f"{path}.2").write_text("a plain file")
    with pytest.raises(PipeUnavailable, match="is not a FIFO"):
        pipe.Client(path)


def test_no_peer_within_the_timeout_is_pipe_unavailable(path: Path) -> None:
    with pipe.Server(path, timeout=0.2) as server:
        started = time.monotonic()
        with pytest.raises(PipeUnavailable, match=r"pipe\.Client"):
            server.send("hello?")
        assert time.monotonic() - started < 2


def test_a_message_over_the_limit_is_refused(path: Path) -> None:
    with pipe.Server(path, max_frame_bytes=1000) as server, pipe.Client(path) as client:
        with pytest.raises(FrameTooLarge):
            server.send(b"x" * 2000)
        with pytest.raises(FrameTooLarge):
            server.send_bytes(b"x" * 2000)
        client.send(b"y" * 2000)  # the client's own limit is the default
        with pytest.raises(FrameTooLarge, match="1000-byte limit"):
            server.recv()
        with pytest.raises(PipeClosed):  # the stream lost its framing: the end is closed
            server.recv()


def test_poll_says_whether_a_message_is_there(pair: tuple[pipe.Server, pipe.Client]) -> None:
    server, client = pair
    assert server.poll() is False
    assert server.poll(0.05) is False
    client.send("here")
    assert server.poll(1.0) is True
    assert server.recv() == "here"
