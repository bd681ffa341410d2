"""mvi.utilities: what the manager's environment tells a service about itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mvi import utilities
from mvi.settings import get_settings, reload_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in [
        "MVI_MANAGER_URL",
        "MVI_MANAGER_HOSTNAME",
        "MVI_SERVICE_ACCESS_TOKEN",
        "MVI_AUTHORIZED_DOMAINS",
        "MVI_SERVICE_NAME",
        "MVI_SERVICE_VERSION",
        "MVI_SERVICE_ROOT_PATH",
        "MVI_SERVICE_DB_TABLE_LIMIT",
    ]:
        monkeypatch.delenv(name, raising=False)
    reload_settings()
    yield monkeypatch
    monkeypatch.undo()
    reload_settings()


def _set(env: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        env.setenv(f"MVI_{key.upper()}", value)
    reload_settings()


def test_standalone_values_are_defaults_and_empty_strings(env: pytest.MonkeyPatch) -> None:
    assert utilities.get_service_name() == "service"
    assert utilities.get_service_version() == "0.0.0"
    assert utilities.get_service_root_path() == ""
    assert utilities.get_mvi_manager_url() == ""
    assert utilities.get_mvi_manager_hostname() == ""
    assert utilities.get_service_access_token() == ""
    assert utilities.get_authorized_domains() == []
    assert utilities.get_db_table_limit() == (365, "days")
    assert utilities.get_headers() == {}


def test_values_given_by_the_manager_are_read_from_the_environment(
    env: pytest.MonkeyPatch,
) -> None:
    _set(
        env,
        service_name="hello",
        service_version="1.0.0",
        service_root_path="/services/hello_1.0.0/",
        manager_url="http://manager.internal:8000/",
        service_access_token="secret-token",
        authorized_domains="a.example, .b.example",
        service_db_table_limit="10000rows",
    )
    assert utilities.get_service_name() == "hello"
    assert utilities.get_service_version() == "1.0.0"
    assert utilities.get_service_root_path() == "/services/hello_1.0.0"
    assert utilities.get_mvi_manager_url() == "http://manager.internal:8000"
    assert utilities.get_mvi_manager_hostname() == "manager.internal"
    assert utilities.get_service_access_token() == "secret-token"
    assert utilities.get_authorized_domains() == ["a.example", ".b.example"]
    assert utilities.get_db_table_limit() == (10000, "rows")


def test_explicit_manager_hostname_wins_over_the_url_host(env: pytest.MonkeyPatch) -> None:
    _set(env, manager_url="http://10.0.0.5:8000", manager_hostname="mvi.example")
    assert utilities.get_mvi_manager_hostname() == "mvi.example"


@pytest.mark.parametrize(
    ("url", "gets_token"),
    [
        (None, True),
        ("http://manager.internal:8000/services/x/y", True),
        ("http://mvi.example/services/x/y", True),
        ("https://a.example/predict", True),
        ("https://A.EXAMPLE./predict", True),
        ("https://b.example/predict", True),
        ("https://deep.sub.b.example/predict", True),
        ("https://sub.a.example/predict", False),
        ("https://evil-a.example/predict", False),
        ("https://a.example.evil.com/predict", False),
        ("https://elsewhere.com/predict", False),
        ("not a url", False),
    ],
)
def test_headers_carry_the_token_only_to_authorized_hosts(
    env: pytest.MonkeyPatch, url: str | None, gets_token: bool
) -> None:
    _set(
        env,
        manager_url="http://manager.internal:8000",
        manager_hostname="mvi.example",
        service_access_token="secret-token",
        authorized_domains="a.example,.b.example",
    )
    expected = {"Authorization": "Bearer secret-token"} if gets_token else {}
    assert utilities.get_headers(url) == expected


def test_no_token_means_no_authorization_header(env: pytest.MonkeyPatch) -> None:
    _set(env, manager_url="http://manager.internal:8000")
    assert utilities.get_headers() == {}
    assert utilities.get_headers("http://manager.internal:8000/x") == {}


@pytest.mark.parametrize(
    ("variable", "value", "read", "expected"),
    [
        ("SERVICE_DB_TABLE_LIMIT", "10000rows", utilities.get_db_table_limit, (10000, "rows")),
        ("SERVICE_DB_TABLE_LIMIT", "12hours", utilities.get_db_table_limit, (12, "hours")),
        ("SERVICE_NAME", "renamed", utilities.get_service_name, "renamed"),
        ("MANAGER_URL", "http://m.example/", utilities.get_mvi_manager_url, "http://m.example"),
        ("SERVICE_ACCESS_TOKEN", "t0k", utilities.get_service_access_token, "t0k"),
    ],
)
def test_a_variable_set_at_run_time_is_read_at_the_next_call(
    env: pytest.MonkeyPatch, variable: str, value: str, read: Any, expected: Any
) -> None:
    before = read()
    env.setenv(f"MVI_{variable}", value)  # no reload_settings(): the call reads it
    assert read() == expected
    env.delenv(f"MVI_{variable}")
    assert read() == before


def test_the_serving_runtime_keeps_its_settings_object(env: pytest.MonkeyPatch) -> None:
    kept = get_settings()
    env.setenv("MVI_SERVICE_NAME", "changed")
    assert utilities.get_service_name() == "changed"
    assert get_settings() is kept and kept.service_name == "service"
