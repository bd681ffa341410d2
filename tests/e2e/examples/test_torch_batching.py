"""examples/torch_batching deployed through a real manager: the PyTorch model answers JSON
and binary .npy bodies, and concurrent calls are batched into one forward pass.

torch 2.13.0 comes from the machine's own wheel folder (TORCH_WHEELS, default /opt/wheels):
the manager is given it as ``MVI_MANAGER_FIND_LINKS`` and, for the uv it runs with its own
environment, as ``UV_FIND_LINKS``.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tests.e2e.examples.conftest import EXAMPLES
from tests.e2e.manager.conftest import Manager

WHEELS = os.environ.get("TORCH_WHEELS", "/opt/wheels")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def manager_env() -> dict[str, str]:
    assert list(Path(WHEELS).glob("torch-2.13.0*.whl")), f"no torch 2.13.0 wheel in {WHEELS}"
    return {"MVI_MANAGER_FIND_LINKS": WHEELS, "UV_FIND_LINKS": WHEELS}


@pytest.fixture(scope="module")
def tiny_mlp(manager: Manager) -> str:
    manager.ok("deploy", "tiny_mlp", "1.0.0", str(EXAMPLES / "torch_batching"), timeout=1200)
    return "tiny_mlp"


def test_a_json_row_gets_four_probabilities(manager: Manager, tiny_mlp: str) -> None:
    answer = manager.call(f"{tiny_mlp}/predict", x=[0.5] * 16)
    assert answer.status_code == 200, answer.text
    probabilities = np.array(answer.json())
    assert probabilities.shape == (4,)
    assert np.isclose(probabilities.sum(), 1.0, atol=1e-5)


def test_a_npy_row_gets_a_npy_answer_equal_to_the_json_one(manager: Manager, tiny_mlp: str) -> None:
    row = np.linspace(-1, 1, 16, dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, row)
    answer = manager.http.post(
        f"/services/{tiny_mlp}/predict",
        content=buffer.getvalue(),
        headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-npy")
    binary = np.load(io.BytesIO(answer.content))
    as_json = manager.call(f"{tiny_mlp}/predict", x=row.tolist()).json()
    assert np.allclose(binary, as_json, atol=1e-6)


def test_concurrent_calls_are_batched_and_each_gets_its_own_answer(
    manager: Manager, tiny_mlp: str
) -> None:
    rows = np.eye(16, dtype=np.float32)

    def call(index: int) -> list[float]:
        answer = manager.http.post(
            f"/services/{tiny_mlp}/predict", json={"x": rows[index].tolist()}
        )
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, [i % 16 for i in range(64)]))
    for i, answer in enumerate(answers):  # each caller got its own row's answer
        assert np.allclose(answer, answers[i % 16], atol=1e-6)
    assert not np.allclose(answers[0], answers[1])
    sizes = manager.call(f"{tiny_mlp}/batch_sizes").json()
    assert sum(sizes) >= 64 and max(sizes) > 1, sizes


def test_a_row_of_the_wrong_size_is_a_400(manager: Manager, tiny_mlp: str) -> None:
    answer = manager.call(f"{tiny_mlp}/predict", x=[1.0, 2.0])
    assert answer.status_code == 400
    assert "16 features" in answer.json()["detail"]
