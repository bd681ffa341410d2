"""A real service's entrypoints over the socket RPC (``MVI_RPC_PORT`` / ``MVI_RPC_PATH``),
beside HTTP, called with the real SocketClient: the same validation and error categories,
batching, deadlines and backpressure, ``~info``, and several HTTP processes."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import free_port

from mvi._exceptions import RemoteError
from mvi.transport.rpc import SocketClient

SERVICE = """
import asyncio, os, time
import numpy as np
from mvi import service, InvalidRequest
from mvi.data_types import NDArray

@service.entrypoint
async def hello(name: str, punctuation: str = "!") -> dict:
    return {"message": f"Hello {name}{punctuation}"}

@service.entrypoint
def whoami() -> int:
    return os.getpid()

@service.entrypoint
def refuse(reason: str) -> str:
    raise InvalidRequest(f"no: {reason}")

@service.entrypoint
def crash() -> str:
    raise RuntimeError("the model fell over")

@service.entrypoint(timeout=0.3)
async def slow(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds

@service.entrypoint(max_queue=1, timeout=30)
async def narrow(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds

@service.entrypoint(batch_size=16, batch_wait=0.02)
def norms(x: list[NDArray]) -> list[float]:
    with open("batches.log", "a") as f:
        f.write(f"{len(x)}\\n")
    return [float(np.linalg.norm(v)) for v in x]

@service.entrypoint
def scale(x: NDArray, factor: float = 2.0) -> NDArray:
    return x * factor

if os.environ.get("WITH_WORKER"):  # a worker process starts slowly: one service has it

    @service.entrypoint(workers=1)
    def in_worker(x: NDArray) -> dict:
        return {"pid": os.getpid(), "total": float(x.sum())}

if __name__ == "__main__":
    service.run()
"""


@pytest.fixture(scope="module")
def tcp(start_module_service: Any) -> Any:
    port = free_port()
    svc = start_module_service(
        SERVICE, env={"MVI_RPC_PORT": str(port), "WITH_WORKER": "1"}, wait=False
    )
    svc.wait_ready(timeout=120)  # the worker process imports numpy on a loaded machine
    svc.rpc_port = port
    return svc


@pytest.fixture(scope="module")
def client(tcp: Any) -> Any:
    with SocketClient(port=tcp.rpc_port, connection_timeout=20) as connected:
        yield connected


def test_an_entrypoint_answers_over_rpc_what_it_answers_over_http(tcp: Any, client: Any) -> None:
    over_http = tcp.post("/hello", json={"name": "Ada"}).json()
    assert client.request("hello", {"name": "Ada"}) == over_http == {"message": "Hello Ada!"}
    assert client.request("hello", {"name": "Ada", "punctuation": "?"}) == {"message": "Hello Ada?"}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({}, "name"),
        ({"name": 3}, "name"),
        ({"name": "a", "punctuation": [1]}, "punctuation"),
        ([1, 2], ""),
    ],
)
def test_invalid_input_is_an_invalid_input_error_naming_the_field(
    client: Any, data: Any, where: str
) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request("hello", data)
    error = caught.value
    assert error.category == "invalid_input" and error.status == 422
    assert error.type_name == "ValidationError"
    assert where in str(error.detail) and "invalid input" in error.message


def test_invalid_request_raised_by_the_entrypoint_keeps_its_message(client: Any) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request("refuse", {"reason": "too early"})
    assert caught.value.category == "invalid_request"
    assert caught.value.type_name == "InvalidRequest"
    assert caught.value.message == "no: too early"


def test_a_crash_is_internal_with_the_error_id_of_the_log_line(tcp: Any, client: Any) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request("crash")
    assert caught.value.category == "internal" and caught.value.error_id
    assert "fell over" not in caught.value.message  # the traceback stays in the log
    deadline = time.monotonic() + 10
    while caught.value.error_id not in tcp.log():
        assert time.monotonic() < deadline, tcp.log()
        time.sleep(0.05)
    assert client.request("hello", {"name": "after"}) == {"message": "Hello after!"}


def test_past_the_deadline_is_a_timeout_error(client: Any) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request("slow", {"seconds": 5})
    assert caught.value.category == "timeout" and caught.value.status == 504
    assert client.request("slow", {"seconds": 0.01}) == 0.01


def test_a_full_line_is_an_overload_error_with_retry_after(client: Any) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.request, "narrow", {"seconds": 1.5})
        time.sleep(0.5)
        with pytest.raises(RemoteError) as caught:
            client.request("narrow", {"seconds": 0.0})
        assert caught.value.category == "overload" and caught.value.status == 503
        assert caught.value.detail["retry_after"] >= 1
        assert first.result(timeout=20) == 1.5


def test_an_unknown_entrypoint_is_not_found_and_names_the_routes(client: Any) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request("nope", {})
    assert caught.value.category == "not_found" and "hello" in caught.value.message


def test_the_shutdown_route_is_not_served_for_a_service(tcp: Any, client: Any) -> None:
    with pytest.raises(RemoteError) as caught:
        client.request("/shutdown")
    assert caught.value.category == "not_found"
    assert tcp.proc.poll() is None and client.request("whoami") == tcp.proc.pid


def test_info_lists_every_entrypoint_with_its_json_schemas(client: Any) -> None:
    info = client.request("~info")
    assert info["service"] and set(info["entrypoints"]) >= {"hello", "norms", "scale", "slow"}
    hello = info["entrypoints"]["hello"]
    assert hello["request"]["required"] == ["name"]
    assert hello["request"]["properties"]["punctuation"]["default"] == "!"
    assert hello["stream"] is False and info["entrypoints"]["norms"]["batched"] is True


def test_concurrent_calls_of_a_batched_entrypoint_are_batched(tcp: Any, client: Any) -> None:
    vectors = [np.full(1024, float(i), dtype=np.float32) for i in range(64)]
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda v: client.request("norms", {"x": v}), vectors))
    assert answers == pytest.approx([float(np.linalg.norm(v)) for v in vectors], rel=1e-5)
    sizes = [int(n) for n in (Path(tcp.workdir) / "batches.log").read_text().split()]
    assert max(sizes) > 1


def test_arrays_travel_as_arrays_both_ways(client: Any) -> None:
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    doubled = client.request("scale", {"x": x, "factor": 3.0})
    assert isinstance(doubled, np.ndarray) and doubled.shape == (3, 4)
    assert np.array_equal(doubled, x * 3.0)


def test_an_entrypoint_in_a_worker_process_answers_over_rpc(tcp: Any, client: Any) -> None:
    answer = client.request("in_worker", {"x": np.ones(8)})
    assert answer["total"] == 8.0 and answer["pid"] != tcp.proc.pid


def test_rpc_calls_count_in_the_service_metrics(tcp: Any, client: Any) -> None:
    client.request("whoami")
    text = tcp.get("/~metrics").text
    assert re.search(r'mvi_requests_total\{entrypoint="whoami",status="200"\} [1-9]', text)


def test_sigterm_finishes_rpc_calls_in_flight_then_exits_cleanly(start_service: Any) -> None:
    port = free_port()
    svc = start_service(SERVICE, env={"MVI_RPC_PORT": str(port)}, wait=False)
    svc.wait_ready(timeout=60)
    with (
        SocketClient(port=port, connection_timeout=20) as rpc,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        pending = pool.submit(rpc.request, "narrow", {"seconds": 1.0})
        time.sleep(0.3)
        svc.send_signal(signal.SIGTERM)
        assert pending.result(timeout=20) == 1.0
    assert svc.proc.wait(timeout=20) == 0


def test_a_unix_socket_served_by_two_http_processes(start_service: Any, tmp_path: Path) -> None:
    path = tmp_path / "rpc" / "service.sock"
    svc = start_service(SERVICE, env={"MVI_RPC_PATH": str(path), "MVI_WORKERS": "2"}, wait=False)
    svc.wait_ready(timeout=60)
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2:
        assert time.monotonic() < deadline, f"one process answered: {pids}\n{svc.log()}"
        with SocketClient(path=str(path), connection_timeout=20) as rpc:
            pids.add(rpc.request("whoami"))
            assert rpc.request("hello", {"name": "unix"}) == {"message": "Hello unix!"}
            with pytest.raises(RemoteError) as caught:
                rpc.request("hello", {"name": None})
            assert caught.value.category == "invalid_input"
    assert svc.proc.pid not in pids
    assert svc.stop() == 0
    assert not os.path.exists(path)
