"""The monitoring store: what ``service.store()`` writes and ``/~monitor`` reads.

Two tables (:mod:`~mvi.monitoring.schema`), written in batches by a background thread from a
bounded queue (:mod:`~mvi.monitoring.store`), trimmed to ``MVI_SERVICE_DB_TABLE_LIMIT``
(:mod:`~mvi.monitoring.limit`) and exported as CSV files (:mod:`~mvi.monitoring.export`).
SQLite (WAL) by default, any SQLAlchemy URL by ``MVI_SERVICE_DB_URL``.

The names below are imported on first use, so that the request path can use
:class:`~mvi.monitoring.values.JSONText` without loading SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mvi.monitoring.export import Series, csv_zip
    from mvi.monitoring.limit import TableLimit
    from mvi.monitoring.store import MonitoringStore
    from mvi.monitoring.values import JSONText

__all__ = ["JSONText", "MonitoringStore", "Series", "TableLimit", "csv_zip"]

_HOMES = {
    "JSONText": "mvi.monitoring.values",
    "MonitoringStore": "mvi.monitoring.store",
    "Series": "mvi.monitoring.export",
    "TableLimit": "mvi.monitoring.limit",
    "csv_zip": "mvi.monitoring.export",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
