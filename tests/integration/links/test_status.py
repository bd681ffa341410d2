"""/~health, /~ready and /~metrics of a link service, asked over real HTTP."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest
import zmq
from tests.conftest import free_port
from tests.integration.links._helpers import FAST, client, module, running

REPLYER = """
def on_echo(args, to_send, config):
    return args

connection_models = {
    "in": {
        "echo": {
            "connection_type": "replyer",
            "required_creation_arguments": {"connection_function": on_echo},
            "required_arguments": {"n": int},
            "required_return_arguments": {"n": int},
        }
    }
}
"""

REQUESTER = """
connection_models = {
    "out": {"echo": {"connection_type": "requester", "required_arguments": {"n": int}}}
}
"""


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("how", ["flag", "settings"])
def test_the_status_routes_answer_under_the_root_path(tmp_path: Path, how: str) -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    port = free_port()
    root = "/services/echo_1.0.0"
    settings = FAST.model_copy(update={"service_root_path": root})
    options: dict[str, int] = {}
    if how == "flag":
        options["http_port"] = port
    else:
        settings = settings.model_copy(update={"link_http": True, "port": port})
    source = module(tmp_path, "echo", REPLYER)
    with running(source, {"in": {"echo": {"replyer": url}}}, settings=settings, **options):
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}{root}/~health").json() == {"status": "alive"}
        ready = httpx.get(f"{base}/~ready")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        missing = httpx.get(f"{base}{root}/nothing")
        assert missing.status_code == 404 and "link service" in missing.json()["detail"]
        posted = httpx.post(f"{base}{root}/echo", json={"n": 1})
        assert posted.status_code == 405 and "ZeroMQ" in posted.json()["detail"]
        with client(
            module(tmp_path, "asker", REQUESTER), {"out": {"echo": {"requester": url}}}
        ) as c:
            c.to_send("echo", {"n": 1})
            c.to_send("echo", {"n": 2})
        context = zmq.Context()
        raw = context.socket(zmq.REQ)
        raw.connect(url)
        raw.send(b"\xc1")
        assert raw.poll(5000)
        raw.recv_multipart()
        context.destroy(linger=0)
        metrics = httpx.get(f"{base}{root}/~metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        labels = {"service": "echo", "connection": "echo"}
        assert sample(text, "mvi_link_messages_in_total", **labels) == 3
        assert sample(text, "mvi_link_messages_out_total", **labels) == 3
        assert sample(text, "mvi_link_errors_total", kind="malformed", **labels) == 1
        assert re.search(r"^# TYPE mvi_link_retries_total counter", text, re.MULTILINE)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/~health")


def test_a_taken_status_port_stops_the_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        source = module(tmp_path, "echo2", REPLYER)
        with pytest.raises(Exception, match="cannot serve /~health"):
            addresses = {"in": {"echo": {"replyer": f"tcp://127.0.0.1:{free_port()}"}}}
            with running(source, addresses, http_port=port):
                pass
