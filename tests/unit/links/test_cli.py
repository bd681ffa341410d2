"""The seed's command-line flags, parsed (no process)."""

from __future__ import annotations

import pytest

from mvi.links.cli import build_parser
from mvi.links.models.config import parse_extra_arguments


def test_the_seeds_short_flags_are_understood() -> None:
    args, rest = build_parser().parse_known_args(
        ["-s", "svc.py", "-a", "a.json", "-c", "c.json", "-m", "-wt", "0.5", "-cl", "DEBUG",
         "-f", "WARNING", "-bc", "3", "-l", "logs", "--random_variable", "HELLO"]
    )  # fmt: skip
    assert (args.service_path, args.addresses_path, args.config_path) == (
        "svc.py",
        "a.json",
        "c.json",
    )
    assert args.main_mode is True
    assert (args.wait_time, args.console_log_level, args.file_log_level) == (
        0.5,
        "DEBUG",
        "WARNING",
    )
    assert (args.backup_count, args.log_path) == (3, "logs")
    assert parse_extra_arguments(rest) == {"random_variable": "HELLO"}


@pytest.mark.parametrize(
    ("flag", "extra"),
    [("--conf", {"conf": "x"}), ("--service_name", {"service_name": "x"})],
)
def test_a_long_option_is_never_taken_for_an_abbreviation(flag: str, extra: dict[str, str]) -> None:
    _, rest = build_parser().parse_known_args(["-s", "svc.py", flag, "x"])
    assert parse_extra_arguments(rest) == extra


def test_the_defaults_are_the_seeds() -> None:
    args, rest = build_parser().parse_known_args(["-s", "svc.py"])
    assert (args.main_mode, args.wait_time, args.backup_count, args.log_path) == (
        False,
        0.0,
        24,
        None,
    )
    assert (args.console_log_level, args.file_log_level, rest) == ("INFO", "INFO", [])
