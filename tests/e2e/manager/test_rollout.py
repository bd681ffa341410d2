"""The gateway, shadows, promotion and rollback end to end: a real manager, real deployed
versions, the real ``mvi`` CLI, and steady load through the gateway while the main changes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import wait_for
from tests.e2e.manager.conftest import Manager, make_project, new_manager

ROLLOUT = """\
import os
import time

from mvi import service

VERSION = os.environ["MVI_SERVICE_VERSION"]
DELAY = float(os.environ.get("ROLLOUT_DELAY", "0"))
BROKEN = os.environ.get("ROLLOUT_BROKEN") == "1"


def behave():
    if DELAY:
        time.sleep(DELAY)
    if BROKEN:
        raise RuntimeError("this version is broken")


@service.entrypoint
def whoami(value: int) -> dict:
    behave()
    return {"value": value, "version": VERSION}


@service.entrypoint
def double(x: float) -> float:
    behave()
    return 2 * x


if __name__ == "__main__":
    service.run()
"""
"""A service whose ``whoami`` names its version and whose ``double`` does not; it is slow
or broken when its ``.s2i/environment`` says so."""


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The rollout service as it is, slow (1 s per call), and broken (every call 500)."""
    base = tmp_path_factory.mktemp("rollout")
    return {
        "plain": make_project(base / "plain", ROLLOUT),
        "slow": make_project(base / "slow", ROLLOUT, environment="ROLLOUT_DELAY=1\n"),
        "broken": make_project(base / "broken", ROLLOUT, environment="ROLLOUT_BROKEN=1\n"),
    }


@pytest.fixture
def name(manager: Manager, request: pytest.FixtureRequest) -> Iterator[str]:
    """A service name unique to the test, killed (every version) afterwards."""
    chosen = "r_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40]
    yield chosen
    if manager.versions(chosen):
        manager.cli("kill", chosen, "--all", "--yes")


def report(manager: Manager, name: str) -> dict[str, dict[str, Any]]:
    """The shadow report as ``mvi shadow-report NAME --json`` prints it, by version."""
    body = json.loads(manager.ok("shadow-report", name, "--json").stdout)
    return {s["version"]: s for s in body["shadows"]}


def api_report(manager: Manager, name: str) -> dict[str, dict[str, Any]]:
    answer = manager.http.get(f"/api/services/{name}/shadows")
    assert answer.status_code == 200, answer.text
    return {s["version"]: s for s in answer.json()["shadows"]}


def mains(manager: Manager, name: str) -> str:
    return next(r["version"] for r in manager.versions(name) if r["main"])


def client_for(manager: Manager) -> httpx.Client:
    headers = {"authorization": f"Bearer {manager.token}"} if manager.token else {}
    return httpx.Client(base_url=manager.url, headers=headers, timeout=10, trust_env=False)


def test_shadows_get_copies_and_the_report_shows_them(
    manager: Manager, name: str, projects: dict[str, Path]
) -> None:
    manager.ok("deploy", name, "1.0.0", str(projects["plain"]))
    manager.ok("deploy", name, "2.0.0", str(projects["plain"]))
    manager.ok("deploy", name, "3.0.0", str(projects["broken"]))
    for i in range(10):
        answer = manager.call(f"{name}/whoami", value=i)
        assert answer.json() == {"value": i, "version": "1.0.0"}  # never a shadow's answer
        assert manager.call(f"{name}/double", x=i).json() == 2 * i
    assert manager.http.get(f"/services/{name}/~ready").status_code == 200  # not mirrored
    faithful = wait_for(lambda: (r := api_report(manager, name)["2.0.0"])["compared"] == 20 and r)
    assert (faithful["mirrored"], faithful["dropped"], faithful["errors"]) == (20, 0, 0)
    assert (faithful["equal"], faithful["equal_share"]) == (10, 0.5)
    assert (
        faithful["latency_p50_ms"] > 0 and faithful["latency_p99_ms"] >= faithful["latency_p50_ms"]
    )
    broken = wait_for(lambda: (r := api_report(manager, name)["3.0.0"])["compared"] == 20 and r)
    assert (broken["mirrored"], broken["errors"], broken["equal"]) == (20, 20, 0)
    assert report(manager, name)["2.0.0"]["equal"] == 10  # the CLI prints the same figures
    text = manager.ok("shadow-report", name).stdout
    assert f"{name}: main version 1.0.0" in text
    header, *rows = text.splitlines()[1:]
    lines = {line.split()[0]: line for line in rows[1:]}
    assert "on, 100%" in lines["2.0.0"] and "50.0% of 20" in lines["2.0.0"]
    errors = header.index("ERRORS")
    assert lines["3.0.0"][errors:].split()[0] == "20"
    missing = manager.cli("shadow-report", "r_nothing_here")
    assert missing.returncode == 1 and "No service named 'r_nothing_here'" in missing.stderr


def test_shadow_off_on_and_percent_change_what_is_mirrored(
    manager: Manager, name: str, projects: dict[str, Path]
) -> None:
    manager.ok("deploy", name, "1.0.0", str(projects["plain"]))
    manager.ok("deploy", name, "2.0.0", str(projects["plain"]))
    out = manager.ok("shadow", name, "2.0.0", "--off").stdout
    assert f"Mirroring to {name} 2.0.0: off" in out
    for i in range(5):
        assert manager.call(f"{name}/double", x=i).status_code == 200
    assert api_report(manager, name)["2.0.0"]["mirrored"] == 0
    out = manager.ok("shadow", name, "2.0.0", "--on", "--percent", "50").stdout
    assert "on, 50% of requests" in out
    record = manager.record(name, "2.0.0")
    assert (record["shadow"], record["shadow_percent"]) == (True, 50)
    for i in range(20):
        assert manager.call(f"{name}/double", x=i).status_code == 200
    half = wait_for(lambda: (r := api_report(manager, name)["2.0.0"])["compared"] == 10 and r)
    assert half["mirrored"] == 10 and half["enabled"] and half["percent"] == 50
    for bad, message in (
        (("--percent", "101"), "less than or equal to 100"),
        ((), "Give --on, --off or --percent"),
    ):
        refused = manager.cli("shadow", name, "2.0.0", *bad)
        assert refused.returncode != 0 and message in refused.stderr + refused.stdout
    api = manager.http.patch(f"/api/services/{name}/2.0.0/shadow", json={"percent": -1})
    assert api.status_code == 422
    unknown = manager.cli("shadow", name, "9.9.9", "--off")
    assert unknown.returncode == 1 and "has no version '9.9.9'" in unknown.stderr
    assert manager.record(name, "2.0.0")["shadow_percent"] == 50  # nothing changed


@dataclass
class Outcome:
    started: float
    ended: float
    status: int
    version: str | None


def steady_load(
    manager: Manager, name: str, stop: threading.Event
) -> tuple[list[Outcome], list[threading.Thread]]:
    """4 client threads calling /services/NAME/whoami until ``stop`` (at most 5000 each)."""
    outcomes: list[Outcome] = []

    def run() -> None:
        with client_for(manager) as client:
            for i in range(5000):
                if stop.is_set():
                    return
                started = time.monotonic()
                try:
                    answer = client.post(f"/services/{name}/whoami", json={"value": i})
                    status = answer.status_code
                    version = answer.json().get("version") if status == 200 else None
                except httpx.HTTPError:
                    status, version = 0, None
                outcomes.append(Outcome(started, time.monotonic(), status, version))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    return outcomes, threads


def test_assign_and_rollback_under_steady_load_fail_no_request(
    manager: Manager, name: str, projects: dict[str, Path]
) -> None:
    manager.ok("deploy", name, "1.0.0", str(projects["plain"]))
    manager.ok("deploy", name, "2.0.0", str(projects["plain"]))
    pids = {r["version"]: r["pid"] for r in manager.versions(name)}
    stop = threading.Event()
    outcomes, threads = steady_load(manager, name, stop)
    try:
        time.sleep(1)
        shadowed = api_report(manager, name)["2.0.0"]["mirrored"]
        manager.ok("assign", name, "2.0.0", "--yes")
        assigned = time.monotonic()
        time.sleep(1.5)
        while_assigned = api_report(manager, name)
        rolling = time.monotonic()
        out = manager.ok("rollback", name, "--yes").stdout
        rolled = time.monotonic()
        time.sleep(1.5)
        rolled_back = api_report(manager, name)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert f"{name} 1.0.0 is the main version again" in out
    assert len(outcomes) > 100
    failed = [o for o in outcomes if o.status != 200]
    assert failed == [], f"{len(failed)} of {len(outcomes)} requests failed"
    during = [o for o in outcomes if assigned < o.started and o.ended < rolling]
    after = [o for o in outcomes if o.started > rolled]
    assert during and {o.version for o in during} == {"2.0.0"}
    assert after and {o.version for o in after} == {"1.0.0"}
    # neither version stopped or restarted: the old main went on running as a shadow
    assert {r["version"]: r["pid"] for r in manager.versions(name)} == pids
    assert {r["status"] for r in manager.versions(name)} == {"running"}
    # the shadow figures are per version: the old main collected its own while it was a
    # shadow, and 2.0.0's went on from where they were
    assert shadowed > 0
    assert set(while_assigned) == {"1.0.0"} and while_assigned["1.0.0"]["mirrored"] > 0
    assert set(rolled_back) == {"2.0.0"} and rolled_back["2.0.0"]["mirrored"] > shadowed
    assert rolled_back["2.0.0"]["errors"] == 0
    history = manager.http.get(f"/api/services/{name}/mains").json()
    assert [(h["version"], h["reason"]) for h in history] == [
        ("1.0.0", "deploy"),
        ("2.0.0", "assign"),
    ]
    assert history[0]["rolled_back_at"] is None and history[1]["rolled_back_at"] is not None
    again = manager.cli("rollback", name, "--yes")
    assert again.returncode == 1 and "has no previous main" in again.stderr
    assert mains(manager, name) == "1.0.0"


def test_rollback_refuses_a_previous_main_that_is_not_running(
    manager: Manager, name: str, projects: dict[str, Path]
) -> None:
    manager.ok("deploy", name, "1.0.0", str(projects["plain"]))
    lonely = manager.cli("rollback", name, "--yes")
    assert lonely.returncode == 1 and f"{name} has no previous main" in lonely.stderr
    manager.ok("deploy", name, "2.0.0", str(projects["plain"]))
    manager.ok("assign", name, "2.0.0", "--yes")
    manager.ok("stop", name, "1.0.0")
    refused = manager.cli("rollback", name, "--yes")
    assert refused.returncode == 1
    assert f"previous main, {name} 1.0.0, is stopped" in refused.stderr
    assert f"mvi start {name} 1.0.0" in refused.stderr
    assert mains(manager, name) == "2.0.0"
    assert manager.http.post(f"/api/services/{name}/rollback").status_code == 409
    manager.ok("start", name, "1.0.0")
    asked = manager.cli("rollback", name, input="n\n")
    assert asked.returncode != 0 and mains(manager, name) == "2.0.0"
    manager.ok("rollback", name, input="y\n")
    assert mains(manager, name) == "1.0.0"
    assert manager.call(f"{name}/whoami", value=1).json()["version"] == "1.0.0"


def test_rollback_steps_back_through_the_mains_and_skips_killed_ones(
    manager: Manager, name: str, projects: dict[str, Path]
) -> None:
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        manager.ok("deploy", name, version, str(projects["plain"]))
    manager.ok("assign", name, "2.0.0", "--yes")
    manager.ok("assign", name, "3.0.0", "--yes")
    manager.ok("rollback", name, "--yes")
    assert mains(manager, name) == "2.0.0"
    manager.ok("assign", name, "3.0.0", "--yes")
    manager.ok("kill", name, "2.0.0", "--yes")
    manager.ok("rollback", name, "--yes")  # 2.0.0 is gone: back to 1.0.0
    assert mains(manager, name) == "1.0.0"
    refused = manager.cli("rollback", name, "--yes")
    assert refused.returncode == 1 and "has no previous main" in refused.stderr


def test_a_slow_shadow_leaves_the_mains_answers_as_they_are(
    manager: Manager, name: str, projects: dict[str, Path]
) -> None:
    manager.ok("deploy", name, "1.0.0", str(projects["plain"]))
    manager.ok("deploy", name, "2.0.0", str(projects["slow"]))
    with client_for(manager) as client:
        answers = [client.post(f"/services/{name}/whoami", json={"value": i}) for i in range(12)]
    # all twelve answered by the main before the shadow (1 s a call, 4 at a time) gave them
    assert [a.json()["version"] for a in answers] == ["1.0.0"] * 12
    assert api_report(manager, name)["2.0.0"]["compared"] < 12
    settled = wait_for(
        lambda: (
            (r := api_report(manager, name)["2.0.0"])["compared"] == r["mirrored"]
            and r["mirrored"] + r["dropped"] == 12
            and r
        )
    )
    assert settled["errors"] == 0 and settled["latency_p50_ms"] >= 1000


def test_a_shadow_killed_mid_load_leaves_every_main_answer_200(
    manager: Manager, name: str, projects: dict[str, Path]
) -> None:
    manager.ok("deploy", name, "1.0.0", str(projects["plain"]))
    manager.ok("deploy", name, "2.0.0", str(projects["plain"]))
    shadow_pid = manager.record(name, "2.0.0")["pid"]
    stop = threading.Event()
    outcomes, threads = steady_load(manager, name, stop)
    try:
        wait_for(lambda: api_report(manager, name)["2.0.0"]["compared"] >= 20)
        os.kill(shadow_pid, signal.SIGKILL)
        # the supervisor restarts it; copies go to it again once it runs
        restarted = wait_for(
            lambda: (
                (r := manager.record(name, "2.0.0"))["status"] == "running"
                and r["pid"] != shadow_pid
                and r
            )
        )
        before = api_report(manager, name)["2.0.0"]["mirrored"]
        wait_for(lambda: api_report(manager, name)["2.0.0"]["mirrored"] > before + 20)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert restarted["restarts"] >= 1
    assert len(outcomes) > 100
    assert {o.status for o in outcomes} == {200}
    assert {o.version for o in outcomes} == {"1.0.0"}


def test_shadow_settings_and_the_history_of_mains_survive_a_manager_restart(
    tmp_path: Path, projects: dict[str, Path]
) -> None:
    own = new_manager(tmp_path / "restart")
    own.start()
    try:
        own.ok("deploy", "kept", "1.0.0", str(projects["plain"]))
        own.ok("deploy", "kept", "2.0.0", str(projects["plain"]))
        own.ok("shadow", "kept", "1.0.0", "--percent", "30")
        own.ok("assign", "kept", "2.0.0", "--yes")
        own.ok("shadow", "kept", "2.0.0", "--off")
        assert own.stop() == 0
        own.start()
        records = {r["version"]: r for r in own.versions("kept")}
        assert (records["1.0.0"]["shadow"], records["1.0.0"]["shadow_percent"]) == (True, 30)
        assert (records["2.0.0"]["shadow"], records["2.0.0"]["main"]) == (False, True)
        own.wait_status("kept", "1.0.0", "running")
        own.wait_status("kept", "2.0.0", "running")  # the main answers the calls below
        for i in range(10):
            assert own.call("kept/double", x=i).status_code == 200
        three = wait_for(lambda: (r := api_report(own, "kept")["1.0.0"])["compared"] == 3 and r)
        assert three["mirrored"] == 3
        own.ok("rollback", "kept", "--yes")  # the history came back with the registry
        assert mains(own, "kept") == "1.0.0"
    finally:
        own.cleanup()


def test_the_docs_of_a_version_work_through_the_gateway(
    manager: Manager, name: str, projects: dict[str, Path]
) -> None:
    manager.ok("deploy", name, "1.0.0", str(projects["plain"]))
    page = manager.http.get(f"/services/{name}_1.0.0/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert f"'/services/{name}_1.0.0/openapi.json'" in page.text
    schema = manager.http.get(f"/services/{name}_1.0.0/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["servers"] == [{"url": f"/services/{name}_1.0.0"}]
    assert {"/whoami", "/double"} <= set(schema.json()["paths"])
    unknown = manager.http.get(f"/services/{name}_7.0.0/docs")
    assert unknown.status_code == 404 and "deployed: 1.0.0" in unknown.json()["detail"]
