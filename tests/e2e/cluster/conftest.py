"""A local 3-node Ray cluster on 127.0.0.1 (``ray.cluster_utils.Cluster``) with mvi's safety
settings, and a real manager process on it (``mvi manager start --runtime ray``).

One cluster serves the whole module: the head and two nodes of one CPU each, fast health
checks (a node lost without grace is noticed in about 1.5 s). Ray's environment is set
before ``ray`` is imported (a temporary HOME with ``ray_bootstrap_config.yaml``, no usage
reports, a random token) and put back afterwards.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import free_port, stop_process, wait_until_ready

from mvi.manager.runtimes.ray.safety import new_token, prepare

SERVICE = """\
import os
import time

from mvi import service


@service.entrypoint
def hello(name: str) -> str:
    return f"Hello {name} from {os.environ['MVI_SERVICE_VERSION']}"


@service.entrypoint
def slow(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@service.entrypoint
def pid() -> int:
    return os.getpid()


if __name__ == "__main__":
    service.run()
"""

HEALTH = {
    "health_check_initial_delay_ms": 500,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 500,
    "health_check_failure_threshold": 3,
}


@dataclass
class RayCluster:
    """The test cluster: its address, token, Ray's HOME, and the Cluster object."""

    cluster: Any
    address: str
    token: str
    home: Path

    def add_node(self) -> Any:
        node = self.cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        self.cluster.wait_for_nodes()
        return node


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    saved = dict(os.environ)
    home = tmp_path_factory.mktemp("ray-home")
    token = new_token()
    prepare(home, token)
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "node_ip_address": "127.0.0.1",
            "include_dashboard": False,
            "_system_config": HEALTH,
        },
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        ray.init(
            address=cluster.address, namespace="mvi", logging_level="WARNING", log_to_driver=False
        )
        yield RayCluster(cluster, cluster.address, token, home)
    finally:
        ray.shutdown()
        cluster.shutdown()
        os.environ.clear()
        os.environ.update(saved)


def archive_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def make_project(root: Path, version_note: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "service.py").write_text(SERVICE + version_note)
    (root / "requirements.txt").write_text("")
    (root / ".s2i").mkdir(exist_ok=True)
    (root / ".s2i" / "environment").write_text("MVI_REPLICA_CPUS=0.1\n")
    return root


@dataclass
class ClusterManager:
    """``mvi manager start --runtime ray --ray-address ...`` as a real process."""

    port: int
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=120, trust_env=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, address: str) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mvi.cli", "manager", "start", "--no-auth",
                 "--port", str(self.port), "--data-dir", str(self.data_dir),
                 "--runtime", "ray", "--ray-address", address],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until_ready(self.proc, "/api/health", self.log_path.read_text, 60, client=self.http)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 15, 60)
            self.proc = None

    def deploy(self, name: str, version: str, folder: Path, replicas: int) -> dict[str, Any]:
        response = self.http.post(
            f"/api/services/{name}/{version}",
            params={"replicas": replicas, "wait": 100},
            content=archive_of(folder),
            headers={"content-type": "application/gzip"},
        )
        assert response.status_code in (201, 202), response.text
        return dict(response.json()["service"])

    def version(self, name: str, version: str) -> dict[str, Any]:
        response = self.http.get(f"/api/services/{name}/{version}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def ready_replicas(self, name: str, version: str) -> list[dict[str, Any]]:
        table = self.version(name, version)["replica_table"] or []
        return [replica for replica in table if replica["ready"]]

    def wait_replicas(
        self, name: str, version: str, count: int, timeout: float = 60, **where: Any
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            ready = self.ready_replicas(name, version)
            table = self.version(name, version)["replica_table"]
            if len(ready) == count == len(table) and all(c(ready) for c in where.values()):
                return ready
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{name} {version}: {len(ready)} ready replicas, not {count}:\n"
                    f"{self.version(name, version)}\n{self.log_path.read_text()[-4000:]}"
                )
            time.sleep(0.2)


@pytest.fixture(scope="module")
def manager(
    ray_cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterManager]:
    root = tmp_path_factory.mktemp("cluster-manager")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MVI_", "RAY_"))}
    env.update(
        MVI_MANAGER_RAY_AUTH_TOKEN=ray_cluster.token,
        MVI_MANAGER_RAY_HOME=str(ray_cluster.home),
        MVI_MANAGER_RAY_NODE_DIR=str(root / "nodes"),
        MVI_MANAGER_STARTUP_TIMEOUT="30",
        MVI_MANAGER_STOP_TIMEOUT="5",
        MVI_MANAGER_GATEWAY_TIMEOUT="10",
        MVI_MANAGER_DEPLOY_WAIT="120",
        MVI_MANAGER_AUTOSCALE_INTERVAL="0.5",
        MVI_MANAGER_AUTOSCALE_COOLDOWN="1.5",
        MVI_MANAGER_REPLICA_CHECK_INTERVAL="0.5",
        MVI_MANAGER_STOP_SERVICES_ON_EXIT="false",
    )
    made = ClusterManager(free_port(), root / "data", env, root / "manager.log")
    made.start(ray_cluster.address)
    try:
        yield made
    finally:
        made.stop()


def project(tmp_path_factory: pytest.TempPathFactory, note: str = "") -> Path:
    return make_project(tmp_path_factory.mktemp("project"), textwrap.dedent(note))
