"""The model and its batched entrypoint in this process."""

import io

import numpy as np

import service
from mvi.testing import ServiceClient


def test_each_row_gets_probabilities_that_sum_to_one() -> None:
    out = service.forward(np.ones((3, 16), dtype=np.float32))
    assert out.shape == (3, 4)
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_a_batch_answers_each_row_as_it_would_alone() -> None:
    rows = np.random.default_rng(0).normal(size=(5, 16)).astype(np.float32)
    batched = service.predict(list(rows))
    alone = [service.forward(row[None, :])[0] for row in rows]
    assert np.allclose(np.stack(batched), np.stack(alone), atol=1e-6)


def test_npy_in_and_npy_out_over_http() -> None:
    row = np.linspace(-1, 1, 16, dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, row)
    with ServiceClient(service.service) as client:
        answer = client.post(
            "/predict",
            content=buffer.getvalue(),
            headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
        )
    assert answer.status_code == 200, answer.text
    assert np.allclose(np.load(io.BytesIO(answer.content)), service.forward(row[None, :])[0])


def test_a_row_of_the_wrong_size_is_refused() -> None:
    with ServiceClient(service.service) as client:
        answer = client.post("/predict", json={"x": [1.0, 2.0]})
    assert answer.status_code == 400
    assert "16 features" in answer.json()["detail"]
