"""The CLI's choice of manager and its saved config."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mvi._exceptions import ManagerError
from mvi.cli.client import DEFAULT_URL, CliConfig, ManagerClient, normalize_url
from mvi.settings import Settings


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://manager.example:9000/", "http://manager.example:9000"),
        ("https://m.example", "https://m.example"),
    ],
)
def test_hosts_become_urls(host: str, url: str) -> None:
    assert normalize_url(host) == url


@pytest.mark.parametrize("host", ["", "ftp://x", "http://"])
def test_bad_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError):
        normalize_url(host)


def test_the_saved_host_is_used_unless_the_environment_names_one(tmp_path: Path) -> None:
    settings = Settings(config_dir=tmp_path / "cfg")
    assert ManagerClient.from_settings(settings).url == DEFAULT_URL
    CliConfig.default(settings).save(host="http://10.0.0.1:8000")
    assert (tmp_path / "cfg" / "config.json").stat().st_mode & 0o777 == 0o600
    assert ManagerClient.from_settings(settings).url == "http://10.0.0.1:8000"
    override = Settings(config_dir=tmp_path / "cfg", manager_url="http://127.0.0.1:9")
    assert ManagerClient.from_settings(override).url == "http://127.0.0.1:9"


def test_saving_keeps_other_values(tmp_path: Path) -> None:
    config = CliConfig(tmp_path)
    config.save(host="http://a:1", token="t")
    config.save(host="http://b:2")
    assert config.load() == {"host": "http://b:2", "token": "t"}


def test_each_manager_has_its_own_saved_token(tmp_path: Path) -> None:
    settings = Settings(config_dir=tmp_path / "cfg", manager_url="http://127.0.0.1:9")
    config = CliConfig.default(settings)
    assert ManagerClient.from_settings(settings).http.headers.get("authorization") is None
    config.save_token("http://127.0.0.1:9/", "tok-a")
    config.save_token("http://10.0.0.1:8000", "tok-b")
    assert (tmp_path / "cfg" / "config.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cfg").stat().st_mode & 0o777 == 0o700
    client = ManagerClient.from_settings(settings)
    assert client.http.headers["authorization"] == "Bearer tok-a"
    assert config.forget_token("http://127.0.0.1:9") is True
    assert config.forget_token("http://127.0.0.1:9") is False
    assert config.token_for("http://10.0.0.1:8000") == "tok-b"


def test_the_token_setting_wins_over_the_saved_one(tmp_path: Path) -> None:
    settings = Settings(config_dir=tmp_path / "cfg", manager_url="http://m:1", token="from-env")
    CliConfig.default(settings).save_token("http://m:1", "saved")
    assert ManagerClient.from_settings(settings).http.headers["authorization"] == "Bearer from-env"


def test_a_401_says_which_host_to_log_in_to() -> None:
    client = ManagerClient("http://m.example:8000")
    response = httpx.Response(401, json={"detail": "Expired; log in with `mvi login HOST`"})
    with pytest.raises(ManagerError) as caught:
        client.check(response)
    assert caught.value.status_code == 401
    assert caught.value.message == "Expired; log in with `mvi login http://m.example:8000`"
