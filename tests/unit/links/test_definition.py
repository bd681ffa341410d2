"""Reading a service file: every problem of its models, listed at once."""

from __future__ import annotations

import types
from typing import Any

import pytest

from mvi.links import LinkDefinitionError
from mvi.links.models.definition import LinkDefinition


def module(**attributes: Any) -> types.ModuleType:
    made = types.ModuleType("svc")
    made.__dict__.update(attributes)
    return made


def on_message(args: Any, to_send: Any, config: Any) -> None:
    return None


def test_the_seed_models_are_read() -> None:
    service = LinkDefinition.from_module(
        module(
            on_message=on_message,
            main=lambda to_send, config: None,
            connection_models={
                "in": {
                    "cancel_order": {
                        "connection_type": "replyer",
                        "required_creation_arguments": {"connection_function": on_message},
                        "optional_creation_arguments": {},
                        "required_connection_arguments": {},
                        "optional_connection_arguments": {},
                        "required_arguments": {"order_id": str},
                        "optional_arguments": {},
                        "required_return_arguments": {"order_id": str},
                        "optional_return_arguments": {},
                    },
                    "ticks": {
                        "connection_type": "subscriber",
                        "required_creation_arguments": {"on_new_message": "on_message"},
                    },
                },
                "out": {
                    "cancel_on_exchange": {
                        "connection_type": "external_target",
                        "required_creation_arguments": {"target": "CbproClient.cancel_order"},
                        "required_return_arguments": None,
                        "optional_return_arguments": None,
                    }
                },
            },
        )
    )
    assert sorted(service.connections) == ["cancel_on_exchange", "cancel_order", "ticks"]
    assert service.connections["ticks"].handler is on_message  # an older alias, by name
    assert service.connections["cancel_on_exchange"].returns is None
    assert "main" in service.functions


def test_every_model_problem_is_listed() -> None:
    with pytest.raises(LinkDefinitionError) as caught:
        LinkDefinition.from_module(
            module(
                main=lambda only_one: None,
                config_model={"required": {"a": 5}},
                connection_models={
                    "in": {
                        "a": {"connection_type": "teleporter"},
                        "b": {"connection_type": "requester"},
                        "c": {"connection_type": "replyer"},
                        "d": {
                            "connection_type": "replyer",
                            "required_creation_arguments": {
                                "connection_function": lambda args: None,
                                "colour": "red",
                            },
                            "required_arguments": {"x": "not a type"},
                        },
                    },
                },
            )
        )
    problems = caught.value.problems
    text = "\n".join(problems)
    assert "main must take 2 arguments" in text
    assert "config_model" in text
    assert "'teleporter' is none of" in text
    assert "a requester is an 'out' connection" in text
    assert "required creation argument 'connection_function' is missing" in text
    assert "unknown creation argument 'colour'" in text
    assert "must take (args, to_send, config)" in text
    assert "is not a type spec" in text
    assert len(problems) == 8
    assert str(caught.value).count("\n  - ") == 8
