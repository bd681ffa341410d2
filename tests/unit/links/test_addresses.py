"""Addresses: the seed's host:port, ZeroMQ URLs, and one list of every problem."""

from __future__ import annotations

import types
from typing import Any

import pytest

from mvi.links.models.addresses import check_addresses, parse_address
from mvi.links.models.definition import LinkDefinition


def handler(args: Any, to_send: Any, config: Any) -> None:
    return None


SERVICE = types.ModuleType("svc")
SERVICE.connection_models = {  # type: ignore[attr-defined]
    "in": {
        "reply": {
            "connection_type": "replyer",
            "required_creation_arguments": {"connection_function": handler},
        }
    },
    "out": {
        "ask": {"connection_type": "requester"},
        "call": {
            "connection_type": "external_target",
            "required_creation_arguments": {"target": print},
        },
    },
}
CONNECTIONS = LinkDefinition.from_module(SERVICE).connections


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("127.0.0.1:8001", "tcp://127.0.0.1:8001"),
        ("localhost:9", "tcp://localhost:9"),
        (":8001", "tcp://127.0.0.1:8001"),
        ("8001", "tcp://127.0.0.1:8001"),
        (8001, "tcp://127.0.0.1:8001"),
        ("tcp://*:8001", "tcp://*:8001"),
        ("ipc:///tmp/a.sock", "ipc:///tmp/a.sock"),
        ("inproc://x", "inproc://x"),
    ],
)
def test_addresses_become_zeromq_urls(text: Any, url: str) -> None:
    assert parse_address(text) == url


@pytest.mark.parametrize(
    "text", ["", "host", "host:0", "host:70000", "http://x:1", "tcp://nohost", "ipc://", None, True]
)
def test_bad_addresses_say_what_is_wrong(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_good_addresses_give_each_connection_its_urls() -> None:
    urls, problems = check_addresses(
        {"in": {"reply": {"replyer": "127.0.0.1:1"}}, "out": {"ask": {"requester": ["1", "2"]}}},
        CONNECTIONS,
        main_mode=False,
    )
    assert problems == []
    assert urls == {
        "reply": ["tcp://127.0.0.1:1"],
        "ask": ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"],
    }


def test_every_address_problem_is_listed_at_once() -> None:
    _, problems = check_addresses(
        {
            "in": {"nothing": {"replyer": "1"}, "ask": {"requester": "1"}},
            "out": {"call": {"x": "1"}},
            "sideways": {},
        },
        CONNECTIONS,
        main_mode=False,
    )
    text = "\n".join(problems)
    assert "unknown key 'sideways'" in text
    assert "no 'in' connection 'nothing'" in text
    assert "'ask' is an 'out' connection" in text
    assert "external_target has no socket" in text
    assert "'reply' (replyer) has no address" in text
    assert "'ask' (requester) has no address" in text
    assert len(problems) == 6


def test_main_mode_refuses_inbound_connections() -> None:
    _, problems = check_addresses(
        {"in": {"reply": {"replyer": "1"}}, "out": {"ask": {"requester": "2"}}},
        CONNECTIONS,
        main_mode=True,
    )
    assert len(problems) == 1
    assert "main mode has no inbound connections" in problems[0]


def test_inline_relations_need_no_address() -> None:
    _, problems = check_addresses({}, CONNECTIONS, main_mode=False, without_socket=("reply", "ask"))
    assert problems == []
