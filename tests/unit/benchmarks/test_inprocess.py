"""benchmarks.inprocess runs its loops for real and prints one figure per cost."""

from __future__ import annotations

import pytest
from benchmarks import inprocess


def test_it_prints_the_service_call_and_both_pipe_round_trips(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("MVI_LOG_LEVEL", "MVI_SERVICE_NAME", "MVI_SERVICE_DB_URL"):
        monkeypatch.setenv(name, "")  # restored after the test: main() sets them
    assert inprocess.main(["--calls", "200", "--repeat", "1"]) == 0
    lines = dict(line.split(": ") for line in capsys.readouterr().out.splitlines())
    assert set(lines) == {
        "service call",
        "pipe round trip, mvi",
        "pipe round trip, raw os.write/os.read",
    }
    assert all(float(value.removesuffix(" us")) > 0 for value in lines.values())


def test_it_refuses_a_loop_of_no_calls() -> None:
    with pytest.raises(SystemExit):
        inprocess.main(["--calls", "0"])
