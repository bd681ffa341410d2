"""examples/links runs through the command line (five processes) and inline (the manager
runs it in tests/e2e/manager/test_links.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port, wait_for

from mvi.links import InlineServices
from mvi.links.models.config import load_json
from mvi.links.models.definition import load_module

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "links"
QUOTES = [{"item": "apple", "total": "1.26"}, {"item": "bread", "total": "2.52"}]


def addresses(folder: Path, name: str, ports: dict[int, int]) -> str:
    """The example's addresses file, on free ports."""
    text = (EXAMPLE / name / "addresses.json").read_text()
    for fixed, free in ports.items():
        text = text.replace(f":{fixed}", f":{free}")
    path = folder / f"{name}_addresses.json"
    path.write_text(text)
    return str(path)


def start(name: str, *arguments: str) -> subprocess.Popen[str]:
    """``python -m mvi.links -s NAME.py ARGUMENTS`` in the example's folder ``NAME``."""
    return subprocess.Popen(
        [sys.executable, "-m", "mvi.links", "-s", f"{name}.py", *arguments],
        cwd=EXAMPLE / name,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/~ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_example_runs_through_the_command_line(tmp_path: Path) -> None:
    ports = {5601: free_port(), 5602: free_port()}
    services: list[subprocess.Popen[str]] = []
    try:
        for name in ("one", "two"):
            port = free_port()
            services.append(
                start("subscriber", "-a", addresses(tmp_path, "subscriber", ports),
                      "--http-port", str(port), "--name", name,
                      "--record_path", str(tmp_path / f"{name}.jsonl"))
            )  # fmt: skip
            wait_for(lambda port=port: ready(port), 20)
        port = free_port()
        services.append(
            start("replyer", "-a", addresses(tmp_path, "replyer", ports),
                  "-c", "config.json", "--http-port", str(port))
        )  # fmt: skip
        wait_for(lambda: ready(port), 20)
        requester = start(
            "requester", "-m", "-a", addresses(tmp_path, "requester", ports),
            "-c", "config.json", "--record_path", str(tmp_path / "quotes.json"),
        )  # fmt: skip
        output, _ = requester.communicate(timeout=30)
        assert requester.returncode == 0, output
        assert json.loads((tmp_path / "quotes.json").read_text()) == QUOTES
        for name in ("one", "two"):
            path = tmp_path / f"{name}.jsonl"
            wait_for(lambda path=path: path.exists() and len(path.read_text().splitlines()) == 2)
            assert [json.loads(line) for line in path.read_text().splitlines()] == QUOTES
    finally:
        for service in services:
            service.terminate()
        statuses = [service.wait(10) for service in services]
    assert statuses == [0, 0, 0]


@pytest.mark.parametrize("how", ["path", "module"])
def test_the_example_runs_inline(tmp_path: Path, how: str) -> None:
    requester_config = load_json(EXAMPLE / "requester" / "config.json", "config")
    requester_config["optional"] = {"record_path": str(tmp_path / "quotes.json")}
    replyer_config = load_json(EXAMPLE / "replyer" / "config.json", "config")
    inline = InlineServices()
    if how == "path":
        inline.set_main_service(
            "requester", EXAMPLE / "requester" / "requester.py", requester_config
        )
        inline.add_service("replyer", EXAMPLE / "replyer" / "replyer.py", replyer_config)
    else:
        main = load_module(EXAMPLE / "requester" / "requester.py")
        inline.set_main_service_by_module("requester", main, requester_config)
        inline.add_service_by_module(
            "replyer", load_module(EXAMPLE / "replyer" / "replyer.py"), replyer_config
        )
    for name in ("one", "two"):
        config = {"name": name, "record_path": str(tmp_path / f"{name}.jsonl")}
        inline.add_service(name, EXAMPLE / "subscriber" / "subscriber.py", config)
        inline.add_relation("replyer", "quotes", name, "quotes")
    inline.add_relation("requester", "quote", "replyer", "quote")
    inline.start()
    assert json.loads((tmp_path / "quotes.json").read_text()) == QUOTES
    for name in ("one", "two"):
        lines = (tmp_path / f"{name}.jsonl").read_text().splitlines()
        assert [json.loads(line) for line in lines] == QUOTES
