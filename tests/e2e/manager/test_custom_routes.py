"""Routes of the author's choosing behind the manager's gateway (seed 002's forms)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.manager.conftest import Manager, make_project

pytestmark = pytest.mark.timeout(300)  # the first deploy of a session builds an environment

SERVICE = """\
from mvi import InvalidRequest, service


@service.entrypoint(path="/classify")
def classify(text: str) -> dict:
    return {"label": "long" if len(text) > 5 else "short"}


@service.entrypoint(path="/", methods=["GET"])
def index() -> dict:
    return {"service": "routed"}


class ClassifyHandler:
    def __init__(self):
        self.labels = {"the": "en"}

    def __call__(self, text):
        if not text:
            raise InvalidRequest("Missing text")
        return {"language": self.labels.get(text.split()[0], "xx")}


service.add_routes(
    [{"endpoint": "/seed/classify", "callable": ClassifyHandler(), "methods": ["POST"]}]
)

if __name__ == "__main__":
    service.run()
"""


def test_the_gateway_reaches_routes_of_any_path(manager: Manager, tmp_path: Path) -> None:
    manager.ok("deploy", "routed", "1.0.0", str(make_project(tmp_path / "routed", SERVICE)))
    try:
        for prefix in ("routed", "routed_1.0.0"):
            assert manager.call(f"{prefix}/classify", text="a long text").json() == {
                "label": "long"
            }
            assert manager.http.get(f"/services/{prefix}/").json() == {"service": "routed"}
            seed = manager.call(f"{prefix}/seed/classify", text="the cat")
            assert seed.status_code == 200 and seed.json() == {"language": "en"}
            refused = manager.call(f"{prefix}/seed/classify", text="")
            assert refused.status_code == 400 and refused.json()["detail"] == "Missing text"
            assert manager.http.get(f"/services/{prefix}/classify").status_code == 405
        out = manager.ok("call", "routed", "classify", "--data", '{"text": "hi"}').stdout
        assert '"short"' in out
    finally:
        manager.ok("kill", "routed", "--yes")
