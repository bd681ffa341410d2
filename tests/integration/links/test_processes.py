"""The command line in real processes: signals, a killed replyer, the exit statuses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import free_port, wait_for
from tests.integration.links._helpers import client, module, service_file

REPLYER = """
import time
from pathlib import Path

from mvi.links import get_logger

LOG = get_logger()

def on_ask(args, to_send, config):
    if config.get("slow"):
        Path(config["marker"]).write_text("busy")
        time.sleep(60)
    return {"answer": args["n"] * 2, "by": config["name"]}

def init_function(to_send, config):
    LOG.info("init %s", config["name"])

def sigterm_handler(signum, frame, to_send, config):
    Path(config["marker"]).write_text(f"sigterm {signum}")

def sigint_handler(signum, frame, to_send, config):
    Path(config["marker"]).write_text(f"sigint {signum}")

config_model = {"required": {"name": str, "marker": str}, "optional": {"slow": bool}}

connection_models = {
    "in": {
        "ask": {
            "connection_type": "replyer",
            "required_creation_arguments": {"connection_function": on_ask},
            "required_arguments": {"n": int},
            "required_return_arguments": {"answer": int, "by": str},
        }
    }
}
"""

MAIN = """
import json
import os
import time
from pathlib import Path

def main(to_send, config):
    Path(config["marker"]).write_text("started")
    if config["mode"] == "sleep":
        while True:
            time.sleep(0.05)
    reply = to_send("ask", {"n": config.get("n", 1)})
    Path(config["result"]).write_text(json.dumps(reply))

def setup_connections(config):
    return {"ask": {"timeout": config.get("timeout", 5.0), "retries": config.get("retries", 0)}}

def sigterm_handler(signum, frame, to_send, config):
    Path(config["marker"]).write_text("sigterm in main")

config_model = {
    "required": {"marker": str, "mode": str},
    "optional": {"n": int, "result": str, "timeout": float, "retries": int},
}

connection_models = {
    "out": {
        "ask": {
            "connection_type": "requester",
            "required_arguments": {"n": int},
            "required_return_arguments": {"answer": int, "by": str},
        }
    }
}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("processes")
    service_file(folder, "replyer", REPLYER)
    service_file(folder, "main", MAIN)
    return folder


def link(*arguments: str, entry: str = "mvi.links") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", entry, *(["link"] if entry == "mvi.cli" else []), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def addresses(folder: Path, side: str, socket: str, url: str) -> str:
    path = folder / f"addresses_{free_port()}.json"
    path.write_text(json.dumps({side: {"ask": {socket: url}}}))
    return str(path)


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/~ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def replyer(folder: Path, url: str, name: str, marker: Path, *extra: str) -> subprocess.Popen[str]:
    port = free_port()
    process = link(
        "-s", str(folder / "replyer.py"), "-a", addresses(folder, "in", "replyer", url),
        "--http-port", str(port), "--name", name, "--marker", str(marker), *extra,
    )  # fmt: skip
    try:
        wait_for(lambda: ready(port) or process.poll() is not None, 20)
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, process.communicate()[0]
    return process


def finish(process: subprocess.Popen[str], timeout: float = 10) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


@pytest.fixture
def url() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    ("number", "said"),
    [
        (signal.SIGTERM, f"sigterm {signal.SIGTERM.value}"),
        (signal.SIGINT, f"sigint {signal.SIGINT.value}"),
    ],
)
def test_a_signal_in_service_mode_runs_the_handler_and_exits_0(
    folder: Path, url: str, tmp_path: Path, number: int, said: str
) -> None:
    marker = tmp_path / "marker"
    process = replyer(folder, url, "r", marker)
    process.send_signal(number)
    status, output = finish(process)
    assert status == 0, output
    assert marker.read_text() == said
    assert "init r" in output
    # its socket is closed: the address can be bound again at once
    again = replyer(folder, url, "again", tmp_path / "again")
    again.terminate()
    assert finish(again)[0] == 0


@pytest.mark.parametrize("mode", ["sleep", "ask"], ids=["in-main", "in-to_send"])
def test_sigterm_in_main_mode_runs_the_handler_and_exits_0(
    folder: Path, url: str, tmp_path: Path, mode: str
) -> None:
    marker = tmp_path / "marker"
    process = link(
        "-s", str(folder / "main.py"), "-m", "-a", addresses(folder, "out", "requester", url),
        "--marker", str(marker), "--mode", mode, "--timeout", "30", "--result", str(tmp_path / "r"),
    )  # fmt: skip
    wait_for(lambda: marker.exists() and marker.read_text() == "started", 20)
    time.sleep(0.1)  # in its loop, or waiting in to_send for a reply that never comes
    started = time.monotonic()
    process.terminate()
    status, output = finish(process)
    assert status == 0, output
    assert time.monotonic() - started < 5
    assert marker.read_text() == "sigterm in main"


def test_the_cli_runs_a_main_mode_requester_with_extra_config_and_logs(
    folder: Path, url: str, tmp_path: Path
) -> None:
    server = replyer(folder, url, "first", tmp_path / "server_marker")
    try:
        result = tmp_path / "result.json"
        logs = tmp_path / "logs"
        process = link(
            "-s", str(folder / "main.py"), "-m", "-a", addresses(folder, "out", "requester", url),
            "-wt", "0.01", "-cl", "DEBUG", "-f", "INFO", "-bc", "2", "-l", str(logs),
            "--marker", str(tmp_path / "m"), "--mode", "ask", "--n", "21", f"--result={result}",
            entry="mvi.cli",
        )  # fmt: skip
        status, output = finish(process, 20)
        assert status == 0, output
        assert json.loads(result.read_text()) == {"answer": 42, "by": "first"}
        assert (logs / "main.log").exists()
    finally:
        server.terminate()
        finish(server)


def test_a_replyer_killed_mid_request_is_replaced_and_the_requester_goes_on(
    folder: Path, url: str, tmp_path: Path
) -> None:
    busy = tmp_path / "busy"
    first = replyer(folder, url, "first", busy, "--slow", "true")
    source = module(tmp_path, "asker", MAIN)
    config = {"marker": "-", "mode": "-", "timeout": 1.0, "retries": 5}
    answers: list[Any] = []
    with client(source, {"out": {"ask": {"requester": url}}}, config) as runtime:
        asking = threading.Thread(target=lambda: answers.append(runtime.to_send("ask", {"n": 5})))
        asking.start()
        wait_for(lambda: busy.exists() and busy.read_text() == "busy", 20)
        first.kill()  # mid-request: the reply will never come
        first.wait()
        second = replyer(folder, url, "second", tmp_path / "second")
        try:
            asking.join(20)
            assert answers == [{"answer": 10, "by": "second"}]
            assert runtime.connections["ask"].retries >= 1
        finally:
            second.terminate()
            finish(second)


def test_a_service_that_cannot_start_lists_every_problem_and_exits_2(
    folder: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "addresses.json"
    bad.write_text(json.dumps({"in": {"nothing": {"replyer": "1"}}}))
    status, output = finish(
        link("-s", str(folder / "replyer.py"), "-a", str(bad), "--slow", "maybe")
    )
    assert status == 2, output
    for problem in (
        "'name' is required but missing",
        "'marker' is required but missing",
        "'slow'",
        "no 'in' connection 'nothing'",
        "'ask' (replyer) has no address",
    ):
        assert problem in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("arguments", "status", "said", "entry"),
    [
        (["-h"], 0, "-wt WAIT_TIME", "mvi.links"),
        (["-h"], 0, "-bc BACKUP_COUNT", "mvi.cli"),
        ([], 2, "the following arguments are required: -s", "mvi.links"),
        (["-s", "x.py", "stray"], 2, "unexpected argument 'stray'", "mvi.cli"),
        (["-s", "nowhere.py"], 2, "no service file at nowhere.py", "mvi.links"),
        (["-s", "x.py", "-cl", "LOUD"], 2, "'LOUD' is not a log level", "mvi.links"),
    ],
)
def test_the_command_line_explains_itself(
    arguments: list[str], status: int, said: str, entry: str, folder: Path
) -> None:
    arguments = [str(folder / "replyer.py") if a == "x.py" else a for a in arguments]
    code, output = finish(link(*arguments, entry=entry))
    assert (code, said in output) == (status, True), output


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("inbound", [True, False], ids=["replyer", "no-inbound-socket"])
def test_an_idle_service_does_not_spin(
    folder: Path, url: str, tmp_path: Path, inbound: bool
) -> None:
    if inbound:
        process = replyer(folder, url, "idle", tmp_path / "marker")
    else:  # the service loop of a file with only an out connection
        port = free_port()
        process = link(
            "-s", str(folder / "main.py"), "-a", addresses(folder, "out", "requester", url),
            "--http-port", str(port), "--marker", str(tmp_path / "m"), "--mode", "-",
        )  # fmt: skip
        wait_for(lambda: ready(port), 20)
    try:
        time.sleep(0.2)
        before = _cpu_seconds(process.pid)
        time.sleep(1.5)
        assert _cpu_seconds(process.pid) - before < 0.1  # a busy loop would use ~1.5 s
    finally:
        process.terminate()
        finish(process)
