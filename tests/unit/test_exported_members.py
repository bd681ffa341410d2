"""What ``mvi`` and its seed-API modules export is pinned here."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

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


SDK_MODULES = ["communication", "data_types", "exceptions", "testing", "utilities"]
"""The modules ``import mvi`` gives as attributes, imported on first use."""
HEAVY = ["IPython", "fastapi", "httpx", "numpy", "pandas", "sqlalchemy", "starlette", "uvicorn"]
"""What ``import mvi`` must not import: a service's first line stays fast."""


@pytest.mark.parametrize("name", SDK_MODULES)
def test_sdk_modules_are_attributes_of_mvi(name: str) -> None:
    assert getattr(mvi, name) is importlib.import_module(f"mvi.{name}")
    assert name in dir(mvi)
    assert name not in mvi.__all__  # modules, not names: `from mvi import *` stays light


def test_a_misspelt_attribute_of_mvi_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'utilites'"):
        mvi.utilites  # type: ignore[attr-defined]  # noqa: B018


def test_import_mvi_imports_none_of_the_heavy_dependencies() -> None:
    script = (
        "import json, sys\n"
        "import mvi\n"
        "after_import = sorted(sys.modules)\n"
        "mvi.utilities.get_service_name()\n"
        "print(json.dumps([after_import, sorted(sys.modules)]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    after_import, after_utilities = json.loads(result.stdout)
    for modules in (after_import, after_utilities):
        assert [m for m in modules if m.split(".")[0] in HEAVY] == []
    assert "mvi.utilities" not in after_import
    assert "mvi.utilities" in after_utilities
