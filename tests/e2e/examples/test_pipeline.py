"""examples/pipeline through a real manager: scorer calls normalizer with call_service, and
a robust normalizer deployed second is a shadow that gets copies and is compared."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.e2e.examples.conftest import EXAMPLES, copy_example
from tests.e2e.manager.conftest import Manager

pytestmark = pytest.mark.timeout(600)

SERIES = [1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 40.0]


@pytest.fixture(scope="module")
def pipeline(manager: Manager, tmp_path_factory: pytest.TempPathFactory) -> Manager:
    manager.ok("deploy", "normalizer", "1.0.0", str(EXAMPLES / "pipeline" / "normalizer"))
    manager.ok("deploy", "scorer", "1.0.0", str(EXAMPLES / "pipeline" / "scorer"))
    robust = copy_example("pipeline/normalizer", Path(tmp_path_factory.mktemp("robust")))
    with (robust / ".s2i" / "environment").open("a") as environment:
        environment.write("NORMALIZER_METHOD=robust\n")
    manager.ok("deploy", "normalizer", "1.1.0", str(robust))
    return manager


def test_the_scorer_gets_the_mains_answer_through_call_service(pipeline: Manager) -> None:
    answer = pipeline.call("scorer/outliers", values=SERIES)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["positions"] == [6] and body["values"] == [40.0]
    direct = pipeline.call("normalizer_1.0.0/normalize", values=SERIES).json()
    assert body["scaled"] == direct  # the main (standard method) answered, not the shadow
    assert pipeline.call("normalizer_1.1.0/method").json() == "robust"


def test_the_second_normalizer_is_a_shadow_whose_answers_are_compared(
    pipeline: Manager,
) -> None:
    listing = json.loads(pipeline.ok("ls", "normalizer", "--json").stdout)
    mains = {row["version"]: row["main"] for row in listing}
    assert mains == {"1.0.0": True, "1.1.0": False}
    for _ in range(3):
        assert pipeline.call("scorer/outliers", values=SERIES).status_code == 200
    deadline = time.monotonic() + 30
    shadow: dict = {}
    while time.monotonic() < deadline:
        report = json.loads(pipeline.ok("shadow-report", "normalizer", "--json").stdout)
        shadow = next(s for s in report["shadows"] if s["version"] == "1.1.0")
        if shadow["compared"] >= 3:
            break
        time.sleep(0.2)
    assert shadow["mirrored"] >= 3 and shadow["compared"] >= 3
    assert shadow["equal"] < shadow["compared"]  # the robust method scales differently
    assert shadow["errors"] == 0


def test_the_threshold_parameter_changes_the_scorers_answer(pipeline: Manager) -> None:
    changed = pipeline.http.post("/services/scorer/~parameters/threshold", json={"value": 5.0})
    assert changed.status_code == 200, changed.text
    assert pipeline.call("scorer/outliers", values=SERIES).json()["positions"] == []
