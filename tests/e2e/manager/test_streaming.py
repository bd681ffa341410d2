"""A streaming entrypoint deployed behind the real manager: the gateway passes each item
on as it comes (the first arrives while the generator still runs), keeps the media type,
and a client that disconnects mid-stream stops the generator in the service."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.manager.conftest import Manager, make_project

STREAMER = """\
import asyncio, os
from collections.abc import AsyncIterator
from mvi import service


@service.entrypoint
async def tokens(release: str, closed: str, count: int = 2) -> AsyncIterator[str]:
    try:
        yield "first"
        for _ in range(600):  # the rest waits until the test has seen the first item
            if os.path.exists(release):
                break
            await asyncio.sleep(0.05)
        for i in range(count):
            yield f"then-{i}"
            await asyncio.sleep(0.05)
    finally:
        with open(closed, "w") as f:
            f.write("closed")


if __name__ == "__main__":
    service.run()
"""
NAME = "streamer"


@pytest.fixture
def marks() -> Iterator[Path]:
    """A folder the isolated service may write its marks in (never the manager's /tmp data
    dir's neighbours: Landlock keeps a service out of a folder that holds the data dir)."""
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="mvi-marks-"))
    folder.chmod(0o777)  # in isolation mode `user` the service has a uid of its own
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def streamer(manager: Manager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = make_project(tmp_path_factory.mktemp("streamer") / "streamer", STREAMER)
    manager.ok("deploy", NAME, "1.0.0", str(project))
    yield NAME
    manager.cli("kill", NAME, "--all", "--yes")


@pytest.mark.parametrize("accept", ["application/x-ndjson", "text/event-stream"])
def test_the_first_item_passes_the_gateway_before_the_generator_finishes(
    manager: Manager, streamer: str, marks: Path, accept: str
) -> None:
    release, closed = marks / "release", marks / "closed"
    body = {"release": str(release), "closed": str(closed)}
    with manager.http.stream(
        "POST", f"/services/{streamer}/tokens", json=body, headers={"accept": accept}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == accept
        chunks = response.iter_text()
        first = next(chunks)
        assert "first" in first and not closed.exists()  # the generator still runs
        release.touch()
        rest = first + "".join(chunks)
    if accept == "text/event-stream":
        assert (
            rest == 'data: "first"\n\ndata: "then-0"\n\ndata: "then-1"\n\nevent: end\ndata: {}\n\n'
        )
    else:
        assert [json.loads(line) for line in rest.splitlines()] == ["first", "then-0", "then-1"]
    assert closed.read_text() == "closed"


def test_a_client_that_disconnects_behind_the_gateway_stops_the_generator(
    manager: Manager, streamer: str, marks: Path
) -> None:
    release, closed = marks / "never", marks / "closed"
    payload = json.dumps({"release": str(release), "closed": str(closed)}).encode()
    token = manager.http.headers["authorization"]
    with socket.create_connection(("127.0.0.1", manager.port), timeout=30) as sock:
        sock.sendall(
            f"POST /services/{streamer}/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        seen = b""
        while b"first" not in seen:
            data = sock.recv(4096)
            assert data, seen
            seen += data
        assert b" 200 " in seen.split(b"\r\n", 1)[0]
    deadline = time.monotonic() + 20
    while not closed.exists():  # without the disconnect it would wait 30 s for `never`
        assert time.monotonic() < deadline, "the generator did not stop"
        time.sleep(0.05)
