"""Link services deployed to a real manager: examples/links's quote graph (a replyer that
publishes, a main-mode requester asking again and again, two subscribers), run with their
addresses and config, supervised over ``/~ready``, restarted after SIGKILL, listed with
their kind, their logs and ``/~metrics`` read through the manager."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.conftest import free_port, wait_for
from tests.e2e.manager.conftest import Manager

# The first test's budget includes deploying the four services, the last one's killing them.
pytestmark = pytest.mark.timeout(420)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "links"
VERSION = "1.0.0"
SUBSCRIBERS = ("quote_audit_one", "quote_audit_two")
SERVICES = {
    **{name: "subscriber" for name in SUBSCRIBERS},
    "quote_replyer": "replyer",
    "quote_requester": "requester",
}
"""Deployed name -> the example's folder, in the order of the deploys."""


def copy_example(root: Path, folder: str, ports: dict[int, int]) -> Path:
    """The example's project ``folder``, its addresses moved to free ports."""
    project = root / folder
    if not project.exists():
        # Not the bytecode caches: other tests may be writing them (pytest -n) as it copies.
        shutil.copytree(EXAMPLE / folder, project, ignore=shutil.ignore_patterns("__pycache__"))
        addresses = project / "addresses.json"
        text = addresses.read_text()
        for fixed, free in ports.items():
            text = text.replace(f":{fixed}", f":{free}")
        addresses.write_text(text)
    return project


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the Prometheus sample ``name`` with ``labels`` (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def metrics(manager: Manager, name: str) -> str:
    """``/services/NAME/~metrics`` through the gateway."""
    response = manager.http.get(f"/services/{name}/~metrics")
    assert response.status_code == 200, response.text
    return response.text


def replies(manager: Manager) -> float:
    """Replies the requester has received so far."""
    return sample(metrics(manager, "quote_requester"), "mvi_link_messages_in_total")


@pytest.fixture(scope="module")
def graph(manager: Manager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    """The example's four services, deployed from copies of its folders."""
    root = tmp_path_factory.mktemp("links")
    ports = {5601: free_port(), 5602: free_port()}
    try:
        for name, folder in SERVICES.items():
            manager.ok("deploy", name, VERSION, str(copy_example(root, folder, ports)))
        yield manager
    finally:
        for name in reversed(SERVICES):
            manager.cli("kill", name, "--yes")


def test_link_services_are_deployed_running_and_listed_with_their_kind(graph: Manager) -> None:
    for name in SERVICES:
        record = graph.record(name, VERSION)
        assert (record["kind"], record["status"], record["shadow"]) == ("link", "running", False)
    table = graph.ok("ls").stdout.splitlines()
    assert "KIND" in table[0].split()
    for name in SERVICES:
        row = next(line for line in table if f" {name} " in line)
        assert row.split()[-1] == "link", row


def test_messages_flow_between_the_deployed_services(graph: Manager) -> None:
    wait_for(lambda: replies(graph) >= 4, 60, 0.2)  # two rounds of two orders
    requester = metrics(graph, "quote_requester")
    assert sample(requester, "mvi_link_messages_out_total", connection="quote") >= 4
    replyer = metrics(graph, "quote_replyer")
    assert sample(replyer, "mvi_link_messages_in_total", connection="quote") >= 4
    published = sample(replyer, "mvi_link_messages_out_total", connection="quotes")
    assert published >= 4
    for name in SUBSCRIBERS:
        wait_for(
            lambda name=name: sample(metrics(graph, name), "mvi_link_messages_in_total") >= 4,
            30,
            0.2,
        )
        heard = metrics(graph, name)
        assert sample(heard, "mvi_link_errors_total") == 0
        assert sample(heard, "mvi_link_gaps_total", connection="quotes") == 0


def test_the_logs_of_link_services_are_read_through_the_api(graph: Manager) -> None:
    wait_for(lambda: replies(graph) >= 2, 60, 0.2)
    logs = graph.http.get(f"/api/services/quote_requester/{VERSION}/logs", params={"lines": 2000})
    assert logs.status_code == 200, logs.text
    assert "apple: 1.26" in logs.text and "bread: 2.52" in logs.text
    assert "started requester.py" in logs.text

    def heard() -> str:
        text = graph.ok("logs", SUBSCRIBERS[1], VERSION, "-n", "all").stdout
        return text if f"{SUBSCRIBERS[1]} heard apple: 1.26" in text else ""

    wait_for(heard, 30, 0.2)


def test_the_gateway_reaches_health_ready_and_metrics_only(graph: Manager) -> None:
    for path, body in (("~health", {"status": "alive"}), ("~ready", {"status": "ready"})):
        answer = graph.http.get(f"/services/quote_replyer/{path}")
        assert (answer.status_code, answer.json()) == (200, body)
    exact = graph.http.get(f"/services/quote_replyer_{VERSION}/~metrics")
    assert exact.status_code == 200 and "mvi_link_messages_in_total" in exact.text
    call = graph.http.post("/services/quote_replyer/quote", json={"item": "tea"})
    assert call.status_code == 405 and "ZeroMQ" in call.json()["detail"]
    missing = graph.http.get("/services/quote_replyer/docs")
    assert missing.status_code == 404 and "link service" in missing.json()["detail"]


def test_a_link_service_cannot_be_made_a_shadow(graph: Manager) -> None:
    answer = graph.http.patch(
        f"/api/services/quote_replyer/{VERSION}/shadow", json={"enabled": True}
    )
    assert answer.status_code == 403 and "is a link service" in answer.text
    assert graph.record("quote_replyer", VERSION)["shadow"] is False
    off = graph.http.patch(f"/api/services/quote_replyer/{VERSION}/shadow", json={"enabled": False})
    assert off.status_code == 200, off.text


def test_a_replyer_killed_with_sigkill_is_restarted_and_the_requester_recovers(
    graph: Manager,
) -> None:
    wait_for(lambda: replies(graph) >= 2, 60, 0.2)
    before = graph.record("quote_replyer", VERSION)
    requester = graph.record("quote_requester", VERSION)
    os.kill(before["pid"], signal.SIGKILL)

    def restarted() -> dict | None:
        record = graph.record("quote_replyer", VERSION)
        fresh = record["status"] == "running" and record["pid"] != before["pid"]
        return record if fresh else None

    record = wait_for(restarted, 60, 0.2)
    assert record["restarts"] == before["restarts"] + 1
    counted = replies(graph)
    wait_for(lambda: replies(graph) >= counted + 4, 60, 0.2)  # quotes come again
    after = graph.record("quote_requester", VERSION)
    assert (after["pid"], after["status"]) == (requester["pid"], "running")  # never died
    logs = graph.ok("logs", "quote_replyer", VERSION, "-n", "all").stdout
    assert "killed by SIGKILL; restarting in" in logs
    # the subscribers hear the restarted publisher (a new publisher id: no false gaps)
    heard = sample(metrics(graph, SUBSCRIBERS[0]), "mvi_link_messages_in_total")
    wait_for(
        lambda: sample(metrics(graph, SUBSCRIBERS[0]), "mvi_link_messages_in_total") > heard,
        30,
        0.2,
    )


def test_a_link_project_naming_a_missing_file_is_refused(manager: Manager, tmp_path: Path) -> None:
    project = copy_example(tmp_path, "replyer", {})
    environment = project / ".s2i" / "environment"
    environment.write_text(
        environment.read_text().replace("MVI_LINK_CONFIG=config.json", "MVI_LINK_CONFIG=nope.json")
    )
    result = manager.cli("deploy", "quote_broken", VERSION, str(project))
    assert result.returncode == 1
    assert "has no nope.json" in result.stderr and "MVI_LINK_CONFIG" in result.stderr
    assert manager.versions("quote_broken") == []


def test_a_link_service_that_cannot_start_fails_with_every_problem_in_its_log(
    manager: Manager, tmp_path: Path
) -> None:
    project = copy_example(tmp_path, "replyer", {5601: free_port(), 5602: free_port()})
    (project / "config.json").write_text(json.dumps({"optional": {"subscribers": "many"}}))
    result = manager.cli("deploy", "quote_unconfigured", VERSION, str(project))
    try:
        assert result.returncode == 1 and "failed" in result.stdout
        logs = manager.ok("logs", "quote_unconfigured", VERSION, "-n", "all").stdout
        assert "'tax_rate' is required but missing" in logs
        assert "subscribers" in logs and "exited with code 2" in logs
    finally:
        manager.cli("kill", "quote_unconfigured", "--yes")


def test_the_kubernetes_export_of_a_link_service_runs_it_as_a_link_service(
    graph: Manager, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    graph.ok("export", "k8s", "quote_replyer", VERSION, "--out", str(out))
    dockerfile = (out / "Dockerfile").read_text()
    command = '["python", "-m", "mvi.links", "-s", "replyer.py", "-a", "addresses.json", '
    assert f'CMD {command}"-c", "config.json"]' in dockerfile
    config_map = next(
        yaml.safe_load(path.read_text())
        for path in (out / "k8s").iterdir()
        if "ConfigMap" in path.read_text()
    )
    assert config_map["data"]["MVI_LINK_HTTP"] == "true"
    assert config_map["data"]["MVI_SERVICE_KIND"] == "link"
