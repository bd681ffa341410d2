"""Socket RPC over real TCP and unix sockets: calls, errors, streams, timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import free_port

from mvi._exceptions import (
    ConfigurationError,
    FrameTooLarge,
    RemoteError,
    RpcDisconnected,
    RpcUnavailable,
)
from mvi.transport.rpc import AsyncSocketClient, SocketApplication, SocketClient, make_server

from ._rpc_app import ThreadServer


@pytest.fixture(scope="module", params=["tcp", "unix"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    if request.param == "tcp":
        address = f"tcp:{free_port()}"
    else:
        address = f"unix:{tmp_path_factory.mktemp('rpc') / 'calls.sock'}"
    running = ThreadServer(address, max_frame_bytes=1 << 20)
    yield running
    running.stop()


def options(server: ThreadServer) -> dict[str, object]:
    if server.server.path is not None:
        return {"path": server.server.path}
    return {"port": server.server.port}


@pytest.fixture(scope="module")
def client(server: ThreadServer) -> Iterator[SocketClient]:
    with SocketClient(**options(server), connection_timeout=5) as connected:  # type: ignore[arg-type]
        yield connected


def test_async_sync_and_inline_routes_answer(client: SocketClient) -> None:
    assert client.request("/hello", {"name": "world"}) == "Hello world"
    assert client.request("/double", 21) == 42
    assert client.request("/double_inline", "ab") == "abab"
    assert client.request("/info") == {"ok": True}


def test_arrays_and_frames_come_back_as_they_went(client: SocketClient) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    answer = client.request(
        "/echo", {"array": array, "frame": frame, "when": np.datetime64("2024-01-01")}
    )
    np.testing.assert_array_equal(answer["array"], array)
    assert answer["array"].dtype == np.float32
    pd.testing.assert_frame_equal(answer["frame"], frame)
    np.testing.assert_array_equal(client.request("/double", np.arange(3)), [0, 2, 4])


@pytest.mark.parametrize(
    ("path", "data", "category", "type_name", "message", "status"),
    [
        ("/boom", 3, "internal", "ValueError", "bad input 3", 500),
        ("/invalid", None, "invalid_request", "InvalidRequest", "say please", 400),
        ("/validated", {"x": "no"}, "invalid_input", "ValidationError", "validation error", 422),
        ("/overloaded", None, "overload", "Overloaded", "queue full", 503),
        ("/nowhere", None, "not_found", "UnknownRoute", "no route '/nowhere'", 404),
        ("/info", 5, "invalid_request", "InvalidRequest", "takes no data", 400),
    ],
)
def test_a_failing_route_answers_a_remote_error_and_the_connection_goes_on(
    client: SocketClient,
    path: str,
    data: object,
    category: str,
    type_name: str,
    message: str,
    status: int,
) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request(path, data)
    error = caught.value
    assert (error.category, error.type_name, error.status) == (category, type_name, status)
    assert message in error.message
    assert client.request("/double", 2) == 4


def test_an_internal_error_carries_the_id_of_its_log_line(client: SocketClient) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request("/boom", 1)
    assert caught.value.error_id and len(caught.value.error_id) == 32


def test_validation_errors_come_in_the_detail(client: SocketClient) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request("/validated", {"x": 1})
    assert caught.value.detail[0]["loc"] == ["y"]
    assert client.request("/validated", {"x": 1, "y": 2}) == {"x": 1, "y": 2}


def test_stream_answers_in_input_order_though_they_finish_out_of_order(
    client: SocketClient,
) -> None:
    delays = [0.05, 0.0, 0.03, 0.01, 0.0, 0.04]
    assert list(client.stream("/sleep", delays)) == delays
    assert list(client.stream("/double", range(200))) == [2 * x for x in range(200)]


def test_stream_with_return_exceptions_yields_them_in_place(client: SocketClient) -> None:
    answers = list(client.stream("/odd_fails", range(6), return_x=True, return_exceptions=True))
    assert [x for x, _ in answers] == list(range(6))
    for x, y in answers:
        if x % 2:
            assert isinstance(y, RemoteError) and y.type_name == "ArithmeticError"
        else:
            assert y == x


def test_stream_without_return_exceptions_raises_the_first(client: SocketClient) -> None:
    seen = []
    with pytest.raises(RemoteError, match="1 is odd"):
        for y in client.stream("/odd_fails", range(10)):
            seen.append(y)
    assert seen == [0]
    assert client.request("/double", 5) == 10


def test_a_failure_of_the_input_iterable_is_raised(client: SocketClient) -> None:
    def inputs() -> Iterator[int]:
        yield 1
        raise KeyError("no more input")

    with pytest.raises(KeyError, match="no more input"):
        list(client.stream("/double", inputs()))


@pytest.mark.parametrize("path", ["/count", "/count_sync"])
def test_streaming_routes_send_their_items(client: SocketClient, path: str) -> None:
    assert list(client.iter_items(path, 5)) == [0, 1, 2, 3, 4]
    assert client.request(path, 3) == [0, 1, 2]  # a request collects them
    assert list(client.iter_items(path, 0)) == []


def test_a_plain_route_is_one_item(client: SocketClient) -> None:
    assert list(client.iter_items("/double", 4)) == [8]


def test_a_stream_that_fails_midway_gives_its_items_then_the_error(client: SocketClient) -> None:
    got = []
    with pytest.raises(RemoteError, match="the stream broke"):
        for item in client.iter_items("/fails_midway", 3):
            got.append(item)
    assert got == [0, 1, 2]


def test_leaving_a_stream_early_stops_the_generator(
    server: ThreadServer, client: SocketClient
) -> None:
    server.record.finally_ran.clear()
    for index, item in enumerate(client.iter_items("/forever", 10)):
        assert item == b"x" * 10
        if index == 5:
            break
    assert server.record.finally_ran.wait(5)


def test_response_timeout_raises_timeout_error_and_zero_does_not_wait(client: SocketClient) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"within 0\.1 s"):
        client.request("/sleep", 1.0, response_timeout=0.1)
    assert time.monotonic() - started < 0.9
    assert client.request("/sleep", 0.5, response_timeout=0) is None
    assert time.monotonic() - started < 0.9
    assert client.request("/double", 1, response_timeout=5) == 2


def test_stream_timeouts_are_values_with_return_exceptions(client: SocketClient) -> None:
    answers = list(
        client.stream("/sleep", [0.0, 1.0, 0.0], return_exceptions=True, response_timeout=0.3)
    )
    assert answers[0] == 0.0 and answers[2] == 0.0
    assert isinstance(answers[1], TimeoutError)


def test_the_backlog_bounds_requests_in_flight(server: ThreadServer) -> None:
    with SocketClient(**options(server), backlog=1) as small:  # type: ignore[arg-type]
        assert small.request("/sleep", 0.5, response_timeout=0) is None
        with pytest.raises(TimeoutError, match="backlog of 1"):
            small.request("/double", 1, enqueue_timeout=0.1)
        assert small.request("/double", 1, enqueue_timeout=5) == 2


def test_a_request_over_the_frame_limit_is_refused_before_it_is_sent(client: SocketClient) -> None:
    with pytest.raises(FrameTooLarge, match="over the server's 1048576-byte limit"):
        client.request("/echo", b"x" * (2 << 20))
    with pytest.raises(RemoteError) as caught:
        client.request("/big", 2 << 20)  # the answer would be over the limit
    assert caught.value.category == "too_large"
    assert client.request("/double", 3) == 6


def test_an_answer_that_cannot_be_encoded_is_an_internal_error(client: SocketClient) -> None:
    with pytest.raises(RemoteError, match="cannot be sent") as caught:
        client.request("/unencodable")
    assert caught.value.category == "internal"


def test_requests_from_many_threads_share_the_connection(client: SocketClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda x: client.request("/double", x), range(400)))
    assert answers == [2 * x for x in range(400)]


def test_the_async_client_has_the_same_methods(server: ThreadServer) -> None:
    async def main() -> None:
        async with AsyncSocketClient(**options(server), num_connections=2) as client:  # type: ignore[arg-type]
            assert await client.request("/hello", {"name": "async"}) == "Hello async"
            assert [y async for y in client.stream("/double", range(50))] == [
                2 * x for x in range(50)
            ]

            async def numbers() -> object:
                for x in range(4):
                    yield x

            pairs = [
                p
                async for p in client.stream(
                    "/odd_fails", numbers(), return_x=True, return_exceptions=True
                )
            ]
            assert [x for x, _ in pairs] == [0, 1, 2, 3]
            assert isinstance(pairs[1][1], RemoteError)
            assert [i async for i in client.iter_items("/count", 3)] == [0, 1, 2]
            with pytest.raises(TimeoutError):
                await client.request("/sleep", 0.3, response_timeout=0.05)
            with pytest.raises(RemoteError, match="bad input"):
                await client.request("/boom", 0)
            answers = await asyncio.gather(*(client.request("/double", x) for x in range(300)))
            assert answers == [2 * x for x in range(300)]

    asyncio.run(main())


def test_a_client_waits_for_a_server_that_starts_late(tmp_path: Path) -> None:
    path = tmp_path / "late.sock"
    started: list[ThreadServer] = []

    def start_later() -> None:
        time.sleep(0.5)
        started.append(ThreadServer(f"unix:{path}"))

    import threading

    starter = threading.Thread(target=start_later)
    starter.start()
    try:
        with SocketClient(path=path, connection_timeout=10) as client:
            assert client.request("/double", 4) == 8
    finally:
        starter.join()
        for running in started:
            running.stop()


def test_no_server_within_connection_timeout_is_rpc_unavailable(tmp_path: Path) -> None:
    started = time.monotonic()
    with (
        pytest.raises(RpcUnavailable, match="no RPC server at"),
        SocketClient(port=free_port(), connection_timeout=0.3),
    ):
        pass
    assert time.monotonic() - started < 3
    with (
        pytest.raises(RpcUnavailable),
        SocketClient(path=tmp_path / "none.sock", connection_timeout=0.2),
    ):
        pass


def test_something_that_is_not_an_rpc_server_is_rpc_unavailable() -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with (
            pytest.raises(RpcUnavailable, match="sent no HELLO"),
            SocketClient(port=port, connection_timeout=0.5),
        ):
            pass


def test_the_shutdown_route_stops_serve(tmp_path: Path) -> None:
    running = ThreadServer(f"unix:{tmp_path / 'stop.sock'}")
    with SocketClient(path=tmp_path / "stop.sock") as client:
        assert client.request("/shutdown") is None
    running.thread.join(10)
    assert not running.thread.is_alive() and running.error is None
    assert not (tmp_path / "stop.sock").exists()


def test_bad_addresses_and_routes_are_configuration_errors(tmp_path: Path) -> None:
    app = SocketApplication()
    with pytest.raises(ConfigurationError, match=r"path= .* or port="):
        make_server(app)
    with pytest.raises(ConfigurationError, match="not both"):
        SocketClient(path=tmp_path / "x", port=1)
    app.add_route("/shutdown", lambda: None)
    with pytest.raises(ConfigurationError, match="shutdown route"):
        make_server(app, port=1)
    with pytest.raises(ConfigurationError, match="already added"):
        app.add_route("/shutdown", lambda: None)
    with pytest.raises(ConfigurationError, match="needs 2 arguments"):
        app.add_route("/two", lambda a, b: None)


def test_an_async_route_runs_in_one_task_from_start_to_end(client: SocketClient) -> None:
    assert list(client.stream("/same_task", range(20))) == [True] * 20


def test_asyncio_timeout_works_in_a_route(client: SocketClient) -> None:
    assert client.request("/within", 0.0) == "in time"
    with pytest.raises(RemoteError) as caught:
        client.request("/within", 1.0)
    assert (caught.value.category, caught.value.type_name) == ("timeout", "TimeoutError")


def test_each_request_has_its_own_context(client: SocketClient) -> None:
    assert list(client.stream("/context_value", range(100))) == [None] * 100


def test_requests_of_one_batch_that_wait_run_concurrently(client: SocketClient) -> None:
    started = time.monotonic()
    assert list(client.stream("/sleep", [0.3] * 50)) == [0.3] * 50
    assert time.monotonic() - started < 2.0  # not 15 s one after the other


def test_an_answer_over_the_clients_own_limit_names_that_limit(server: ThreadServer) -> None:
    with (
        SocketClient(**options(server), max_frame_bytes=1000) as small,  # type: ignore[arg-type]
        pytest.raises(RpcDisconnected, match="over this client's limit"),
    ):
        small.request("/big", 5000)
