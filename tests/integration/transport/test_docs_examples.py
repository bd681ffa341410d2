"""Every example program of docs/transports.md, run as written (paths moved to tmp)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import free_port, wait_for

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "transports.md"
BLOCK = re.compile(r"```python\n# file: (?P<name>\S+)\n(?P<code>.*?)```", re.DOTALL)


def examples(tmp_path: Path) -> dict[str, Path]:
    """The example files, written to ``tmp_path`` with their socket and pipe paths there."""
    written = {}
    for match in BLOCK.finditer(DOC.read_text()):
        code = match.group("code")
        code = code.replace("/tmp/mvi-example", str(tmp_path / "example"))
        path = tmp_path / match.group("name")
        path.write_text(code)
        written[match.group("name")] = path
    return written


def run(path: Path, timeout: float = 60, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=path.parent,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def start(path: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=path.parent,
    )


def test_the_doc_has_every_example() -> None:
    names = {match.group("name") for match in BLOCK.finditer(DOC.read_text())}
    assert names == {
        "server.py",
        "client.py",
        "async_client.py",
        "shutdown.py",
        "pipe_server.py",
        "pipe_client.py",
        "raw_client.py",
        "rpc_service.py",
        "rpc_service_client.py",
        "stream_service.py",
        "stream_client.py",
        "asgi_app.py",
        "asgi_client.py",
    }


def test_the_rpc_examples_run(tmp_path: Path) -> None:
    files = examples(tmp_path)
    server = start(files["server.py"])
    try:
        wait_for(lambda: (tmp_path / "example.sock").exists(), timeout=30)
        out = run(files["client.py"])
        assert "[[18. 22. 26.]]" in out
        assert "invalid_request 400 InvalidRequest expected a 1x4 array, got (2, 2)" in out
        assert "str RemoteError" in out and "['one', 'two', 'three']" in out
        out = run(files["async_client.py"])
        assert "HELLO" in out and "['A', 'B']" in out and "['streamed', 'over', 'rpc']" in out
        out = run(files["raw_client.py"])
        assert "[3, 1, 'FROM ANOTHER LANGUAGE']" in out and "'not_found'" in out
        run(files["shutdown.py"])
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    assert not (tmp_path / "example.sock").exists()


@pytest.mark.parametrize("server_first", [True, False])
def test_the_pipe_examples_run_in_either_order(tmp_path: Path, server_first: bool) -> None:
    files = examples(tmp_path)
    order = ["pipe_server.py", "pipe_client.py"]
    first, second = (start(files[n]) for n in (order if server_first else order[::-1]))
    outputs = {}
    for name, proc in zip(order if server_first else order[::-1], (first, second), strict=True):
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs[name] = out
    assert "{'echo': array([0, 1, 2])}" in outputs["pipe_client.py"]
    assert "b'raw bytes'" in outputs["pipe_client.py"]


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def stopped(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, then the exit status must be 0; what the process printed."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


@pytest.mark.parametrize(
    ("service", "client", "socket_name", "expected"),
    [
        (
            "rpc_service.py",
            "rpc_service_client.py",
            "example-service.sock",
            [
                "Hello Ada!",
                "2.0",
                "invalid_input 422 ['name']",
                "invalid_request b must not be 0",
                "['divide', 'hello', 'norms'] ['name']",
            ],
        ),
        (
            "stream_service.py",
            "stream_client.py",
            "example-stream.sock",
            ["['one', 'two', 'three']", 'data: "one"'],
        ),
    ],
)
def test_the_service_examples_run(
    tmp_path: Path, service: str, client: str, socket_name: str, expected: list[str]
) -> None:
    files = examples(tmp_path)
    port = str(free_port())
    server = start(files[service], MVI_PORT=port, MVI_HOST="127.0.0.1")
    try:
        wait_for(lambda: (tmp_path / socket_name).exists(), timeout=60)
        out = run(files[client], MVI_PORT=port)
        for line in expected:
            assert line in out, out
        printed = stopped(server)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    if service == "stream_service.py":
        assert "generator closed" in printed
    assert not (tmp_path / socket_name).exists()


def test_the_asgi_examples_run(tmp_path: Path) -> None:
    files = examples(tmp_path)
    port = str(free_port())
    server = start(files["asgi_app.py"], PORT=port)
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/"), timeout=60)
        out = run(files["asgi_client.py"], timeout=120, PORT=port)
        assert "['model on cuda:0', 'model on cuda:1']" in out
        assert "{'stopping': True}" in out
        assert server.wait(60) == 0
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
