"""How an exception raised by an entrypoint becomes an answer, wherever the function ran.

:func:`failure` turns what the function raised into a :class:`CallFailed` carrying the
status, detail and headers the callers get: ``mvi.InvalidRequest`` is a 400 with its
message, FastAPI's/Starlette's ``HTTPException`` keeps its status, anything else is
logged with its traceback under a new error id and answered 500 with that id. A batch
that fails gives every caller in it the same :class:`CallFailed`; a worker process sends
one back over its pipe as plain fields.
"""

from __future__ import annotations

import logging
import uuid

from starlette.exceptions import HTTPException

from mvi._exceptions import CallFailed, InvalidRequest

__all__ = ["failure", "internal_error"]

logger = logging.getLogger("mvi.entrypoint")


def internal_error(name: str, what: str) -> CallFailed:
    """Log the exception being handled under a new error id; a 500 naming that id."""
    error_id = uuid.uuid4().hex
    logger.exception("Entrypoint %s %s [error_id=%s]", name, what, error_id)
    return CallFailed(500, "Internal server error", error_id=error_id)


def failure(name: str, exc: BaseException) -> CallFailed:
    """The answer to a call of entrypoint ``name`` whose function raised ``exc``
    (call it from the ``except`` block, so that the traceback is logged)."""
    if isinstance(exc, CallFailed):
        return exc
    if isinstance(exc, InvalidRequest):
        return CallFailed(400, exc.message)
    if isinstance(exc, HTTPException):
        headers = [(str(k), str(v)) for k, v in (exc.headers or {}).items()]
        return CallFailed(exc.status_code, exc.detail, headers)
    return internal_error(name, "failed")
