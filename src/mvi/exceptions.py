"""Errors an entrypoint raises to answer with an HTTP status (the original SDK's
``mvi.exceptions``).

``HTTPException`` is FastAPI's: the caller gets its ``status_code``, its ``detail`` as
``{"detail": ...}`` and its ``headers``::

    from mvi.exceptions import HTTPException

    @service.entrypoint
    def reserve(seat: str) -> str:
        if seat in taken:
            raise HTTPException(status_code=409, detail=f"seat {seat} is taken")
        ...

For a plain 400 with a message, ``mvi.InvalidRequest`` says the same in fewer words.
"""

from __future__ import annotations

from fastapi import HTTPException

__all__ = ["HTTPException"]
