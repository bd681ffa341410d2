"""A deploy's progress log: its lines, its bound, its outcome."""

from __future__ import annotations

from mvi.manager.fleet.progress import KEPT_DEPLOYS, MAX_LINES, DeployProgress


def test_a_reader_gets_the_lines_after_those_it_has_seen() -> None:
    progress = DeployProgress()
    log = progress.begin("a_1.0.0")
    progress.line("a_1.0.0", "Resolved 3 packages\n")
    progress.line("a_1.0.0", "Installed 3 packages")
    assert log.since(0) == ["Resolved 3 packages", "Installed 3 packages"]
    assert log.since(1) == ["Installed 3 packages"]
    assert log.since(2) == []


def test_the_outcome_ends_the_log_and_an_error_is_its_last_lines() -> None:
    progress = DeployProgress()
    log = progress.begin("a_1.0.0")
    progress.finish("a_1.0.0", "failed", "Installing the requirements failed\nno such package")
    progress.line("a_1.0.0", "late")
    progress.finish("a_1.0.0", "running")
    assert (log.outcome, log.since(0)[-1]) == ("failed", "no such package")
    assert "late" not in log.since(0)


def test_logs_and_lines_are_bounded() -> None:
    progress = DeployProgress()
    log = progress.begin("a_1.0.0")
    for index in range(MAX_LINES + 10):
        progress.line("a_1.0.0", str(index))
    assert log.since(0)[0] == "10" and len(log.since(0)) == MAX_LINES
    assert log.since(MAX_LINES + 9) == [str(MAX_LINES + 9)]
    for index in range(KEPT_DEPLOYS):
        progress.begin(f"b_{index}.0.0")
    assert progress.get("a_1.0.0") is None
    assert progress.get(f"b_{KEPT_DEPLOYS - 1}.0.0") is not None
    progress.line("unknown_1.0.0", "ignored")
