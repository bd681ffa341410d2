"""Monitoring data as a zip of ``timestamp,value`` CSV files."""

from __future__ import annotations

import csv
import io
import zipfile

from mvi.monitoring.export import Series, csv_name, csv_zip


def read_zip(data: bytes) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {
            name: list(csv.reader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()
        }


def test_one_csv_per_variable_with_a_header() -> None:
    data: dict[str, Series] = {
        "accuracy": {"timestamp": ["2024-05-01T00:00:00.000000+00:00"], "value": [0.9]},
        "label": {
            "timestamp": ["2024-05-01T00:00:00.000000+00:00", "2024-05-01T00:00:01.000000+00:00"],
            "value": ["a,b", '{"k":"v"}'],
        },
        "empty": {"timestamp": [], "value": []},
    }
    files = read_zip(csv_zip(data))
    assert files == {
        "accuracy.csv": [["timestamp", "value"], ["2024-05-01T00:00:00.000000+00:00", "0.9"]],
        "label.csv": [
            ["timestamp", "value"],
            ["2024-05-01T00:00:00.000000+00:00", "a,b"],
            ["2024-05-01T00:00:01.000000+00:00", '{"k":"v"}'],
        ],
        "empty.csv": [["timestamp", "value"]],
    }


def test_no_variables_give_an_empty_archive() -> None:
    assert read_zip(csv_zip({})) == {}


def test_file_names_stay_inside_the_archive_and_never_clash() -> None:
    taken: set[str] = set()
    names = [csv_name(v, taken) for v in ["../etc/passwd", "a/b", "a_b", "A_B", "", "..."]]
    assert names == [
        "_etc_passwd.csv",
        "a_b.csv",
        "a_b_2.csv",
        "A_B_3.csv",
        "variable.csv",
        "variable_2.csv",
    ]
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
