"""``mvi run``: serve a service folder with its ``.s2i/environment``, stop it with a signal."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import zmq
from tests.conftest import free_port
from tests.e2e.cli.cli_support import EXAMPLE, clean_env, mvi_executable

from mvi.links.connections.wire import pack, unpack
from mvi.transport.rpc import SocketClient

if TYPE_CHECKING:
    from tests.e2e.cli.conftest import MviRunner, ServerStarter

# A service that reports the environment and folder it was started with.
ECHO_SERVICE = """\
import os

from mvi import service


@service.entrypoint
def where() -> dict:
    return {
        "cwd": os.getcwd(),
        "greeting": os.environ.get("GREETING"),
        "workers": os.environ.get("MVI_WORKERS"),
    }


if __name__ == "__main__":
    service.run()
"""


LINKS_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "links"


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def make_project(folder: Path, environment: str, app_file: str = "service.py") -> Path:
    (folder / ".s2i").mkdir(parents=True)
    (folder / ".s2i" / "environment").write_text(textwrap.dedent(environment))
    (folder / app_file).write_text(ECHO_SERVICE)
    return folder


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_serves_the_example_until_a_signal_stops_it_with_exit_0(
    start_server: ServerStarter, tmp_path: Path, sig: signal.Signals
) -> None:
    port = free_port()
    env = clean_env(MVI_SERVICE_DB_URL=f"sqlite:///{tmp_path / 'monitoring.db'}")
    server = start_server(
        [mvi_executable(), "run", str(EXAMPLE), "--port", str(port)],
        port=port,
        cwd=tmp_path,
        env=env,
    )
    answer = httpx.post(f"{server.url}/hello", json={"name": "Alice"}, timeout=10)
    assert answer.json() == "Hello Alice"
    assert server.stop(sig) == 0
    assert "Shutting down" in server.log()


@pytest.mark.parametrize(
    "command",
    [
        [mvi_executable(), "run", str(EXAMPLE)],
        [sys.executable, str(EXAMPLE / "service.py")],
    ],
    ids=["mvi-run", "python-service-py"],
)
def test_the_example_serves_on_127_0_0_1_port_8000_by_default(
    start_server: ServerStarter, tmp_path: Path, command: list[str]
) -> None:
    env = clean_env(MVI_SERVICE_DB_URL=f"sqlite:///{tmp_path / 'monitoring.db'}")
    if not port_is_free(8000):
        # Something (e.g. the Quickstart's `mvi run examples/hello`) holds 8000: the example
        # must then fail to bind exactly that address.
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert "('127.0.0.1', 8000)" in result.stderr
        return
    server = start_server(command, port=8000, cwd=tmp_path, env=env)
    answer = httpx.post(f"{server.url}/hello", json={"name": "Bob"}, timeout=10)
    assert answer.json() == "Hello Bob"
    assert "http://127.0.0.1:8000" in server.log()
    assert server.stop() == 0


def test_run_uses_the_s2i_environment_and_the_flags_override_it(
    start_server: ServerStarter, tmp_path: Path
) -> None:
    project = make_project(
        tmp_path / "echo",
        """\
        # the file to run, and the service's own settings
        APP_FILE=app.py

        GREETING = Howdy, partner
        MVI_HOST=127.0.0.2
        MVI_PORT=1
        MVI_WORKERS=1
        """,
        app_file="app.py",
    )
    port = free_port()
    flags = ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    server = start_server(
        [mvi_executable(), "run", str(project), *flags],
        port=port,
        cwd=tmp_path,
        env=clean_env(MVI_SERVICE_DB_URL=f"sqlite:///{tmp_path / 'monitoring.db'}"),
    )
    answer = httpx.post(f"{server.url}/where", json={}, timeout=10).json()
    assert answer == {"cwd": str(project), "greeting": "Howdy, partner", "workers": "2"}
    assert server.stop() == 0


def test_run_rpc_flags_serve_the_entrypoints_over_the_socket_rpc(
    start_server: ServerStarter, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "echo", "APP_FILE=app.py\n", app_file="app.py")
    port, rpc_port = free_port(), free_port()
    server = start_server(
        [mvi_executable(), "run", str(project), "--port", str(port), "--rpc-port", str(rpc_port)],
        port=port,
        cwd=tmp_path,
        env=clean_env(MVI_SERVICE_DB_URL=f"sqlite:///{tmp_path / 'monitoring.db'}"),
    )
    with SocketClient(port=rpc_port, connection_timeout=20) as client:
        assert client.request("where", {})["cwd"] == str(project)
    assert server.stop() == 0


def test_run_exits_with_the_exit_status_of_the_service(mvi: MviRunner, tmp_path: Path) -> None:
    (tmp_path / "failing").mkdir()
    (tmp_path / "failing" / "service.py").write_text("raise SystemExit(3)\n")
    assert mvi("run", "failing").returncode == 3


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "does not exist"),
        (lambda root: (root / "svc").write_text("a file"), "is not a directory"),
        (lambda root: (root / "svc").mkdir(), "has no service.py"),
        (
            lambda root: make_project(root / "svc", "APP_FILE=main.py\n"),
            "has no main.py",
        ),
        (
            lambda root: make_project(root / "svc", "APP_FILE=../outside.py\n"),
            "must be a path inside the project",
        ),
        (
            lambda root: make_project(root / "svc", "# settings\nAPP_FILE service.py\n"),
            "environment:2: expected KEY=VALUE",
        ),
        (
            lambda root: make_project(root / "svc", "A=1\nB-C=2\n"),
            "environment:2: 'B-C' is not a variable name",
        ),
        (
            lambda root: make_project(root / "svc", "A=1\n\nA=2\n"),
            "environment:3: A is set twice",
        ),
    ],
    ids=[
        "missing",
        "file",
        "no-service-py",
        "no-app-file",
        "app-file-outside",
        "malformed",
        "bad-key",
        "duplicate",
    ],
)
def test_run_refuses_a_bad_project_with_one_line(
    mvi: MviRunner, tmp_path: Path, setup: Callable[[Path], object], message: str
) -> None:
    setup(tmp_path)
    result = mvi("run", "svc")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert lines[0].startswith("Error: ")


@pytest.mark.parametrize("args", [["--port", "70000"], ["--workers", "0"], ["--port", "x"]])
def test_run_refuses_out_of_range_options(mvi: MviRunner, tmp_path: Path, args: list[str]) -> None:
    result = mvi("run", str(EXAMPLE), *args)
    assert result.returncode == 2
    assert "Invalid value" in result.stderr


WEB_APP = """\
import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def ready(request):
    return JSONResponse({"port": os.environ["PORT"], "greeting": os.environ.get("GREETING")})


app = Starlette(routes=[Route("/~ready", ready)])
"""


@pytest.mark.parametrize(
    ("environment", "files"),
    [
        ("APP_MODULE=webapp:app\nGREETING=hi\n", {}),
        (
            "APP_SCRIPT=run.sh\nGREETING=hi\n",
            {"run.sh": "exec python -m mvi.serving.server.webapp webapp:app\n"},
        ),
    ],
    ids=["app-module", "app-script"],
)
def test_run_serves_a_web_app_on_the_port_it_is_given(
    start_server: ServerStarter, tmp_path: Path, environment: str, files: dict[str, str]
) -> None:
    project = make_project(tmp_path / "web", environment, app_file="webapp.py")
    (project / "webapp.py").write_text(WEB_APP)
    for name, text in files.items():
        (project / name).write_text(text)
    port = free_port()
    server = start_server(
        [mvi_executable(), "run", str(project), "--port", str(port)],
        port=port,
        cwd=tmp_path,
        env=clean_env(),
    )
    answer = httpx.get(f"{server.url}/~ready", timeout=10).json()
    assert answer == {"port": str(port), "greeting": "hi"}
    assert server.stop() == 0


def test_run_serves_a_link_service_with_its_files_and_status_port(
    start_server: ServerStarter, tmp_path: Path
) -> None:
    project = tmp_path / "replyer"
    # Not its bytecode cache: other tests may be writing it (pytest -n) as it copies.
    shutil.copytree(
        LINKS_EXAMPLE / "replyer", project, ignore=shutil.ignore_patterns("__pycache__")
    )
    zmq_port = free_port()
    addresses = {"in": {"quote": {"replyer": f"127.0.0.1:{zmq_port}"}}}
    addresses["out"] = {"quotes": {"publisher": f"127.0.0.1:{free_port()}"}}
    (project / "addresses.json").write_text(json.dumps(addresses))
    (project / "config.json").write_text(json.dumps({"required": {"tax_rate": 0.5}}))
    port = free_port()
    server = start_server(
        [mvi_executable(), "run", str(project), "--port", str(port)],
        port=port,
        cwd=tmp_path,
        env=clean_env(),
    )
    context = zmq.Context()
    try:
        request = context.socket(zmq.REQ)
        request.connect(f"tcp://127.0.0.1:{zmq_port}")
        request.send(pack({"item": "tea", "quantity": 2, "unit_price": Decimal("1.00")}))
        assert request.poll(20_000), server.log()
        status, body = request.recv_multipart()
        assert (status, unpack(body)) == (b"ok", {"item": "tea", "total": Decimal("3.00")})
        request.close(linger=0)
    finally:
        context.term()
    metrics = httpx.get(f"{server.url}/~metrics", timeout=10).text
    assert 'mvi_link_messages_in_total{connection="quote",service="replyer"} 1.0' in metrics
    assert server.stop(signal.SIGTERM) == 0
    assert "Running the link service replyer.py" in server.log()
