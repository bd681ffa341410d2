"""What ``mvi`` and its seed-API modules export is pinned here."""

from __future__ import annotations

import importlib

import pytest

import mvi


def test_mvi_exports_exactly_the_public_names() -> None:
    assert mvi.__all__ == sorted(mvi.__all__)
    assert set(mvi.__all__) == {
        "ConfigurationError",
        "EntrypointDefinitionError",
        "InvalidParameterValue",
        "InvalidRequest",
        "ManagerNotConfigured",
        "MviError",
        "ParameterError",
        "Service",
        "ServiceCallError",
        "UnknownParameter",
        "UnknownVariable",
        "__version__",
        "service",
    }
    for name in mvi.__all__:
        assert getattr(mvi, name) is not None


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("mvi.communication", ["Severity", "call_service", "notify"]),
        (
            "mvi.utilities",
            [
                "get_authorized_domains",
                "get_db_table_limit",
                "get_headers",
                "get_mvi_manager_hostname",
                "get_mvi_manager_url",
                "get_service_access_token",
                "get_service_name",
                "get_service_root_path",
                "get_service_version",
            ],
        ),
        (
            "mvi.data_types",
            [
                "ArrayInput",
                "ArrayOutput",
                "DataFrame",
                "DataFrameInput",
                "DataFrameOutput",
                "NDArray",
            ],
        ),
    ],
)
def test_seed_modules_export_their_documented_names(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    assert sorted(imported.__all__) == names
    for name in names:
        value = getattr(imported, name)
        assert value.__doc__ or module == "mvi.data_types"  # Annotated types: see the source


def test_default_service_is_a_service_and_a_second_one_is_independent() -> None:
    other = mvi.Service()
    assert isinstance(mvi.service, mvi.Service)
    assert other is not mvi.service
    other.add_parameter("only_here", 1)
    assert "only_here" not in mvi.service.parameters


def test_public_exceptions_share_one_base() -> None:
    for name in mvi.__all__:
        value = getattr(mvi, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, mvi.MviError)
