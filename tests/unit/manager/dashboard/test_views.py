"""What the dashboard's pages show: grouped versions, ages, log levels, schemas, series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from mvi.manager.dashboard.shadow_history import SAMPLE_EVERY, ShadowHistory
from mvi.manager.dashboard.streams import sse_event
from mvi.manager.dashboard.views import (
    age,
    entrypoints_of,
    example_body,
    group_versions,
    log_level,
    numeric_series,
    parse_value,
    range_start,
    unseen,
)

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


@dataclass
class Row:
    name: str
    version: str
    is_main: bool
    deployed_at: datetime


def test_versions_are_grouped_by_name_with_the_main_first() -> None:
    rows = [
        Row("b", "1.0.0", True, NOW),
        Row("a", "1.0.0", False, NOW - timedelta(hours=2)),
        Row("a", "2.0.0", True, NOW - timedelta(hours=1)),
        Row("a", "3.0.0", False, NOW),
    ]
    groups = group_versions(rows)
    assert [g.name for g in groups] == ["a", "b"]
    assert [r.version for r in groups[0].versions] == ["2.0.0", "3.0.0", "1.0.0"]
    assert group_versions([Row("c", "1.0.0", False, NOW)])[0].main is None


@pytest.mark.parametrize(
    ("delta", "shown"),
    [(timedelta(seconds=5), "5s"), (timedelta(minutes=3), "3m"), (timedelta(hours=5), "5h"),
     (timedelta(days=2, hours=3), "2d"), (timedelta(seconds=-4), "0s")],
)  # fmt: skip
def test_age_is_short(delta: timedelta, shown: str) -> None:
    assert age(NOW - delta, NOW) == shown
    assert age(None, NOW) == "-"


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2026-01-02 12:00:00,001 WARNING [dash] greeting Ada", "WARNING"),
        ("ERROR something broke", "ERROR"),
        ("WARN: old style", "WARNING"),
        ("FATAL: gone", "CRITICAL"),
        ("a plain print()", "INFO"),
        ("INFORMATION is not a level word", "INFO"),
    ],
)
def test_a_log_lines_level_is_its_first_level_word(line: str, level: str) -> None:
    assert log_level(line) == level


def test_unseen_counts_what_came_after_the_last_visit() -> None:
    times = [NOW - timedelta(minutes=5), NOW, (NOW + timedelta(minutes=1)).replace(tzinfo=None)]
    assert unseen(times, None) == 3
    assert unseen(times, NOW - timedelta(minutes=1)) == 2


@pytest.mark.parametrize(
    ("text", "value"), [("3", 3), ("true", True), ('"x"', "x"), ("[1, 2]", [1, 2]), ("hi", "hi")]
)
def test_a_typed_parameter_is_json_or_text(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_time_ranges_end_now_and_unknown_ones_are_refused() -> None:
    assert range_start("1h", NOW) == NOW - timedelta(hours=1)
    with pytest.raises(ValueError, match="15m, 1h"):
        range_start("3y", NOW)


OPENAPI = {
    "paths": {
        "/hello": {
            "post": {
                "summary": "Hello",
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}
                },
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/~parameters/{name}": {"post": {"summary": "Change a parameter"}},
        "/~health": {"get": {}},
    },
    "components": {
        "schemas": {
            "In": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "n": {"type": "integer", "default": 2},
                    "node": {"$ref": "#/components/schemas/In"},
                },
            }
        }
    },
}


def test_entrypoints_come_from_the_openapi_document_with_refs_written_out() -> None:
    [hello] = entrypoints_of(OPENAPI)
    assert (hello.name, hello.path, hello.summary) == ("hello", "/hello", "Hello")
    assert hello.request_schema["properties"]["name"] == {"type": "string"}
    assert hello.response_schema == {"type": "string"}
    assert '"type": "object"' in hello.request_text  # a recursive model ends, written out


def test_an_example_body_has_defaults_or_empty_values() -> None:
    schema = {"properties": {"a": {"type": "string"}, "b": {"default": 3}, "c": {}}}
    assert example_body(schema) == '{\n  "a": "",\n  "b": 3,\n  "c": null\n}'


def test_numeric_monitoring_variables_become_plot_columns() -> None:
    data = {
        "score": {"timestamp": ["2026-01-02T12:00:00+00:00", "2026-01-02T12:00:01+00:00"],
                  "value": [1, 2.5]},
        "label": {"timestamp": ["2026-01-02T12:00:00+00:00"], "value": ["x"]},
        "flag": {"timestamp": ["2026-01-02T12:00:00+00:00"], "value": [True]},
    }  # fmt: skip
    series = numeric_series(data)
    assert list(series) == ["score"]
    assert series["score"][1] == [1.0, 2.5]
    assert series["score"][0][1] - series["score"][0][0] == 1.0


def test_shadow_history_samples_at_most_every_few_seconds() -> None:
    clock = [100.0]
    history = ShadowHistory(lambda: clock[0])

    @dataclass
    class Out:
        mirrored: int
        errors: int
        equal_share: float | None

    history.sample("a_2.0.0", Out(1, 0, None))  # type: ignore[arg-type]
    clock[0] += SAMPLE_EVERY / 2
    assert len(history.sample("a_2.0.0", Out(2, 0, 1.0))) == 1  # type: ignore[arg-type]
    clock[0] += SAMPLE_EVERY
    samples = history.sample("a_2.0.0", Out(3, 1, 0.5))  # type: ignore[arg-type]
    assert [s.mirrored for s in samples] == [1, 3]


def test_a_server_sent_event_puts_each_line_in_a_data_field() -> None:
    assert sse_event("one\ntwo", "outcome") == b"event: outcome\ndata: one\ndata: two\n\n"
    assert sse_event("x") == b"data: x\n\n"
