"""Monitoring data as a zip archive of CSV files, one per variable."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping
from typing import Any, TypedDict

__all__ = ["Series", "csv_name", "csv_zip"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class Series(TypedDict):
    """The stored values of one variable: parallel lists of times and values."""

    timestamp: list[str]
    value: list[Any]


def csv_name(variable: str, taken: set[str]) -> str:
    """A file name for ``variable`` that is safe in any archive tool and not in ``taken``."""
    stem = _UNSAFE.sub("_", variable).lstrip(".") or "variable"
    name, number = f"{stem}.csv", 1
    while name.lower() in taken:
        number += 1
        name = f"{stem}_{number}.csv"
    taken.add(name.lower())
    return name


def csv_zip(data: Mapping[str, Series]) -> bytes:
    """A zip archive with one ``timestamp,value`` CSV file per variable of ``data``."""
    archive = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for variable, series in data.items():
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(["timestamp", "value"])
            writer.writerows(zip(series["timestamp"], series["value"], strict=True))
            zipped.writestr(csv_name(variable, taken), text.getvalue())
    return archive.getvalue()
