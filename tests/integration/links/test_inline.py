"""Inline services: several in one thread, no sockets, the network's checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.integration.links._helpers import module, service_file

from mvi.links import InlineServices, LinkDefinitionError

MAIN = """
from decimal import Decimal
from mvi.links import InvalidMessage, ReplyError

RESULTS = []

def main(to_send, config):
    for count in range(config["num_req_to_send"]):
        RESULTS.append(to_send("request", {"count": count, "price": Decimal("0.10")}))
    try:
        to_send("request", {"count": "x", "price": Decimal(1)})
    except InvalidMessage as exc:
        RESULTS.append(("invalid", exc.connection))
    try:
        to_send("loose", {"count": -1})
    except ReplyError as exc:
        RESULTS.append((exc.kind, sorted(field for field, _ in exc.errors)))
    to_send("publish", {"count": 99})

config_model = {"required": {"num_req_to_send": int}}

connection_models = {
    "out": {
        "request": {
            "connection_type": "requester",
            "required_arguments": {"count": int, "price": Decimal},
            "required_return_arguments": {"response_text": str, "total": Decimal},
        },
        "loose": {"connection_type": "requester", "required_arguments": {"count": int}},
        "publish": {"connection_type": "publisher", "required_arguments": {"count": int}},
    }
}
"""

REPLYER = """
from decimal import Decimal

def on_request(args, to_send, config):
    return {"response_text": config["response_text"], "total": args["price"] * args["count"]}

config_model = {"required": {"response_text": str}}

connection_models = {
    "in": {
        "reply": {
            "connection_type": "replyer",
            "required_creation_arguments": {"connection_function": on_request},
            "required_arguments": {"count": int, "price": Decimal},
            "required_return_arguments": {"response_text": str, "total": Decimal},
        }
    }
}
"""

LISTENER = """
HEARD = []

def on_message(args, to_send, config):
    HEARD.append((config["name"], args["count"]))

config_model = {"required": {"name": str}}

connection_models = {
    "in": {
        "listen": {
            "connection_type": "subscriber",
            "required_creation_arguments": {"connection_function": on_message},
            "required_arguments": {"count": int},
        }
    }
}
"""


def test_inline_services_relate_requesters_replyers_publishers_and_subscribers(
    tmp_path: Path,
) -> None:
    main = module(tmp_path, "main_inline", MAIN)
    listener = module(tmp_path, "listener", LISTENER)
    inline = InlineServices()
    inline.set_main_service_by_module("requester", main, {"num_req_to_send": 3})
    inline.add_service(
        "replyer", service_file(tmp_path, "replyer", REPLYER), {"response_text": "OK"}
    )
    inline.add_service_by_module("one", listener, {"name": "one"})
    inline.add_service_by_module("two", listener, {"name": "two"})
    inline.add_relation("requester", "request", "replyer", "reply")
    inline.add_relation("requester", "loose", "replyer", "reply")
    inline.add_relation("requester", "publish", "one", "listen")
    inline.add_relation("requester", "publish", "two", "listen")
    inline.start()
    assert main.RESULTS[:3] == [
        {"response_text": "OK", "total": Decimal("0.00")},
        {"response_text": "OK", "total": Decimal("0.10")},
        {"response_text": "OK", "total": Decimal("0.20")},
    ]
    assert main.RESULTS[3] == ("invalid", "request")
    assert main.RESULTS[4] == ("invalid", ["price"])  # refused by the replyer, as over TCP
    assert listener.HEARD == [("one", 99), ("two", 99)]


def test_the_main_service_can_be_given_by_path(tmp_path: Path) -> None:
    inline = InlineServices()
    path = service_file(tmp_path, "by_path", MAIN)
    inline.set_main_service("requester", path, {"num_req_to_send": 1})
    inline.add_service_by_module("replyer", module(tmp_path, "r", REPLYER), {"response_text": "A"})
    inline.add_service_by_module("one", module(tmp_path, "l", LISTENER), {"name": "one"})
    for out, service, into in (
        ("request", "replyer", "reply"),
        ("loose", "replyer", "reply"),
        ("publish", "one", "listen"),
    ):
        inline.add_relation("requester", out, service, into)
    inline.start()


def test_every_problem_of_every_inline_service_is_listed(tmp_path: Path) -> None:
    inline = InlineServices()
    inline.set_main_service_by_module("requester", module(tmp_path, "m", MAIN), {})
    inline.add_service_by_module("replyer", module(tmp_path, "r2", REPLYER), {})
    inline.add_relation("requester", "request", "replyer", "reply")
    with pytest.raises(LinkDefinitionError) as caught:
        inline.start()
    text = "\n".join(caught.value.problems)
    assert "requester: config: 'num_req_to_send' is required" in text
    assert "replyer: config: 'response_text' is required" in text
    assert "requester: connection 'loose' (requester) has no address" in text
    assert "requester: connection 'publish' (publisher) has no address" in text


@pytest.mark.parametrize(
    ("relation", "message"),
    [
        (("nobody", "request", "replyer", "reply"), "no inline service 'nobody'"),
        (("requester", "nothing", "replyer", "reply"), "no 'out' connection 'nothing'"),
        (
            ("requester", "publish", "replyer", "reply"),
            "a publisher cannot be related to a replyer",
        ),
    ],
)
def test_bad_relations_are_refused(
    tmp_path: Path, relation: tuple[str, str, str, str], message: str
) -> None:
    inline = InlineServices()
    inline.set_main_service_by_module("requester", module(tmp_path, "m3", MAIN), {})
    inline.add_service_by_module("replyer", module(tmp_path, "r3", REPLYER), {})
    with pytest.raises(LinkDefinitionError, match=message):
        inline.add_relation(*relation)
