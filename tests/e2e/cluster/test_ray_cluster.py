"""The Ray runtime on a local 3-node cluster: replicas spread over nodes, a killed replica
and a lost node under load through the gateway without a failed request, a manager restart
that re-attaches, autoscaling 1 -> 3 -> 1, a shadow with two replicas; and every socket
Ray's processes listen on is on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.e2e.cluster.conftest import ClusterManager, RayCluster, project

pytestmark = pytest.mark.timeout(240)

NAME = "greeter"


@dataclass
class Load:
    """Requests through the gateway from two threads, bounded in count and time."""

    url: str
    path: str = "/services/greeter/hello"
    body: dict[str, object] = field(default_factory=lambda: {"name": "Ada"})
    threads: int = 2
    limit: int = 4000
    seconds: float = 60.0
    sent: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        with httpx.Client(base_url=self.url, timeout=15, trust_env=False) as client:
            while not self._stop.is_set() and self.sent < self.limit:
                if time.monotonic() > deadline:
                    return
                self.sent += 1
                try:
                    answer = client.post(self.path, json=self.body)
                    if answer.status_code != 200:
                        self.failures.append(f"{answer.status_code} {answer.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                time.sleep(0.005)

    def __enter__(self) -> Load:
        self._workers = [threading.Thread(target=self._run) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)


@pytest.fixture(scope="module")
def deployed(manager: ClusterManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = project(tmp_path_factory)
    started = time.monotonic()
    record = manager.deploy(NAME, "1.0.0", folder, replicas=3)
    assert record["status"] in ("starting", "running"), record
    manager.wait_replicas(NAME, "1.0.0", 3, timeout=150)
    print(
        f"\ndeploy of 3 replicas (wheelhouse, node environments, start): "
        f"{time.monotonic() - started:.1f}s"
    )
    yield folder


def _listening(pids: set[int]) -> list[tuple[int, str]]:
    """(pid, local address) of every TCP socket in LISTEN that one of ``pids`` holds."""
    inodes: dict[str, int] = {}
    for pid in pids:
        with_fd = Path(f"/proc/{pid}/fd")
        try:
            for fd in with_fd.iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A: LISTEN
                found.append((inodes[parts[9]], parts[1]))
    return found


def _address(hexa: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address of a /proc/net/tcp{,6} entry (``HEX:PORT``, 32-bit words in host order)."""
    raw = bytes.fromhex(hexa.split(":")[0])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def _loopback(hexa: str) -> bool:
    address = _address(hexa)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def test_replicas_run_on_three_nodes_and_answer_only_the_gateway(
    manager: ClusterManager, deployed: Path
) -> None:
    ready = manager.wait_replicas(NAME, "1.0.0", 3)
    assert len({replica["node"] for replica in ready}) == 3
    answer = manager.http.post(f"/services/{NAME}/hello", json={"name": "Ada"})
    assert answer.status_code == 200 and answer.json() == "Hello Ada from 1.0.0"
    direct = ready[0]
    url = f"http://{direct['host']}:{direct['port']}/services/{NAME}_1.0.0/hello"
    refused = httpx.post(url, json={"name": "Mallory"}, trust_env=False)
    assert refused.status_code == 403
    forged = httpx.post(
        url, json={"name": "Mallory"}, headers={"x-mvi-replica-key": "guess"}, trust_env=False
    )
    assert forged.status_code == 403


def test_every_socket_ray_listens_on_is_on_loopback(
    ray_cluster: RayCluster, deployed: Path
) -> None:
    pids = _descendants(os.getpid())
    sockets = _listening(pids)
    assert sockets, "found no listening socket of Ray's processes"
    outside = [(pid, str(_address(hexa))) for pid, hexa in sockets if not _loopback(hexa)]
    assert outside == [], outside


def test_a_killed_replica_under_load_fails_no_request(
    manager: ClusterManager, deployed: Path
) -> None:
    before = manager.wait_replicas(NAME, "1.0.0", 3)
    victim = before[0]
    with Load(manager.url) as load:
        time.sleep(0.5)
        killed_at = time.monotonic()
        os.kill(victim["pid"], signal.SIGKILL)
        after = manager.wait_replicas(
            NAME, "1.0.0", 3, back=lambda ready: victim["pid"] not in {r["pid"] for r in ready}
        )
        recovered = time.monotonic() - killed_at
        time.sleep(0.5)
    print(f"\nreplica back after SIGKILL: {recovered:.2f}s; {load.sent} requests")
    assert load.failures == []
    assert load.sent > 50
    assert len(after) == 3


def test_a_lost_node_under_load_fails_no_request_and_replicas_come_back(
    manager: ClusterManager, ray_cluster: RayCluster, deployed: Path
) -> None:
    before = manager.wait_replicas(NAME, "1.0.0", 3)
    nodes = {node.node_id[:12]: node for node in ray_cluster.cluster.worker_nodes}
    lost = next(r["node"] for r in before if r["node"][:12] in nodes)
    with Load(manager.url) as load:
        time.sleep(0.5)
        lost_at = time.monotonic()
        ray_cluster.cluster.remove_node(nodes[lost[:12]], allow_graceful=False)
        after = manager.wait_replicas(
            NAME, "1.0.0", 3, timeout=60, moved=lambda ready: lost not in {r["node"] for r in ready}
        )
        recovered = time.monotonic() - lost_at
        time.sleep(0.5)
    print(f"\nreplicas back to 3 after a node loss: {recovered:.2f}s; {load.sent} requests")
    assert load.failures == []
    assert len(after) == 3
    ray_cluster.add_node()  # three nodes again for the tests that follow


def test_a_restarted_manager_reattaches_without_duplicates(
    manager: ClusterManager, ray_cluster: RayCluster, deployed: Path
) -> None:
    import ray

    before = {r["pid"] for r in manager.wait_replicas(NAME, "1.0.0", 3)}
    manager.stop()
    manager.start(ray_cluster.address)
    after = {r["pid"] for r in manager.wait_replicas(NAME, "1.0.0", 3)}
    assert after == before
    names = [n for n in ray.util.list_named_actors() if n.startswith(f"{NAME}_1.0.0#")]
    assert sorted(names) == [f"{NAME}_1.0.0#{i}" for i in range(3)]
    answer = manager.http.post(f"/services/{NAME}/hello", json={"name": "Ada"})
    assert answer.status_code == 200


def test_autoscaling_goes_from_one_to_three_under_load_and_back(
    manager: ClusterManager, deployed: Path
) -> None:
    body = {"min_replicas": 1, "max_replicas": 3, "target_inflight": 1}
    scaled = manager.http.post(f"/api/services/{NAME}/1.0.0/scale", json=body)
    assert scaled.status_code == 200, scaled.text
    manager.wait_replicas(NAME, "1.0.0", 1, timeout=30)
    slow = Load(manager.url, path=f"/services/{NAME}/slow", body={"seconds": 0.2}, threads=4)
    with slow:
        manager.wait_replicas(NAME, "1.0.0", 3, timeout=30)
    assert slow.failures == []
    manager.wait_replicas(NAME, "1.0.0", 1, timeout=30)
    assert manager.version(NAME, "1.0.0")["replicas"] == 1


def test_a_shadow_with_two_replicas_is_mirrored_as_one(
    manager: ClusterManager, deployed: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = project(tmp_path_factory, "\n# the shadow\n")
    record = manager.deploy(NAME, "2.0.0", folder, replicas=2)
    assert record["status"] in ("starting", "running") and not record["main"]
    manager.wait_replicas(NAME, "2.0.0", 2, timeout=60)
    for index in range(40):
        answer = manager.http.post(f"/services/{NAME}/hello", json={"name": f"n{index}"})
        assert answer.status_code == 200 and answer.json().endswith("from 1.0.0")
    deadline = time.monotonic() + 20
    while True:
        report = manager.http.get(f"/api/services/{NAME}/shadows").json()
        shadow = next(s for s in report["shadows"] if s["version"] == "2.0.0")
        if (shadow["mirrored"] >= 40 and shadow["compared"] >= 40) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert shadow["mirrored"] == 40 and shadow["errors"] == 0 and shadow["dropped"] == 0
    assert shadow["compared"] == 40 and shadow["equal"] == 0  # "from 2.0.0" differs
