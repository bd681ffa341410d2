"""The model over socket RPC and over HTTP, from a real server process on free ports."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

import service

PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    http_port, rpc_port = free_port(), free_port()
    workdir = tmp_path_factory.mktemp("linear")
    env = {
        **os.environ,
        "MVI_PORT": str(http_port),
        "RPC_PORT": str(rpc_port),
        "MVI_SERVICE_DB_URL": f"sqlite:///{workdir / 'monitoring.db'}",
    }
    log = (workdir / "service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(PROJECT / "service.py")], env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/~ready").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield http_port, rpc_port
    process.terminate()
    process.wait(30)


def test_the_client_prints_the_models_scores(ports: tuple[int, int]) -> None:
    done = subprocess.run(
        [sys.executable, str(PROJECT / "client.py"), "--port", str(ports[1]), "1", "0", "0", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == ["{'inputs': 4, 'outputs': 3}", "[[0.0, 0.1, 0.2]]", "[[0.0, 0.1, 0.2]]"]


def test_http_and_rpc_give_the_same_answer(ports: tuple[int, int]) -> None:
    rows = [[1.0, 2.0, 3.0, 4.0]]
    over_http = httpx.post(f"http://127.0.0.1:{ports[0]}/predict", json={"x": rows}).json()
    assert np.allclose(over_http, service.predict_array(np.array(rows)))


def test_a_wrong_shape_is_refused_with_the_reason() -> None:
    with pytest.raises(Exception, match="rows of 4 features"):
        service.predict_array(np.ones((2, 2)))
