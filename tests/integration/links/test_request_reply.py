"""Requester and replyer over real ZeroMQ sockets (TCP on 127.0.0.1 and IPC)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import zmq
from tests.conftest import free_port
from tests.integration.links._helpers import FAST, client, connection, module, running

from mvi.links import InvalidMessage, LinkService, LinkTimeout, ReplyError
from mvi.links.connections import wire

REPLYER = """
import time
from decimal import Decimal

CALLS = []
CALLED = []

def on_order(args, to_send, config):
    CALLS.append(args)
    CALLED.append(time.monotonic())
    if args["item"] == "boom":
        raise RuntimeError("the handler broke")
    if args["item"] == "bad reply":
        return {"item": 5}
    return {
        "item": args["item"],
        "total": args["price"] * args["quantity"],
        "book": {args["price"]: Decimal(args["quantity"])},
    }

connection_models = {
    "in": {
        "order": {
            "connection_type": "replyer",
            "required_creation_arguments": {"connection_function": on_order},
            "required_arguments": {"item": str, "quantity": int, "price": Decimal},
            "optional_arguments": {"note": str},
            "required_return_arguments": {"item": str, "total": Decimal},
            "optional_return_arguments": {"book": {Decimal: Decimal}},
        }
    }
}
"""

REQUESTER = """
from decimal import Decimal

ORDER = {"item": str, "quantity": int, "price": Decimal}

connection_models = {
    "out": {
        "order": {
            "connection_type": "requester",
            "required_arguments": ORDER,
            "optional_arguments": {"note": str},
            "required_return_arguments": {"item": str, "total": Decimal},
            "optional_return_arguments": {"book": {Decimal: Decimal}},
        },
        "loose": {"connection_type": "requester", "required_arguments": {"item": str}},
        "wants_int": {
            "connection_type": "requester",
            "required_arguments": ORDER,
            "required_return_arguments": {"item": str, "total": int},
            "optional_return_arguments": {"book": {Decimal: Decimal}},
        },
    }
}
"""


@pytest.fixture(scope="module", params=["tcp", "ipc"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "tcp":
        return f"tcp://127.0.0.1:{free_port()}"
    return f"ipc://{tmp_path_factory.mktemp('ipc')}/order.sock"


@pytest.fixture(scope="module")
def replyer(tmp_path_factory: pytest.TempPathFactory, url: str) -> Iterator[LinkService]:
    source = module(tmp_path_factory.mktemp("replyer"), "replyer", REPLYER)
    with running(source, {"in": {"order": {"replyer": url}}}) as service:
        yield service


@pytest.fixture(scope="module")
def requester(tmp_path_factory: pytest.TempPathFactory, url: str) -> ModuleType:
    return module(tmp_path_factory.mktemp("requester"), "requester", REQUESTER)


@pytest.fixture
def send(replyer: LinkService, requester: ModuleType, url: str) -> Iterator[Any]:
    addresses = {name: {"requester": url} for name in ("order", "loose", "wants_int")}
    with client(requester, {"out": addresses}) as runtime:
        yield runtime.to_send


def test_a_request_gets_the_checked_reply_with_exact_decimals(send: Any) -> None:
    reply = send("order", {"item": "apple", "quantity": 3, "price": Decimal("0.10")})
    assert reply == {
        "item": "apple",
        "total": Decimal("0.30"),
        "book": {Decimal("0.10"): Decimal(3)},
    }
    assert str(reply["total"]) == "0.30"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"item": "apple", "quantity": 3}, "price"),
        ({"item": "apple", "quantity": "3", "price": Decimal(1)}, "quantity"),
        ({"item": "apple", "quantity": 3, "price": 0.1}, "price"),
        ({"item": "apple", "quantity": 3, "price": Decimal(1), "colour": "red"}, "colour"),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    send: Any, replyer: LinkService, args: dict[str, Any], field: str
) -> None:
    before = connection(replyer, "order").messages_in
    with pytest.raises(InvalidMessage) as caught:
        send("order", args)
    assert caught.value.connection == "order"
    assert field in {name for name, _ in caught.value.errors}
    assert connection(replyer, "order").messages_in == before


def test_a_request_the_replyer_refuses_gets_an_invalid_error_reply(
    send: Any, replyer: LinkService
) -> None:
    with pytest.raises(ReplyError) as caught:
        send("loose", {"item": "apple"})
    assert caught.value.kind == "invalid"
    assert {field for field, _ in caught.value.errors} == {"quantity", "price"}
    assert connection(replyer, "order").errors["invalid"] >= 1


def test_a_handler_that_raises_gets_a_failed_reply_with_an_error_id(send: Any) -> None:
    with pytest.raises(ReplyError) as caught:
        send("order", {"item": "boom", "quantity": 1, "price": Decimal(1)})
    assert caught.value.kind == "failed"
    assert "RuntimeError: the handler broke" in str(caught.value)
    assert caught.value.error_id


def test_a_reply_that_does_not_fit_the_replyers_model_is_a_failed_reply(send: Any) -> None:
    with pytest.raises(ReplyError) as caught:
        send("order", {"item": "bad reply", "quantity": 1, "price": Decimal(1)})
    assert caught.value.kind == "failed"
    assert "total" in {field for field, _ in caught.value.errors}


def test_a_reply_that_does_not_fit_the_requesters_model_raises(send: Any) -> None:
    with pytest.raises(InvalidMessage) as caught:
        send("wants_int", {"item": "x", "quantity": 1, "price": Decimal("1.5")})
    assert "total" in str(caught.value)


@pytest.mark.parametrize(
    "frames",
    [[b"\xc1 not msgpack"], [b"\x92\x01"], [wire.pack([1, 2])], [b"a", b"b"]],
    ids=["garbage", "truncated", "not-a-map", "two-frames"],
)
def test_a_garbage_frame_gets_an_error_reply_and_the_replyer_goes_on(
    send: Any, replyer: LinkService, url: str, frames: list[bytes]
) -> None:
    context = zmq.Context()
    raw = context.socket(zmq.REQ)
    raw.connect(url)
    try:
        raw.send_multipart(frames)
        assert raw.poll(5000)
        status, body = raw.recv_multipart()
    finally:
        context.destroy(linger=0)
    assert status in {wire.MALFORMED, wire.INVALID}
    assert "message" in wire.unpack(body)
    assert send("order", {"item": "after", "quantity": 1, "price": Decimal(2)})["item"] == "after"


def test_a_peer_speaking_no_request_envelope_is_dropped_by_zeromq(send: Any, url: str) -> None:
    context = zmq.Context()
    raw = context.socket(zmq.DEALER)
    raw.connect(url)
    raw.send(b"\xff" * 64)  # no empty delimiter frame: REP discards it
    context.destroy(linger=100)
    assert send("order", {"item": "still", "quantity": 1, "price": Decimal(2)})["item"] == "still"


def test_to_send_on_an_unknown_connection_names_the_known_ones(send: Any) -> None:
    with pytest.raises(Exception, match="no out connection 'nope'"):
        send("nope", {})


def test_a_requester_without_replyer_times_out_then_recovers(
    requester: ModuleType, tmp_path: Path
) -> None:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    addresses = {"out": {"order": {"requester": url}}}
    with client(requester, {"out": {**addresses["out"], "loose": {"requester": url},
                                    "wants_int": {"requester": url}}}) as runtime:  # fmt: skip
        with pytest.raises(LinkTimeout, match="after 2 attempts"):
            runtime.to_send("order", {"item": "a", "quantity": 1, "price": Decimal(1)})
        order = runtime.connections["order"]
        assert order.retries == 1
        assert order.errors["timeout"] == 1
        source = module(tmp_path, "late_replyer", REPLYER)
        with running(source, {"in": {"order": {"replyer": url}}}):
            reply = runtime.to_send("order", {"item": "b", "quantity": 2, "price": Decimal(1)})
        assert reply["total"] == Decimal(2)


def test_stop_service_wakes_a_waiting_requester(requester: ModuleType, tmp_path: Path) -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    main = module(
        tmp_path,
        "waiting",
        REQUESTER.replace('"loose"', '"unused_loose"').replace('"wants_int"', '"unused_int"')
        + """
RESULT = []

def main(to_send, config):
    try:
        to_send("order", {"item": "a", "quantity": 1, "price": Decimal(1)})
    finally:
        RESULT.append("unwound")
""",
    )
    settings = FAST.model_copy(update={"link_request_timeout": 30.0})
    service = LinkService(
        service_module=main,
        addresses={
            "out": {name: {"requester": url} for name in ("order", "unused_loose", "unused_int")}
        },
        settings=settings,
        configure_logs=False,
    )
    service.run_service_as_main()
    service.stop_service(timeout=5)
    assert service.wait(0)
    assert main.RESULT == ["unwound"]
    assert service.exception is None


def test_the_minimum_wait_spaces_the_loop_turns(requester: ModuleType, tmp_path: Path) -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    source = module(tmp_path, "spaced", REPLYER)
    with running(source, {"in": {"order": {"replyer": url}}}, service_loop_min_wait_time=0.2):
        addresses = {name: {"requester": url} for name in ("order", "loose", "wants_int")}
        with client(requester, {"out": addresses}) as runtime:
            started = time.monotonic()
            for _ in range(4):  # 3 pauses of 0.2 s at least between 4 turns
                runtime.to_send("order", {"item": "a", "quantity": 1, "price": Decimal(1)})
            assert time.monotonic() - started >= 0.4


def test_with_a_minimum_wait_a_replyer_answers_one_request_a_turn(
    requester: ModuleType, tmp_path: Path
) -> None:
    # three requesters at once: without the rule, one turn took the requests waiting
    # behind the first (and a quick requester's next one, sent while the turn still ran)
    url = f"tcp://127.0.0.1:{free_port()}"
    source = module(tmp_path, "timed", REPLYER)
    patient = FAST.model_copy(update={"link_request_timeout": 30.0, "link_request_retries": 0})
    addresses = {name: {"requester": url} for name in ("order", "loose", "wants_int")}
    together = threading.Barrier(3)

    def ask(number: int) -> list[Any]:
        with client(requester, {"out": addresses}, settings=patient) as runtime:
            together.wait(timeout=30)
            order = {"item": f"r{number}", "quantity": 2, "price": Decimal(1)}
            return [runtime.to_send("order", order) for _ in range(2)]

    inbound = {"in": {"order": {"replyer": url}}}
    with running(source, inbound, service_loop_min_wait_time=0.2), ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(ask, range(3)))
    book = {Decimal(1): Decimal(2)}
    assert replies == [[{"item": f"r{n}", "total": Decimal(2), "book": book}] * 2 for n in range(3)]
    called = source.CALLED
    assert len(called) == 6  # no request was sent again
    gaps = [later - earlier for earlier, later in itertools.pairwise(called)]
    assert min(gaps) >= 0.2, gaps
