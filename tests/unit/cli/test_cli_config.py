"""The CLI's config file: the hosts it remembers, and what ``N`` or ``HOST`` names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvi.cli.client import CliConfig

A, B = "http://127.0.0.1:8001", "http://127.0.0.1:8002"


@pytest.fixture
def config(tmp_path: Path) -> CliConfig:
    return CliConfig(tmp_path / "cli")


def test_hosts_are_listed_in_the_order_of_the_first_login(config: CliConfig) -> None:
    config.remember(A, user="admin", expires_at="2030-01-01T00:00:00+00:00", auth=True)
    config.remember(B + "/", user="bob", auth=True)
    config.remember(A, user="carol")  # a second login to A: A is active, still first
    assert config.hosts() == [A, B]
    assert config.load()["host"] == A
    assert config.login_of(A) == {
        "user": "carol",
        "expires_at": "2030-01-01T00:00:00+00:00",
        "auth": True,
    }
    assert (config.path.stat().st_mode & 0o777) == 0o600


def test_a_config_of_an_older_cli_lists_its_tokens_hosts_and_active_host(
    config: CliConfig,
) -> None:
    config.directory.mkdir()
    config.path.write_text(json.dumps({"host": B, "tokens": {A: "t1", B: "t2"}}))
    assert config.hosts() == [A, B]
    assert config.login_of(A) == {}


@pytest.mark.parametrize(
    ("host", "expected"),
    [("1", A), ("2", B), (" 2 ", B), ("127.0.0.1:8003", "http://127.0.0.1:8003"), (A + "/", A)],
)
def test_resolve_takes_a_number_or_an_address(config: CliConfig, host: str, expected: str) -> None:
    config.remember(A)
    config.remember(B)
    assert config.resolve(host) == expected


@pytest.mark.parametrize(
    ("remembered", "host", "message"),
    [
        ([A], "0", r"No host number 0 in `mvi hosts` \(1 to 1\)"),
        ([A, B], "3", r"No host number 3 in `mvi hosts` \(1 to 2\)"),
        ([], "1", "none yet; log in to a HOST first"),
        ([], "ftp://x", "not an http"),
        ([], "", "give the manager's address"),
    ],
)
def test_resolve_refuses_what_names_no_manager(
    config: CliConfig, remembered: list[str], host: str, message: str
) -> None:
    for url in remembered:
        config.remember(url)
    with pytest.raises(ValueError, match=message):
        config.resolve(host)
