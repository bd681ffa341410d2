"""Invalid bodies against a real manager: NaN and Infinity (which JSON cannot hold but
Python's parser reads) are a 422 with a JSON body, never a 500, and each rejected request
writes at most one log line (no traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.manager.conftest import Manager

NON_FINITE = ["NaN", "Infinity", "-Infinity"]


@pytest.fixture(scope="module")
def deployed_once(manager: Manager, greeter: Path) -> Iterator[str]:
    """A service deployed once for the whole module."""
    manager.ok("deploy", "nan_checks", "1.0.0", str(greeter))
    yield "nan_checks"
    manager.cli("kill", "nan_checks", "--all", "--yes")


def send_raw(client: httpx.Client, method: str, path: str, body: str) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return client.request(method, path, content=body.encode(), headers=headers)


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize(
    ("method", "path", "template", "anonymous"),
    [
        ("POST", "/api/login", '{{"username": "admin", "password": {v}}}', True),
        ("POST", "/api/tokens", '{{"days": {v}, "note": "nan"}}', False),
        ("PATCH", "/api/services/{name}/1.0.0/shadow", '{{"percent": {v}}}', False),
        ("POST", "/api/notifications", '{{"message": "m", "severity": 0, "timer": {v}}}', False),
    ],
)
def test_a_non_finite_number_in_a_body_is_a_422_with_a_json_body(
    manager: Manager,
    deployed_once: str,
    method: str,
    path: str,
    template: str,
    anonymous: bool,
    value: str,
) -> None:
    before = manager.log_path.read_text(errors="replace")
    with httpx.Client(base_url=manager.url, timeout=30, trust_env=False) as nobody:
        client = nobody if anonymous else manager.http
        body = template.format(v=value)
        response = send_raw(client, method, path.format(name=deployed_once), body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert value in response.text or "finite" in response.text  # names what was wrong
    added = manager.log_path.read_text(errors="replace")[len(before) :]
    assert "Traceback" not in added
    assert len([line for line in added.splitlines() if "refused (422)" in line]) <= 1
