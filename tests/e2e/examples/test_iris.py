"""examples/iris deployed through a real manager: the model trains at start and predicts."""

from __future__ import annotations

import time

import pytest
from tests.e2e.examples.conftest import EXAMPLES
from tests.e2e.manager.conftest import Manager

pytestmark = pytest.mark.timeout(900)

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VERSICOLOR = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}


@pytest.fixture(scope="module")
def iris(manager: Manager) -> str:
    manager.ok("deploy", "iris", "1.0.0", str(EXAMPLES / "iris"), timeout=900)
    return "iris"


def test_the_deployed_classifier_answers_the_species_of_each_row(
    manager: Manager, iris: str
) -> None:
    answer = manager.call(f"{iris}/predict", flowers=[SETOSA, VERSICOLOR])
    assert answer.status_code == 200, answer.text
    assert answer.json() == ["setosa", "versicolor"]
    info = manager.call(f"{iris}/model_info").json()
    assert info["training_accuracy"] > 0.9


def test_the_to_dict_shape_is_read_too(manager: Manager, iris: str) -> None:
    frame = {name: {"0": value} for name, value in SETOSA.items()}
    assert manager.call(f"{iris}/predict", flowers=frame).json() == ["setosa"]


def test_calls_are_monitored(manager: Manager, iris: str) -> None:
    manager.call(f"{iris}/predict", flowers=[SETOSA])
    deadline = time.monotonic() + 30
    stored: dict = {}
    while time.monotonic() < deadline:
        response = manager.http.get(f"/services/{iris}/~monitor")
        stored = response.json() if response.status_code == 200 else {}
        if any("predict" in name for name in stored):
            break
        time.sleep(0.2)
    assert any("predict" in name for name in stored), stored


def test_a_bad_body_is_refused_and_the_service_keeps_running(manager: Manager, iris: str) -> None:
    answer = manager.call(f"{iris}/predict", flowers=[{"sepal_length": "wide"}])
    assert answer.status_code == 400
    assert "missing columns" in answer.json()["detail"]
    assert manager.record(iris, "1.0.0")["status"] == "running"
