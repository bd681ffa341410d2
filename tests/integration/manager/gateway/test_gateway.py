"""The gateway in a real uvicorn server, forwarding to a real service process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import ServiceFactory, ServiceProcess, free_port
from tests.integration.manager.gateway._gateway import GatewayServer

from mvi.manager.gateway.routing import Route, RoutingTable

UPSTREAM = """\
import asyncio
import time

from fastapi import Request
from fastapi.responses import StreamingResponse

from mvi import service


@service.entrypoint
def hello(name: str) -> str:
    return f"Hello {name}"


@service.entrypoint
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


@service.app.api_route("/echo", methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
async def echo(request: Request) -> dict:
    body = await request.body()
    return {
        "method": request.method,
        "path": request.url.path,
        "query": str(request.url.query),
        "headers": dict(request.headers),
        "size": len(body),
    }


@service.app.get("/ticks")
async def ticks() -> StreamingResponse:
    async def produce():
        for i in range(3):
            yield f"tick {i}\\n".encode()
            await asyncio.sleep(0.5)

    return StreamingResponse(produce(), media_type="text/plain", headers={"x-upstream": "yes"})


if __name__ == "__main__":
    service.run()
"""


@pytest.fixture
def upstream(start_service: ServiceFactory) -> ServiceProcess:
    return start_service(UPSTREAM, root="/services/echo_1.0.0")


@pytest.fixture
def gateway(upstream: ServiceProcess) -> Iterator[GatewayServer]:
    routes = RoutingTable()
    routes.set_version(Route("echo", "1.0.0", upstream.port, True, "running"))
    routes.set_main("echo", "1.0.0")
    routes.set_version(Route("echo", "2.0.0", free_port(), True, "running"))  # nothing there
    with GatewayServer(routes, timeout=1.0) as server:
        yield server


def test_entrypoints_answer_through_the_main_and_version_routes(gateway: GatewayServer) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        assert client.post("/services/echo/hello", json={"name": "A"}).json() == "Hello A"
        assert client.post("/services/echo_1.0.0/hello", json={"name": "B"}).json() == "Hello B"
        bad = client.post("/services/echo/hello", json={"name": 3})
        assert bad.status_code == 422  # the service's own answer comes back unchanged
        docs = client.get("/services/echo/openapi.json")
        assert docs.status_code == 200 and "/hello" in docs.json()["paths"]


def test_method_path_query_and_headers_are_forwarded(gateway: GatewayServer) -> None:
    headers = {
        "x-custom": "kept",
        "connection": "keep-alive, x-drop-me",
        "x-drop-me": "named in Connection",
        "te": "trailers",
        "proxy-authorization": "Basic c2VjcmV0",
        "x-forwarded-for": "10.1.2.3",
    }
    with httpx.Client(base_url=gateway.url) as client:
        answer = client.put("/services/echo/echo?a=1&b=two", content=b"xyz", headers=headers)
    seen = answer.json()
    assert seen["method"] == "PUT" and seen["path"] == "/services/echo_1.0.0/echo"
    assert seen["query"] == "a=1&b=two" and seen["size"] == 3
    forwarded = seen["headers"]
    assert forwarded["x-custom"] == "kept"
    for dropped in ("x-drop-me", "te", "proxy-authorization"):
        assert dropped not in forwarded
    assert forwarded["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    assert forwarded["x-forwarded-host"] == f"127.0.0.1:{gateway.port}"


def test_large_bodies_stream_through(gateway: GatewayServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b"z" * 65536

    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        answer = client.post("/services/echo_1.0.0/echo", content=chunks())
    assert answer.json()["size"] == 80 * 65536


def test_responses_stream_as_they_are_produced(gateway: GatewayServer) -> None:
    started = time.monotonic()
    arrivals = []
    with httpx.stream("GET", f"{gateway.url}/services/echo/ticks", timeout=10) as response:
        assert response.headers["x-upstream"] == "yes"
        for line in response.iter_lines():
            arrivals.append((line, time.monotonic() - started))
    assert [line for line, _ in arrivals] == ["tick 0", "tick 1", "tick 2"]
    assert arrivals[0][1] < arrivals[-1][1] - 0.5  # the first tick came before the last


def test_unknown_service_and_version_are_404(gateway: GatewayServer) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        unknown = client.post("/services/nope/hello", json={})
        assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
        version = client.post("/services/echo_3.0.0/hello", json={})
        assert version.status_code == 404 and "1.0.0, 2.0.0" in version.json()["detail"]


def test_an_upstream_that_is_down_is_502(gateway: GatewayServer) -> None:
    answer = httpx.post(f"{gateway.url}/services/echo_2.0.0/hello", json={"name": "x"})
    assert answer.status_code == 502 and "cannot be reached" in answer.json()["detail"]


def test_a_slow_upstream_is_504(gateway: GatewayServer) -> None:
    answer = httpx.post(f"{gateway.url}/services/echo/slow", json={"seconds": 3}, timeout=10)
    assert (
        answer.status_code == 504
        and "did not answer /services/echo_1.0.0/slow within 1s" in answer.json()["detail"]
    )


def test_a_version_that_is_not_running_is_502_without_a_connection(
    upstream: ServiceProcess,
) -> None:
    routes = RoutingTable()
    routes.set_version(Route("echo", "1.0.0", upstream.port, False, "stopped"))
    routes.set_main("echo", "1.0.0")
    with GatewayServer(routes, timeout=1.0) as server:
        answer = httpx.post(f"{server.url}/services/echo/hello", json={"name": "x"})
    assert answer.status_code == 502 and "status: stopped" in answer.json()["detail"]


def test_docs_work_through_the_version_route_with_the_right_openapi_link(
    gateway: GatewayServer,
) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        page = client.get("/services/echo_1.0.0/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "'/services/echo_1.0.0/openapi.json'" in page.text
        schema = client.get("/services/echo_1.0.0/openapi.json")
    assert schema.status_code == 200
    assert "/hello" in schema.json()["paths"]
    assert schema.json()["servers"] == [{"url": "/services/echo_1.0.0"}]


def test_an_unknown_entrypoint_is_a_clear_404(gateway: GatewayServer) -> None:
    answer = httpx.post(f"{gateway.url}/services/echo/nothing", json={})
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert "echo 1.0.0 has no entrypoint or route 'nothing'" in detail
    assert "/services/echo_1.0.0/docs" in detail


def test_head_answers_leave_the_connection_usable(gateway: GatewayServer) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        for _ in range(3):
            head = client.head("/services/echo/echo")
            assert head.status_code == 200 and head.content == b""
            assert client.post("/services/echo/hello", json={"name": "A"}).json() == "Hello A"
