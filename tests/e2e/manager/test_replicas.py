"""Several local replicas of one version: ``mvi deploy --replicas``, ``mvi scale`` (fixed and
autoscaled), ``mvi ls`` showing them, the gateway balancing over them and retrying on
another when one is killed; and ``mvi export k8s`` of examples/hello, validated."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import kubernetes_validate
import yaml
from tests.e2e.manager.conftest import Manager, make_project

from mvi._version import __version__
from mvi.manager.builds.kubernetes import KUBERNETES_VERSION, check_manifests

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "hello"

SLOW = """\
import os
import time

from mvi import service


@service.entrypoint
def pid() -> int:
    return os.getpid()


@service.entrypoint
def slow(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


if __name__ == "__main__":
    service.run()
"""


def _ready(manager: Manager, name: str, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        record = manager.record(name, "1.0.0")
        table = record["replica_table"] or []
        ready = [r for r in table if r["ready"]]
        if len(ready) == count == len(table) and record["replicas"] == count:
            return ready
        assert time.monotonic() < deadline, record
        time.sleep(0.1)


def test_local_replicas_share_the_load_and_survive_a_kill(manager: Manager, tmp_path: Path) -> None:
    name = "t_local_replicas"
    project = make_project(tmp_path / "slow", SLOW)
    manager.ok("deploy", name, "1.0.0", str(project), "--replicas", "3")
    ready = _ready(manager, name, 3)
    assert len({r["port"] for r in ready}) == 3 and {r["node"] for r in ready} == {"local"}
    listing = manager.ok("ls", name).stdout
    assert "REPLICAS" in listing and "3/3 local" in listing
    pids = {manager.call(f"{name}/pid").json() for _ in range(30)}
    assert pids == {r["pid"] for r in ready}  # every replica answered

    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=manager.url, timeout=10, trust_env=False) as client:
            client.headers.update(manager.http.headers)
            for _ in range(2000):
                if stop.is_set():
                    return
                answer = client.post(f"/services/{name}/pid", json={})
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")

    workers = [threading.Thread(target=load) for _ in range(2)]
    for worker in workers:
        worker.start()
    time.sleep(0.3)
    os.kill(ready[1]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while ready[1]["pid"] in {r["pid"] for r in _ready(manager, name, 3)}:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stop.set()
    for worker in workers:
        worker.join(30)
    assert failures == []

    manager.ok("scale", name, "1.0.0", "1")
    _ready(manager, name, 1)
    manager.cli("kill", name, "--all", "--yes")


def test_local_autoscaling_follows_the_gateways_load(manager: Manager, tmp_path: Path) -> None:
    name = "t_local_autoscale"
    project = make_project(tmp_path / "slow", SLOW)
    manager.ok("deploy", name, "1.0.0", str(project))
    refused = manager.cli("scale", name, "1.0.0", "--min", "3", "--max", "2", "--target", "1")
    assert refused.returncode != 0 and "min_replicas" in refused.stderr
    manager.ok("scale", name, "1.0.0", "--min", "1", "--max", "3", "--target", "1")
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=manager.url, timeout=10, trust_env=False) as client:
            client.headers.update(manager.http.headers)
            for _ in range(200):
                if stop.is_set():
                    return
                client.post(f"/services/{name}/slow", json={"seconds": 0.2})

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        _ready(manager, name, 3, timeout=30)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    _ready(manager, name, 1, timeout=40)
    manager.cli("kill", name, "--all", "--yes")


def test_export_k8s_of_examples_hello_is_valid(manager: Manager, tmp_path: Path) -> None:
    manager.ok("deploy", "hello", "1.0.0", str(EXAMPLE))
    out = tmp_path / "export"
    manager.ok("export", "k8s", "hello", "1.0.0", "--out", str(out))
    assert (out / "Dockerfile").read_text().startswith("# The image of hello 1.0.0")
    assert (out / "app" / "service.py").read_text() == (EXAMPLE / "service.py").read_text()
    lock = (out / "requirements.lock").read_text().splitlines()
    assert f"mvi=={__version__}" in lock and all("file://" not in line for line in lock)
    documents = [yaml.safe_load(path.read_text()) for path in sorted((out / "k8s").iterdir())]
    assert sorted(doc["kind"] for doc in documents) == ["ConfigMap", "Deployment", "Service"]
    for doc in documents:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert check_manifests(documents) == []
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/~ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/~health"
    token = next(e for e in container["env"] if e["name"] == "MVI_SERVICE_ACCESS_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["name"] == "hello-1-0-0-secrets"
    written = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    secret = manager.record("hello", "1.0.0").get("access_token")
    assert secret is None  # the API never shows it, and the export holds no value
    assert "eyJ" not in written  # no JWT anywhere
    manager.cli("kill", "hello", "--all", "--yes")
