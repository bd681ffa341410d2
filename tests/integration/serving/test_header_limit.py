"""The request head (line and headers) is bounded on a real service, whichever HTTP
implementation uvicorn runs: a few MB of headers get 431 over a raw socket and the
process's memory stays flat; heads under the limit and large bodies are served."""

from __future__ import annotations

import socket

import pytest
from tests.conftest import ServiceFactory, ServiceProcess
from tests.integration.serving._helpers import rss_kib, send_head

SERVICE = """
import sys
from mvi import service
from mvi.serving.server.protocols import bounded_protocol
from mvi.serving.server import GracefulServer, uvicorn_config

@service.entrypoint
def hello(name: str) -> str:
    return "Hello " + name

if __name__ == "__main__":
    implementation = "{implementation}"
    if implementation == "run":
        service.run()  # the protocol uvicorn picks itself
    else:
        service.activate()
        settings = service.settings
        http = bounded_protocol(settings.max_header_bytes, implementation)
        GracefulServer(uvicorn_config(service, settings, http=http), service.drain).run()
"""


@pytest.fixture(scope="module", params=["run", "h11", "httptools"])
def svc(request: pytest.FixtureRequest, start_module_service: ServiceFactory) -> ServiceProcess:
    return start_module_service(SERVICE.replace("{implementation}", request.param))


def test_a_head_of_a_few_megabytes_is_refused_with_431_and_memory_stays_flat(
    svc: ServiceProcess,
) -> None:
    assert svc.post("/hello", json={"name": "warm"}).status_code == 200
    before = rss_kib(svc.proc.pid)
    for _ in range(3):
        answer = send_head(svc.port, "/~health", 8 * 1024 * 1024)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b"larger than 65536 bytes" in body
    grown = rss_kib(svc.proc.pid) - before
    assert grown < 4 * 1024, f"the service grew by {grown} KiB"
    assert svc.post("/hello", json={"name": "after"}).json() == "Hello after"


def test_a_head_under_the_limit_is_served(svc: ServiceProcess) -> None:
    answer = send_head(svc.port, "/~health", 56 * 1024)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


@pytest.mark.parametrize("size", [1024 * 1024, 5 * 1024 * 1024])
def test_a_large_body_after_a_small_head_is_not_counted_as_head(
    svc: ServiceProcess, size: int
) -> None:
    body = b'{"name": "' + b"b" * size + b'"}'
    request = (
        b"POST /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as sock:
        sock.sendall(request)  # one write: the head and the body arrive in the same reads
        answer = sock.recv(256)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


def test_keep_alive_requests_each_get_their_own_head_budget(svc: ServiceProcess) -> None:
    head = b"GET /~health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * 40_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as sock:
        for _ in range(5):  # 5 x 40 KB on one connection: each head is under 64 KiB
            sock.sendall(head)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                answer += sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
