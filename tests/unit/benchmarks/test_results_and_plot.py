"""Benchmark runs as JSON records, and their charts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from benchmarks import gateway_report as gateway
from benchmarks import plot, transport
from benchmarks.results import RatioFigure, RunRecord, load_record
from benchmarks.rpc_report import Figure
from benchmarks.wrk import WrkResult

STARTED = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)


def _record(**kwargs: object) -> RunRecord:
    defaults: dict[str, object] = {
        "ratios": [
            RatioFigure("mvi hello req/s", "FastAPI hello", 3.5, 2.0),
            RatioFigure("mvi batched p99", "mvi unbatched", 1.4, 1.3, upper=True),
            RatioFigure("thread pool req/s", "FastAPI hello", 2.4),
        ]
    }
    defaults.update(kwargs)
    return RunRecord.make("benchmarks.run", "python -m benchmarks.run", STARTED,
                          ("8.18 6.28 3.61", "9.00 7.00 4.00"), **defaults)  # type: ignore[arg-type]  # fmt: skip


def test_a_record_reads_back_as_it_was_written(tmp_path: Path) -> None:
    record = _record(figures={"mvi req/s": 1557.0}, header=["a"], rows=[["1"]])
    record.write(tmp_path / "deep" / "run.json")
    again = load_record(tmp_path / "deep" / "run.json")
    assert again == record
    assert again.date == "2026-12-02T02:30:00+00:00"
    assert again.machine["cores"] and again.load["before"] == "8.18 6.28 3.61"


@pytest.mark.parametrize("content", ["not json", '{"runner": "x"}', "[1, 2]"])
def test_a_file_that_is_not_a_record_is_refused_with_its_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"bad\.json is not a benchmark record"):
        load_record(path)


@pytest.mark.parametrize(
    ("ratio", "colour"),
    [
        (RatioFigure("m", "r", 2.1, 2.0), plot.MET),
        (RatioFigure("m", "r", 1.9, 2.0), plot.MISSED),
        (RatioFigure("m", "r", 1.2, 1.3, upper=True), plot.MET),
        (RatioFigure("m", "r", 1.4, 1.3, upper=True), plot.MISSED),
        (RatioFigure("m", "r", 0.5), plot.NO_GOAL),
    ],
)
def test_a_bar_is_coloured_by_its_goal(ratio: RatioFigure, colour: str) -> None:
    assert plot.bar_colour(ratio) == colour


def test_the_chart_names_each_ratio_the_machine_and_the_date(tmp_path: Path) -> None:
    svg = plot.render(_record(), tmp_path / "run.svg").read_text()
    assert svg.startswith("<?xml")
    for text in ("mvi hello req/s / FastAPI hello", "3.50x", "2026-12-02 02:30 UTC", "load"):
        assert text in svg
    assert plot.MISSED.lower() in svg.lower() and plot.MET.lower() in svg.lower()


def test_the_same_data_renders_to_the_same_file(tmp_path: Path) -> None:
    first = plot.render(_record(), tmp_path / "a.svg").read_bytes()
    assert plot.render(_record(), tmp_path / "b.svg").read_bytes() == first


def test_a_run_without_ratios_is_drawn_as_its_figures(tmp_path: Path) -> None:
    record = _record(ratios=[], figures={"put (us/call)": 3.25})
    svg = plot.render(record, tmp_path / "monitoring.svg").read_text()
    assert "put (us/call)" in svg and "3.25" in svg


def test_the_command_writes_one_chart_per_runner(tmp_path: Path) -> None:
    _record().write(tmp_path / "run.json")
    assert plot.main([str(tmp_path / "run.json"), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "run.svg").is_file()
    (tmp_path / "bad.json").write_text("{")
    assert plot.main([str(tmp_path / "bad.json"), "--out", str(tmp_path / "out")]) == 1


def test_transport_ratios_are_to_fastapi_and_to_the_floor() -> None:
    figures = {
        transport.FASTAPI: Figure(1000.0, 0.01, 0.02),
        "raw.tcp32": Figure(30000.0, 0.001, 0.002),
        "mvi.tcp32": Figure(15000.0, 0.002, 0.004),
    }
    ratios = {(r.measurement, r.against): r for r in transport.ratio_figures(figures)}
    to_fastapi = ratios[("mvi RPC, TCP, 32 callers", "FastAPI hello, HTTP")]
    assert to_fastapi.value == pytest.approx(15.0) and to_fastapi.target == 12
    to_floor = ratios[("mvi RPC, TCP, 32 callers", "floor: raw asyncio+msgpack, TCP, 32 callers")]
    assert to_floor.value == pytest.approx(0.5) and to_floor.target is None


def test_transport_ratios_name_a_reference_that_is_not_a_case() -> None:
    figures = {
        transport.HTTP_NPY: Figure(2000.0, 0.01, 0.02),
        "svc-vec.tcp32": Figure(5000.0, 0.005, 0.01),
    }
    ratios = {(r.measurement, r.against): r for r in transport.ratio_figures(figures)}
    vector = ratios[("mvi service, batched 1x1024 matvec over RPC, TCP, 32", "floor: HTTP .npy")]
    assert vector.value == pytest.approx(2.5) and vector.target == 2


def _wrk(rate: float, p99: float) -> WrkResult:
    return WrkResult(rate, {50: p99 / 2, 99: p99}, int(rate), 1.0)


def test_gateway_ratios_are_to_the_direct_call_and_to_the_main_without_a_shadow() -> None:
    runs = {
        "direct": [_wrk(1000, 0.01)],
        "gateway": [_wrk(700, 0.02)],
        "shadow_off": [_wrk(500, 0.020)],
        "shadow_on": [_wrk(500, 0.021)],
    }
    through, shadow = gateway.ratio_figures(runs, 32, 8)
    assert through.value == pytest.approx(0.7) and through.target == gateway.GOAL_RATIO
    assert shadow.value == pytest.approx(1.05) and shadow.upper
