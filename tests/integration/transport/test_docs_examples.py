"""Every example program of docs/transports.md, run as written (paths moved to tmp)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "transports.md"
BLOCK = re.compile(r"```python\n# file: (?P<name>\S+)\n(?P<code>.*?)```", re.DOTALL)


def examples(tmp_path: Path) -> dict[str, Path]:
    """The example files, written to ``tmp_path`` with their socket and pipe paths there."""
    written = {}
    for match in BLOCK.finditer(DOC.read_text()):
        code = match.group("code")
        code = code.replace("/tmp/mvi-example.sock", str(tmp_path / "example.sock"))
        code = code.replace("/tmp/mvi-example-pipe", str(tmp_path / "example-pipe"))
        path = tmp_path / match.group("name")
        path.write_text(code)
        written[match.group("name")] = path
    return written


def run(path: Path, timeout: float = 60) -> str:
    done = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def start(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
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
