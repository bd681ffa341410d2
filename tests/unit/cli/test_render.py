"""The ls/deploy table, laid out like seed 000's."""

from __future__ import annotations

from datetime import UTC, datetime

from mvi.cli.render import format_table, services_table, since_text

SEED = """\
MAIN    NAME    VERSION    STATUS    RUNNING
------  ------  ---------  --------  -----------------------------------
*       hello   1.0.0      running   Running (since 2020-11-23 10:29:01)"""


def test_the_seed_table_is_reproduced() -> None:
    local = datetime(2020, 11, 23, 10, 29, 1)  # naive: shown as is
    record = {"main": True, "name": "hello", "version": "1.0.0", "status": "running"}
    assert services_table([{**record, "since": local}]) == SEED
    seed_lines = SEED.splitlines()
    assert [len(d) for d in seed_lines[1].split()] == [6, 6, 9, 8, 35]


def test_columns_widen_for_long_values_and_lines_have_no_trailing_spaces() -> None:
    table = format_table(["A", "B"], [["x", "a much longer cell"], ["", ""]])
    lines = table.split("\n")
    assert lines[0] == "A    B"
    assert lines[1] == "---  ------------------"
    assert lines[2] == "x    a much longer cell"
    assert lines[3] == ""
    assert all(line == line.rstrip() for line in lines)


def test_since_is_shown_in_local_time() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    expected = moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert since_text("crashed", moment) == f"Crashed (since {expected})"
    assert since_text("stopped", moment.isoformat()) == f"Stopped (since {expected})"


def test_headers_only_when_there_are_no_rows() -> None:
    assert format_table(["MAIN"], []).splitlines() == ["MAIN", "------"]


def test_a_kind_column_appears_when_a_link_service_is_listed() -> None:
    local = datetime(2020, 11, 23, 10, 29, 1)
    base = {"main": True, "version": "1.0.0", "status": "running", "since": local}
    records = [
        {**base, "name": "hello", "kind": "http"},
        {**base, "name": "quotes", "kind": "link"},
    ]
    lines = services_table(records).splitlines()
    assert lines[0].split() == ["MAIN", "NAME", "VERSION", "STATUS", "RUNNING", "KIND"]
    assert lines[2].endswith("http") and lines[3].endswith("link")
    assert services_table(records[:1]).splitlines()[0].split()[-1] == "RUNNING"
