"""The configuration page is generated from the settings objects and documents each one."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import Field

from mvi.settings import CLISettings, ManagerSettings, ServiceSettings
from mvi.settings._group import Group

ROOT = Path(__file__).resolve().parents[3]


def _config_page() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mvi_docs_config_page", ROOT / "docs" / "_hooks" / "config_page.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


config_page = _config_page()


def _rows(page: str) -> dict[str, list[str]]:
    rows = {}
    for line in page.splitlines():
        match = re.match(r"\| `(MVI_[A-Z0-9_]+)` \|(.*)\|$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in re.split(r"(?<!\\)\|", match[2])]
    return rows


def test_every_setting_has_a_description() -> None:
    assert config_page.undocumented() == []


def test_a_setting_without_a_description_is_reported() -> None:
    class Undocumented(Group):
        """A group with one field left undocumented."""

        documented: int = Field(1, description="Has one.")
        forgotten: int = 2

    assert config_page.undocumented((Undocumented,)) == ["MVI_FORGOTTEN"]


@pytest.mark.parametrize("group", [ServiceSettings, ManagerSettings, CLISettings])
def test_the_page_lists_every_variable_of_each_group_with_its_description(
    group: type[Group],
) -> None:
    rows = _rows(config_page.render_page())
    for name, info in group.model_fields.items():
        variable = f"MVI_{name.upper()}"
        assert variable in rows, f"{variable} is not on the configuration page"
        kind, default, description = rows[variable]
        assert kind and default
        assert description == " ".join((info.description or "").split()).replace("|", "\\|")


@pytest.mark.parametrize(
    ("variable", "kind", "default"),
    [
        ("MVI_PORT", "int (>= 0, <= 65535)", "`8000`"),
        ("MVI_LOG_LEVEL", "`critical` \\| `error` \\| `warning` \\| `info` \\| `debug`", "`info`"),
        ("MVI_MANAGER_URL", "str (optional)", "unset"),
        ("MVI_SERVICE_ROOT_PATH", "str", "empty"),
        ("MVI_HOME", "path", "`~/.mvi`"),
        ("MVI_MANAGER_MIRROR_METHODS", "list of str (comma-separated)", "`POST`"),
        ("MVI_MANAGER_AUTH", "bool", "`true`"),
        ("MVI_SMTP_PASSWORD", "secret (optional)", "unset"),
    ],
)
def test_types_and_defaults_are_written_as_in_the_environment(
    variable: str, kind: str, default: str
) -> None:
    assert _rows(config_page.render_page())[variable][:2] == [kind, default]


def test_the_page_does_not_depend_on_the_machine() -> None:
    assert str(Path.home()) not in config_page.render_page()


def test_the_committed_page_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == config_page.render_page(), (
        "docs/configuration.md is stale: run `python docs/_hooks/config_page.py --write`"
    )
