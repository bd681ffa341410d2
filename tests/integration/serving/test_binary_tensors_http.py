"""Binary array bodies (.npy and msgpack) in a real service, negotiated by the headers."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import msgpack
import numpy as np
import pytest

from mvi.serving.tensor import pack, unpack

SERVICE = """
import numpy as np
from mvi import service
from mvi.data_types import ArrayInput, ArrayOutput, NDArray

@service.entrypoint
def triple(x: ArrayInput) -> ArrayOutput:
    return x * 3

@service.entrypoint
def double(x: NDArray, factor: float = 2.0) -> NDArray:
    return x * factor

@service.entrypoint
def describe(x: NDArray, label: str) -> dict:
    return {"label": label, "shape": list(x.shape), "dtype": str(x.dtype), "sum": float(x.sum())}

@service.entrypoint
def count(text: str) -> int:
    return len(text)

W = np.arange(16, dtype=np.float32).reshape(4, 4)

@service.entrypoint(batch_size=16, batch_wait=0.002)
def matmul(x: list[NDArray]) -> list[NDArray]:
    stacked = np.stack(x)
    return list(stacked @ W)

if __name__ == "__main__":
    service.run()
"""

NPY, MSGPACK = "application/x-npy", "application/msgpack"


@pytest.fixture(scope="module")
def svc(start_module_service: Any) -> Any:
    return start_module_service(SERVICE)


def npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def load(body: bytes) -> Any:
    return np.load(io.BytesIO(body), allow_pickle=False)


def test_npy_body_in_npy_answer_out(svc: Any) -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    response = svc.post("/double", content=npy(array), headers={"content-type": NPY, "accept": NPY})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == NPY
    answer = load(response.content)
    assert answer.dtype == np.float32 and answer.shape == (2, 3)
    np.testing.assert_array_equal(answer, array * 2)


def test_the_original_sdks_array_names_take_and_give_npy_bodies(svc: Any) -> None:
    array = np.arange(4, dtype=np.int64)
    response = svc.post("/triple", content=npy(array), headers={"content-type": NPY, "accept": NPY})
    assert response.status_code == 200, response.text
    np.testing.assert_array_equal(load(response.content), array * 3)


def test_npy_body_with_json_answer_by_default(svc: Any) -> None:
    response = svc.post("/double", content=npy([1, 2]), headers={"content-type": NPY})
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [2.0, 4.0]


def test_json_body_with_binary_answer(svc: Any) -> None:
    response = svc.post("/double", json={"x": [[1, 2]], "factor": 3}, headers={"accept": NPY})
    np.testing.assert_array_equal(load(response.content), [[3, 6]])


def test_msgpack_object_of_named_parameters_with_raw_arrays(svc: Any) -> None:
    array = np.ones((3, 2), dtype=np.int32)
    response = svc.post(
        "/describe",
        content=pack({"x": array, "label": "ones"}),
        headers={"content-type": MSGPACK, "accept": MSGPACK},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MSGPACK
    assert unpack(response.content) == {
        "label": "ones",
        "shape": [3, 2],
        "dtype": "int32",
        "sum": 6.0,
    }
    answer = svc.post(
        "/double",
        content=pack({"x": array, "factor": 0.5}),
        headers={"content-type": MSGPACK, "accept": MSGPACK},
    )
    ext = msgpack.unpackb(answer.content)
    assert ext.code == 1  # a raw .npy buffer, readable by any npy reader
    np.testing.assert_array_equal(load(ext.data), array * 0.5)


def test_batched_binary_calls_each_get_their_own_row(svc: Any) -> None:
    weights = np.arange(16, dtype=np.float32).reshape(4, 4)

    def call(i: int) -> Any:
        row = np.full(4, i, dtype=np.float32)
        response = httpx.post(
            f"{svc.url}/matmul",
            content=npy(row),
            headers={"content-type": NPY, "accept": NPY},
            timeout=30,
        )
        return load(response.content)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(64)))
    for i, answer in enumerate(answers):
        np.testing.assert_array_equal(answer, np.full(4, i, dtype=np.float32) @ weights)


@pytest.mark.parametrize(
    ("path", "content_type", "body", "status", "message"),
    [
        pytest.param("/double", NPY, b"garbage", 400, "not in .npy format", id="npy-garbage"),
        pytest.param("/double", NPY, npy([1.0, 2.0])[:-4], 400, "needs 16", id="npy-cut"),
        pytest.param("/double", NPY, npy(["a"]), 400, "not numeric", id="npy-strings"),
        pytest.param("/double", MSGPACK, b"\xc1", 400, "not valid msgpack", id="msgpack-bad"),
        pytest.param("/describe", NPY, npy([1]), 415, "single array", id="npy-two-params"),
        pytest.param("/count", NPY, npy([1]), 415, "single array", id="npy-no-array"),
    ],
)
def test_bad_binary_body_is_a_clear_4xx(
    svc: Any, path: str, content_type: str, body: bytes, status: int, message: str
) -> None:
    response = svc.post(path, content=body, headers={"content-type": content_type})
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_msgpack_body_that_does_not_fit_is_422(svc: Any) -> None:
    response = svc.post(
        "/describe", content=pack({"x": np.ones(2)}), headers={"content-type": MSGPACK}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "label"]


def test_npy_answer_for_a_non_array_entrypoint_is_406(svc: Any) -> None:
    response = svc.post("/count", json={"text": "abc"}, headers={"accept": NPY})
    assert response.status_code == 406
    fallback = svc.post("/count", json={"text": "abc"}, headers={"accept": f"{NPY}, */*;q=0.1"})
    assert (fallback.status_code, fallback.json()) == (200, 3)


def test_openapi_lists_the_binary_media_types(svc: Any) -> None:
    operation = svc.get("/openapi.json").json()["paths"]["/double"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", NPY, MSGPACK}
    assert set(operation["responses"]["200"]["content"]) == {"application/json", NPY, MSGPACK}
