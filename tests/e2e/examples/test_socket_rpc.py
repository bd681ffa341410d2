"""examples/socket_rpc deployed through a real manager: the model answers over HTTP through
the gateway and over socket RPC from client.py and SocketClient, the same numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import free_port
from tests.e2e.examples.conftest import copy_example
from tests.e2e.manager.conftest import Manager

from mvi.transport.rpc import SocketClient

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def rpc_port(manager: Manager, tmp_path_factory: pytest.TempPathFactory) -> int:
    project = copy_example("socket_rpc", Path(tmp_path_factory.mktemp("socket_rpc")))
    port = free_port()
    environment = project / ".s2i" / "environment"
    environment.write_text(environment.read_text().replace("RPC_PORT=9100", f"RPC_PORT={port}"))
    manager.ok("deploy", "linear", "1.0.0", str(project))
    return port


def test_the_client_gets_the_scores_over_socket_rpc(rpc_port: int) -> None:
    client = Path(__file__).resolve().parents[3] / "examples" / "socket_rpc" / "client.py"
    rows = ["1", "0", "0", "0", "0", "1", "0", "0"]
    command = [sys.executable, str(client), "--port", str(rpc_port), *rows]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "{'inputs': 4, 'outputs': 3}",
        "[[0.0, 0.1, 0.2], [0.3, 0.4, 0.5]]",
        "[[0.0, 0.1, 0.2]]",
        "[[0.3, 0.4, 0.5]]",
    ]


def test_http_through_the_gateway_and_rpc_agree(manager: Manager, rpc_port: int) -> None:
    rows = np.arange(8, dtype=np.float32).reshape(2, 4)
    over_http = manager.call("linear/predict", x=rows.tolist())
    assert over_http.status_code == 200, over_http.text
    with SocketClient(host="127.0.0.1", port=rpc_port, connection_timeout=30) as client:
        over_rpc = client.request("/", rows)
        pipelined = list(client.stream("/", [row.reshape(1, 4) for row in rows]))
    assert np.allclose(over_http.json(), over_rpc)
    assert np.allclose(np.vstack(pipelined), over_rpc)


def test_a_bad_rpc_request_is_an_error_and_the_server_goes_on(rpc_port: int) -> None:
    with SocketClient(host="127.0.0.1", port=rpc_port, connection_timeout=30) as client:
        with pytest.raises(Exception, match="rows of 4 features"):
            client.request("/", np.ones((2, 2), dtype=np.float32))
        assert client.request("/info") == {"inputs": 4, "outputs": 3}
