"""The two tables that hold every service's monitored variables.

``mvi_monitoring_values`` holds every stored value of every variable, one row each. A
surrogate key identifies a row, never its timestamp, so that values stored at the same
instant (one ``store()`` call, or several threads or processes at once) never collide, and
it orders the rows that share a timestamp. Timestamps are integers, microseconds since the
Unix epoch in UTC: exact, compact and cheap to compare.

``mvi_monitoring_variables`` names the variables: one row per service and variable name, so
that several services can share one database and a value row carries a small integer instead
of two names. Values are indexed by variable and time, the way they are read and trimmed.

A value is one column beside its kind (:mod:`~mvi.monitoring.values`): in SQLite a column
without type affinity, which keeps integers, doubles and text as they are; elsewhere text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import UserDefinedType

__all__ = ["MAX_NAME_LENGTH", "AnyValue", "metadata", "records", "variables"]


class AnyValue(UserDefinedType[Any]):
    """SQLite's ``BLOB`` affinity: no conversion, every value kept in its own storage class
    (integer, real or text), and nothing converted on the way in or out."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "BLOB"


MAX_NAME_LENGTH = 255
"""Longest service or variable name the tables hold."""

metadata = MetaData()

variables = Table(
    "mvi_monitoring_variables",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(MAX_NAME_LENGTH), nullable=False, comment="MVI_SERVICE_NAME"),
    Column("name", String(MAX_NAME_LENGTH), nullable=False, comment="The variable's name"),
    UniqueConstraint("service", "name", name="uq_mvi_monitoring_variables_service_name"),
)
"""One row per variable of each service."""

records = Table(
    "mvi_monitoring_values",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
        comment="Insertion order; orders rows that share a timestamp.",
    ),
    Column(
        "variable_id",
        Integer,
        ForeignKey(variables.c.id, name="fk_mvi_monitoring_values_variable"),
        nullable=False,
    ),
    Column(
        "timestamp", BigInteger, nullable=False, comment="Microseconds since the Unix epoch, UTC"
    ),
    Column("kind", String(8), nullable=False, comment="int, float, text or json"),
    Column(
        "value",
        Text().with_variant(AnyValue(), "sqlite"),
        nullable=False,
        comment="The number or text (as text, where the column holds only text)",
    ),
    Index("ix_mvi_monitoring_values_variable_timestamp", "variable_id", "timestamp"),
)
"""One row per stored value."""
