"""Shadows in a real gateway, with real service processes as the main and the shadows:
the main alone answers; the shadows get copies whose fate never reaches the client."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import ServiceFactory, ServiceProcess, launch_service, wait_for
from tests.integration.manager.gateway._gateway import GatewayServer

from mvi.manager.gateway.routing import Route, RoutingTable
from mvi.manager.gateway.shadows import ShadowFigures

SERVICE = """\
import os
import threading
import time

from fastapi import Request

from mvi import service

VERSION = os.environ["MVI_SERVICE_VERSION"]
DELAY = float(os.environ.get("SHADOW_DELAY", "0"))
BROKEN = os.environ.get("SHADOW_BROKEN") == "1"
seen = {"calls": 0, "copies": 0, "sizes": []}
lock = threading.Lock()


def visit():
    with lock:
        seen["calls"] += 1
    if DELAY:
        time.sleep(DELAY)
    if BROKEN:
        raise RuntimeError("this version is broken")


@service.entrypoint
def echo(value: dict) -> dict:
    visit()
    return value


@service.entrypoint
def whoami(value: int) -> dict:
    visit()
    return {"value": value, "version": VERSION}


@service.app.post("/upload")
async def upload(request: Request) -> dict:
    body = await request.body()
    with lock:
        seen["sizes"].append(len(body))
        if request.headers.get("x-mvi-shadow") == "1":
            seen["copies"] += 1
    return {"size": len(body), "version": VERSION}


@service.app.get("/seen")
def report() -> dict:
    return seen


if __name__ == "__main__":
    service.run()
"""


def start(workdir: Path, version: str, **env: str) -> ServiceProcess:
    svc = launch_service(
        SERVICE,
        workdir,
        env={"MVI_SERVICE_NAME": "mirror", "MVI_SERVICE_VERSION": version, **env},
        root=f"/services/mirror_{version}",
    )
    svc.wait_ready()
    return svc


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceProcess]]:
    """The main (1.0.0), a faithful shadow (2.0.0), a slow one (3.0.0, 1 s per call) and a
    broken one (4.0.0: every entrypoint raises)."""
    base = tmp_path_factory.mktemp("mirror")
    services: dict[str, ServiceProcess] = {}
    try:
        services["1.0.0"] = start(base / "v1", "1.0.0")
        services["2.0.0"] = start(base / "v2", "2.0.0")
        services["3.0.0"] = start(base / "v3", "3.0.0", SHADOW_DELAY="1")
        services["4.0.0"] = start(base / "v4", "4.0.0", SHADOW_BROKEN="1")
        yield services
    finally:
        for svc in services.values():
            svc.stop(signal.SIGKILL, 5)


def table(fleet: dict[str, ServiceProcess], *shadows: str, percent: int = 100) -> RoutingTable:
    """mirror 1.0.0 as the main; ``shadows`` running and mirrored, the others turned off."""
    routes = RoutingTable()
    for version, svc in fleet.items():
        on = version in shadows
        routes.set_version(
            Route("mirror", version, svc.port, True, "running", shadow=on, shadow_percent=percent)
        )
    routes.set_main("mirror", "1.0.0")
    return routes


def figures(server: GatewayServer, version: str) -> ShadowFigures:
    return server.gateway.shadows.figures(f"mirror_{version}")


def seen(svc: ServiceProcess) -> dict:
    return dict(svc.get("/seen").json())


def test_the_main_answers_and_the_shadow_gets_a_copy_compared_as_json(
    fleet: dict[str, ServiceProcess],
) -> None:
    before = seen(fleet["2.0.0"])["calls"]
    with GatewayServer(table(fleet, "2.0.0"), timeout=5) as server, httpx.Client() as client:
        for i in range(10):
            answer = client.post(f"{server.url}/services/mirror/whoami", json={"value": i})
            assert answer.json() == {"value": i, "version": "1.0.0"}  # never the shadow's
        for i in range(10):
            answer = client.post(f"{server.url}/services/mirror/echo", json={"value": {"i": i}})
            assert answer.json() == {"i": i}
        done = wait_for(lambda: (f := figures(server, "2.0.0")).compared == 20 and f)
    assert seen(fleet["2.0.0"])["calls"] - before == 20
    assert (done.mirrored, done.dropped, done.errors) == (20, 0, 0)
    assert done.equal == 10  # echo answers equal the main's; whoami names another version
    assert done.latency_p50 is not None and done.latency_p99 is not None


def test_copies_are_marked_and_carry_the_whole_body(fleet: dict[str, ServiceProcess]) -> None:
    main_before, shadow_before = seen(fleet["1.0.0"]), seen(fleet["2.0.0"])
    body = b"x" * 300_000  # several receive() chunks
    with GatewayServer(table(fleet, "2.0.0"), timeout=5) as server:
        answer = httpx.post(f"{server.url}/services/mirror/upload", content=body)
        assert answer.json() == {"size": len(body), "version": "1.0.0"}
        wait_for(lambda: figures(server, "2.0.0").compared == 1)
    main, shadow = seen(fleet["1.0.0"]), seen(fleet["2.0.0"])
    assert main["copies"] == main_before["copies"]  # the main's request is no copy
    assert shadow["copies"] == shadow_before["copies"] + 1
    assert shadow["sizes"][-1] == len(body)


def test_a_body_over_the_limit_reaches_the_main_but_is_not_mirrored(
    fleet: dict[str, ServiceProcess],
) -> None:
    before = seen(fleet["2.0.0"])["sizes"]
    body = b"y" * 200_000
    with GatewayServer(table(fleet, "2.0.0"), timeout=5, mirror_max_bytes=100_000) as server:
        answer = httpx.post(f"{server.url}/services/mirror/upload", content=body)
        assert answer.json() == {"size": len(body), "version": "1.0.0"}
        small = httpx.post(f"{server.url}/services/mirror/upload", content=b"z" * 1000)
        assert small.json()["size"] == 1000
        wait_for(lambda: figures(server, "2.0.0").mirrored == 1)
        result = figures(server, "2.0.0")
    assert (result.dropped, result.dropped_too_large) == (1, 1)
    assert seen(fleet["2.0.0"])["sizes"][len(before) :] == [1000]


def test_a_slow_shadow_never_holds_the_mains_answers(fleet: dict[str, ServiceProcess]) -> None:
    with (
        GatewayServer(
            table(fleet, "3.0.0"), timeout=5, shadow_queue_size=2, shadow_concurrency=1
        ) as server,
        httpx.Client() as client,
    ):
        answers = [
            client.post(f"{server.url}/services/mirror/whoami", json={"value": i})
            for i in range(20)
        ]
        # all twenty answered while the shadow (1 s per copy) has not answered one
        during = figures(server, "3.0.0")
        assert [a.json()["version"] for a in answers] == ["1.0.0"] * 20
        assert during.latency_p50 is None
        # one copy in flight, two queued, the rest dropped and counted
        assert during.dropped_queue_full == 17 and during.dropped == 17
        final = wait_for(
            lambda: (f := figures(server, "3.0.0")).mirrored == 3 and f.compared == 3 and f
        )
    assert final.errors == 0 and final.equal == 0
    assert final.latency_p50 is not None and final.latency_p50 >= 1.0


def test_a_broken_shadow_counts_errors_and_changes_nothing(
    fleet: dict[str, ServiceProcess],
) -> None:
    with GatewayServer(table(fleet, "4.0.0", "2.0.0"), timeout=5) as server:
        for i in range(8):
            answer = httpx.post(f"{server.url}/services/mirror/echo", json={"value": {"n": i}})
            assert (answer.status_code, answer.json()) == (200, {"n": i})
        broken = wait_for(lambda: (f := figures(server, "4.0.0")).compared == 8 and f)
        faithful = wait_for(lambda: (f := figures(server, "2.0.0")).compared == 8 and f)
    assert (broken.mirrored, broken.errors, broken.equal) == (8, 8, 0)
    assert (faithful.errors, faithful.equal) == (0, 8)


def test_only_post_calls_to_the_main_are_mirrored(fleet: dict[str, ServiceProcess]) -> None:
    before = seen(fleet["2.0.0"])["calls"]
    with GatewayServer(table(fleet, "2.0.0"), timeout=5) as server, httpx.Client() as client:
        assert client.get(f"{server.url}/services/mirror/~ready").status_code == 200
        assert client.get(f"{server.url}/services/mirror/seen").status_code == 200
        # a parameter change is for the main only, and so is a call to one version
        client.post(f"{server.url}/services/mirror/~parameters/none", json={"value": 1})
        exact = client.post(f"{server.url}/services/mirror_1.0.0/echo", json={"value": {}})
        assert exact.status_code == 200
        mirrored = client.post(f"{server.url}/services/mirror/echo", json={"value": {}})
        assert mirrored.status_code == 200
        wait_for(lambda: figures(server, "2.0.0").mirrored == 1)
        assert server.gateway.mirror.pending("mirror_2.0.0") == 0
    assert seen(fleet["2.0.0"])["calls"] - before == 1


def test_more_methods_are_mirrored_when_configured(fleet: dict[str, ServiceProcess]) -> None:
    from mvi.manager.gateway.shadows import MirrorPolicy

    policy = MirrorPolicy.of(["GET", "POST"])
    with GatewayServer(table(fleet, "2.0.0"), timeout=5, policy=policy) as server:
        assert httpx.get(f"{server.url}/services/mirror/seen").status_code == 200
        assert httpx.get(f"{server.url}/services/mirror/~health").status_code == 200
        wait_for(lambda: figures(server, "2.0.0").mirrored == 1)


@pytest.mark.parametrize("percent", [25, 50])
def test_a_shadow_gets_its_share_of_the_traffic(
    fleet: dict[str, ServiceProcess], percent: int
) -> None:
    with (
        GatewayServer(table(fleet, "2.0.0", percent=percent), timeout=5) as server,
        httpx.Client() as client,
    ):
        for i in range(40):
            client.post(f"{server.url}/services/mirror/echo", json={"value": {"i": i}})
        share = wait_for(
            lambda: (f := figures(server, "2.0.0")).compared == 40 * percent // 100 and f
        )
    assert share.mirrored == 40 * percent // 100 and share.dropped == 0


def test_a_shadow_killed_mid_load_leaves_every_main_answer_200(
    fleet: dict[str, ServiceProcess], start_service: ServiceFactory
) -> None:
    doomed = start_service(
        SERVICE,
        env={"MVI_SERVICE_NAME": "mirror", "MVI_SERVICE_VERSION": "5.0.0"},
        root="/services/mirror_5.0.0",
    )
    routes = table(fleet)
    routes.set_version(Route("mirror", "5.0.0", doomed.port, True, "running"))
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            for i in range(400):
                if stop.is_set():
                    return
                answer = client.post(f"{server.url}/services/mirror/echo", json={"value": {"i": i}})
                statuses.append(answer.status_code)

    with GatewayServer(routes, timeout=5) as server:
        threads = [threading.Thread(target=load) for _ in range(3)]
        for thread in threads:
            thread.start()
        wait_for(lambda: figures(server, "5.0.0").compared >= 20)
        doomed.send_signal(signal.SIGKILL)
        doomed.proc.wait(5)
        at_kill = len(statuses)
        wait_for(lambda: figures(server, "5.0.0").errors >= 10 and len(statuses) >= at_kill + 30)
        stop.set()
        for thread in threads:
            thread.join(30)
        result = figures(server, "5.0.0")
    assert len(statuses) >= at_kill + 30 and set(statuses) == {200}
    assert result.errors >= 10 and result.equal == result.compared
