"""The one settings object: every MVI_* variable, its groups, and a child's environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from mvi._exceptions import ConfigurationError
from mvi.settings import CLISettings, ManagerSettings, ServiceSettings, Settings

GROUPS = (ServiceSettings, ManagerSettings, CLISettings)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.startswith("MVI_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_every_field_belongs_to_exactly_one_group() -> None:
    seen: dict[str, str] = {}
    for group in GROUPS:
        for name in group.model_fields:
            assert name not in seen, f"{name} is in {seen.get(name)} and {group.__name__}"
            seen[name] = group.__name__
    assert set(seen) == set(Settings.model_fields)


def test_every_field_is_documented() -> None:
    undocumented = [n for n, f in Settings.model_fields.items() if not f.description]
    assert not undocumented


def test_defaults_need_no_environment(env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.manager_auth is True
    assert settings.service_db_url is None
    assert settings.monitoring_url().endswith("/.mvi/monitoring.db")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"port": 8001}, {"MVI_PORT": "8001"}),
        ({"host": "0.0.0.0", "workers": 2}, {"MVI_HOST": "0.0.0.0", "MVI_WORKERS": "2"}),
        (
            {"authorized_domains": ["a.example", ".b.example"]},
            {"MVI_AUTHORIZED_DOMAINS": "a.example,.b.example"},
        ),
        ({"service_access_token": SecretStr("t0k3n")}, {"MVI_SERVICE_ACCESS_TOKEN": "t0k3n"}),
        ({"service_access_token": "t0k3n"}, {"MVI_SERVICE_ACCESS_TOKEN": "t0k3n"}),
        ({"port": None, "host": "::1"}, {"MVI_HOST": "::1"}),
    ],
)
def test_environ_writes_the_variables_of_the_fields_given(
    values: dict[str, Any], expected: dict[str, str]
) -> None:
    assert ServiceSettings.environ(**values) == expected


@pytest.mark.parametrize(
    "values",
    [
        {"port": 8123, "workers": 3, "service_root_path": "/services/a_1.0.0"},
        {"authorized_domains": ["x.example", "y.example"], "call_timeout": 2.5},
        {"service_access_token": "secret", "service_db_table_limit": "50rows"},
    ],
)
def test_environ_reads_back_as_the_same_settings(
    env: pytest.MonkeyPatch, values: dict[str, Any]
) -> None:
    for key, text in ServiceSettings.environ(**values).items():
        env.setenv(key, text)
    settings = Settings()
    for name, value in values.items():
        read = getattr(settings, name)
        assert (read.get_secret_value() if isinstance(read, SecretStr) else read) == value


def test_manager_booleans_and_lists_round_trip(env: pytest.MonkeyPatch) -> None:
    written = ManagerSettings.environ(
        manager_auth=False, manager_alert_emails=["ops@example.com"], home=Path("/tmp/x")
    )
    assert written["MVI_MANAGER_AUTH"] == "false"
    for key, text in written.items():
        env.setenv(key, text)
    settings = Settings()
    assert settings.manager_auth is False
    assert settings.manager_alert_emails == ["ops@example.com"]
    assert settings.home == Path("/tmp/x")


@pytest.mark.parametrize(
    ("group", "name"), [(ServiceSettings, "manager_port"), (ManagerSettings, "nosuch")]
)
def test_environ_refuses_a_name_that_is_not_a_field_of_its_group(
    group: type[ServiceSettings] | type[ManagerSettings], name: str
) -> None:
    with pytest.raises(ConfigurationError, match=name):
        group.environ(**{name: 1})


@pytest.mark.parametrize(
    ("variable", "text"),
    [("MVI_PORT", "70000"), ("MVI_WORKERS", "0"), ("MVI_MANAGER_MIRROR_METHODS", "POST,1x")],
)
def test_an_invalid_variable_is_an_error_naming_it(
    env: pytest.MonkeyPatch, variable: str, text: str
) -> None:
    env.setenv(variable, text)
    with pytest.raises(ValidationError, match=variable.removeprefix("MVI_").lower()):
        Settings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("services/a_1.0.0/", "/services/a_1.0.0"), ("", ""), ("/x", "/x")],
)
def test_the_root_path_is_normalised(env: pytest.MonkeyPatch, text: str, expected: str) -> None:
    env.setenv("MVI_SERVICE_ROOT_PATH", text)
    assert Settings().service_root_path == expected
