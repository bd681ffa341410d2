"""The baseline: plain FastAPI, written the way its documentation teaches.

Served by ``uvicorn benchmarks.apps.fastapi_app:app`` with the same uvicorn (uvloop,
httptools) as mvi. Each route takes the same JSON body as its mvi counterpart.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import Body, FastAPI

from benchmarks.apps.models import matrix

__all__ = ["app"]

app = FastAPI()

W1024 = matrix(1024)
W256 = matrix(256)

Vector = Annotated[list[list[float]], Body(embed=True)]


@app.post("/hello_async")
async def hello_async(name: Annotated[str, Body(embed=True)]) -> str:
    """Typed async hello."""
    return f"Hello {name}"


@app.post("/hello_sync")
def hello_sync(name: Annotated[str, Body(embed=True)]) -> str:
    """The same as a plain ``def`` (FastAPI runs it in its thread pool)."""
    return f"Hello {name}"


@app.post("/matvec1024")
async def matvec1024(vector: Vector) -> list[list[float]]:
    """One 1x1024 vector times a 1024x1024 matrix, one call at a time."""
    result: list[list[float]] = (np.asarray(vector, dtype=np.float32) @ W1024).tolist()
    return result


@app.post("/matvec256")
async def matvec256(vector: Vector) -> list[list[float]]:
    """One 1x256 vector times a 256x256 matrix, one call at a time."""
    result: list[list[float]] = (np.asarray(vector, dtype=np.float32) @ W256).tolist()
    return result
