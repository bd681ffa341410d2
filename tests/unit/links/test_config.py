"""The config: file, environment, extra arguments, setup_config, checked in one go."""

from __future__ import annotations

import types
from decimal import Decimal
from typing import Any

import pytest

from mvi.links.models.config import build_config, flatten_config, parse_extra_arguments
from mvi.links.models.definition import LinkDefinition


def definition(**attributes: Any) -> LinkDefinition:
    module = types.ModuleType("svc")
    module.__dict__.update(attributes)
    return LinkDefinition.from_module(module)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--random_variable", "HELLO"], {"random_variable": "HELLO"}),
        (["--a=1", "--b", "two words"], {"a": "1", "b": "two words"}),
        (["--a", "-1"], {"a": "-1"}),
        ([], {}),
    ],
)
def test_extra_arguments_are_key_value_pairs(argv: list[str], expected: dict[str, str]) -> None:
    assert parse_extra_arguments(argv) == expected


@pytest.mark.parametrize("argv", [["stray"], ["--a"], ["--a", "--b", "1"], ["--=x"], ["--"]])
def test_extra_arguments_that_are_not_pairs_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_extra_arguments(argv)


@pytest.mark.parametrize(
    ("data", "flat"),
    [
        ({"required": {"a": 1}, "optional": {"b": 2}}, {"a": 1, "b": 2}),
        ({"required": {"a": 1}}, {"a": 1}),
        ({"a": 1, "required": 2}, {"a": 1, "required": 2}),
        (None, {}),
    ],
)
def test_a_config_file_is_flattened(data: Any, flat: dict[str, Any]) -> None:
    assert flatten_config(data) == flat


def test_later_sources_overwrite_earlier_ones_and_setup_config_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("from_env", "7")
    monkeypatch.setenv("level", "env")

    def setup_config(config: dict[str, Any]) -> dict[str, Any]:
        assert config["level"] == "cli"
        return {"required": {"level": "setup"}}

    service = definition(
        config_model={"required": {"from_env": int, "level": str}, "optional": {"price": Decimal}},
        setup_config=setup_config,
    )
    problems: list[str] = []
    config = build_config(
        service,
        {"required": {"level": "file", "price": Decimal("1.10")}},
        {"level": "cli", "undeclared": "kept"},
        problems,
    )
    assert problems == []
    assert config == {
        "from_env": 7,
        "level": "setup",
        "price": Decimal("1.10"),
        "undeclared": "kept",
    }


def test_every_config_problem_is_listed() -> None:
    service = definition(
        config_model={"required": {"symbol": str, "size": int, "levels": [int]}, "optional": {}}
    )
    problems: list[str] = []
    config = build_config(service, {"size": "big"}, {"levels": "[1, 2]"}, problems)
    assert config["levels"] == [1, 2]  # JSON text for a list
    assert len(problems) == 2
    assert "'symbol' is required but missing" in problems[0] or "'symbol'" in " ".join(problems)
    assert any("'size'" in problem for problem in problems)


def test_a_failing_setup_config_is_a_problem_not_a_crash() -> None:
    def setup_config(config: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    problems: list[str] = []
    build_config(definition(setup_config=setup_config), {}, {}, problems)
    assert problems == ["setup_config failed: RuntimeError: boom"]
