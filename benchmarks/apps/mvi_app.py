"""The same routes as :mod:`benchmarks.apps.fastapi_app`, as an mvi service.

Run by the benchmark runner as ``python -m benchmarks.apps.mvi_app`` with ``MVI_PORT``
(and ``MVI_WORKERS`` for the two-process scenario) set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.apps.models import matrix
from mvi import service
from mvi.data_types import NDArray

W1024 = matrix(1024)
W256 = matrix(256)


@service.entrypoint
async def hello_async(name: str) -> str:
    """Typed async hello."""
    return f"Hello {name}"


@service.entrypoint
def hello_sync(name: str) -> str:
    """The same as a plain ``def``."""
    return f"Hello {name}"


@service.entrypoint(monitor=True)
async def hello_monitored(name: str) -> str:
    """Typed async hello whose every call is stored in the monitoring database."""
    return f"Hello {name}"


def _rows(batch: list[Any], weights: Any) -> list[Any]:
    stacked = np.concatenate([np.asarray(v, dtype=np.float32) for v in batch])
    result = stacked @ weights
    return [result[i : i + 1] for i in range(len(batch))]


@service.entrypoint(batch_size=32, batch_wait=0.005)
def matvec1024(vector: list[NDArray]) -> list[NDArray]:
    """1x1024 vectors times a 1024x1024 matrix, up to 32 calls in one product."""
    return _rows(vector, W1024)


@service.entrypoint
def matvec256(vector: NDArray) -> NDArray:
    """One 1x256 vector times a 256x256 matrix per call."""
    result: NDArray = np.asarray(vector, dtype=np.float32) @ W256
    return result


@service.entrypoint(batch_size=32, batch_wait=0.005)
def matvec256_batched(vector: list[NDArray]) -> list[NDArray]:
    """1x256 vectors times a 256x256 matrix, up to 32 calls in one product."""
    return _rows(vector, W256)


if __name__ == "__main__":
    service.run()
