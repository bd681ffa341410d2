"""external_target: a Python callable behind to_send, with the same checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.integration.links._helpers import client, module

from mvi.links import InvalidMessage, LinkDefinitionError

SERVICE = """
class Client:
    def __init__(self):
        self.cancelled = []

    def cancel_order(self, order_id, api_key):
        self.cancelled.append((order_id, api_key))
        return {"order_id": order_id}

CbproClient = Client()

def setup_connections(config):
    return {"cancel": {"api_key": "k-1"}}

connection_models = {
    "out": {
        "cancel": {
            "connection_type": "external_target",
            "required_creation_arguments": {"target": "CbproClient.cancel_order"},
            "required_connection_arguments": {"api_key": str},
            "required_arguments": {"order_id": str},
            "required_return_arguments": {"order_id": int},
        },
        "to_decimal": {
            "connection_type": "external_target",
            "required_creation_arguments": {"target": "decimal.Decimal"},
            "required_arguments": {"value": str},
            "required_return_arguments": None,
            "optional_return_arguments": None,
        },
    }
}
"""


def test_targets_are_called_with_checked_arguments_and_checked_answers(tmp_path: Path) -> None:
    source = module(tmp_path, "external", SERVICE.replace('{"order_id": int}', '{"order_id": str}'))
    with client(source, {}) as runtime:
        assert runtime.to_send("cancel", {"order_id": "A1"}) == {"order_id": "A1"}
        assert source.CbproClient.cancelled == [("A1", "k-1")]
        assert runtime.to_send("to_decimal", {"value": "1.10"}) == Decimal("1.10")
        with pytest.raises(InvalidMessage, match="'order_id'"):
            runtime.to_send("cancel", {"order_id": 5})
        assert len(source.CbproClient.cancelled) == 1


def test_an_answer_that_does_not_fit_raises(tmp_path: Path) -> None:
    with (
        client(module(tmp_path, "external2", SERVICE), {}) as runtime,
        pytest.raises(InvalidMessage, match="return arguments"),
    ):
        runtime.to_send("cancel", {"order_id": "A1"})


def test_a_target_that_does_not_exist_stops_the_start(tmp_path: Path) -> None:
    text = SERVICE.replace("CbproClient.cancel_order", "Nowhere.cancel").replace('"k-1"', "5")
    with (
        pytest.raises(LinkDefinitionError) as caught,
        client(module(tmp_path, "external3", text), {}),
    ):
        pass
    text = "\n".join(caught.value.problems)
    assert "'Nowhere.cancel' is not a callable" in text
    assert "'api_key'" in text  # the connection argument of the wrong type, too
