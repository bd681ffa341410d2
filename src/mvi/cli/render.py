"""Plain-text tables for the CLI, in the layout of seed 000's ``mvi deploy`` output.

::

    MAIN    NAME    VERSION    STATUS    RUNNING
    ------  ------  ---------  --------  -----------------------------------
    *       hello   1.0.0      running   Running (since 2020-11-23 10:29:01)

Each column is as wide as its longest cell, and at least its header plus two; columns are
separated by two spaces. When a version has more than one replica, or runs on a cluster, a
``REPLICAS`` column says how many are ready of how many, and where (``2/3 local``,
``3/3 1f0c2a9e,77d0b1c4,c2e9a0f3``); when one of them is a link service, a ``KIND``
column says ``http`` or ``link`` for each. No I/O: the commands print what these functions return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "SERVICE_HEADERS",
    "format_table",
    "replicas_text",
    "service_rows",
    "services_table",
    "since_text",
]

SERVICE_HEADERS = ("MAIN", "NAME", "VERSION", "STATUS", "RUNNING")
"""The columns of ``mvi ls`` and ``mvi deploy``."""


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Headers, a rule of dashes, and the rows, left-aligned (lines carry no trailing spaces)."""
    widths = [len(h) + 2 for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def since_text(status: str, since: datetime | str) -> str:
    """``Running (since 2020-11-23 10:29:01)``: the status and since when, in local time."""
    moment = datetime.fromisoformat(since) if isinstance(since, str) else since
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{status.capitalize()} (since {moment:%Y-%m-%d %H:%M:%S})"


def service_rows(records: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Table rows for API records of service versions."""
    return [
        [
            "*" if record["main"] else "",
            str(record["name"]),
            str(record["version"]),
            str(record["status"]),
            since_text(str(record["status"]), record["since"]),
        ]
        for record in records
    ]


def replicas_text(record: Mapping[str, Any]) -> str:
    """``ready/total where`` of a version's replicas (``where``: ``local`` or node ids)."""
    table = record.get("replica_table") or []
    total = int(record.get("replicas", 1))
    ready = sum(1 for replica in table if replica.get("ready"))
    nodes = sorted({str(replica.get("node", ""))[:8] for replica in table if replica.get("ready")})
    where = ",".join(node for node in nodes if node) or "-"
    return f"{ready}/{total} {where}"


def _has_replicas(record: Mapping[str, Any]) -> bool:
    table = record.get("replica_table") or []
    return int(record.get("replicas", 1)) != 1 or any(r.get("node") != "local" for r in table)


def services_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The ``MAIN NAME VERSION STATUS RUNNING`` table of ``records`` (and ``REPLICAS``
    when one of them has several, or runs on a cluster; ``KIND`` when one of them is a
    link service)."""
    rows = service_rows(records)
    headers: tuple[str, ...] = SERVICE_HEADERS
    if any(record.get("kind", "http") != "http" for record in records):
        headers = (*headers, "KIND")
        for row, record in zip(rows, records, strict=True):
            row.append(str(record.get("kind", "http")))
    if any(_has_replicas(record) for record in records):
        headers = (*headers, "REPLICAS")
        for row, record in zip(rows, records, strict=True):
            row.append(replicas_text(record))
    return format_table(headers, rows)
