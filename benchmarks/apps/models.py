"""The "models" every benchmark server uses: fixed random matrices, the same in each."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["matrix", "vector"]

SEED = 20240611


def matrix(size: int) -> Any:
    """A ``size`` x ``size`` float32 matrix, the same in every process."""
    rng = np.random.default_rng(SEED + size)
    return (rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float32)


def vector(size: int) -> Any:
    """The 1 x ``size`` float32 input every request sends (5 decimals, as JSON carries it)."""
    rng = np.random.default_rng(SEED - size)
    return np.round(rng.standard_normal((1, size)), 5).astype(np.float32)
