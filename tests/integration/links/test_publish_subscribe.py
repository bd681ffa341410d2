"""Publisher and subscriber over real sockets: delivery, XPUB/XSUB, hostile messages, gaps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
import zmq
from tests.conftest import free_port, wait_for
from tests.integration.links._helpers import client, connection, module, running

from mvi.links import InvalidMessage
from mvi.links.connections import wire
from mvi.links.runtime import ServiceRuntime

SUBSCRIBER = """
import time
from decimal import Decimal

heard = []

def on_tick(args, to_send, config):
    if args["price"] == Decimal("-1"):
        raise ValueError("negative")
    time.sleep(config.get("delay", 0))
    heard.append(args)

def setup_connections(config):
    return {"ticks": {"high_water_mark": config.get("hwm", 1000)}}

config_model = {"optional": {"delay": float, "hwm": int}}

connection_models = {
    "in": {
        "ticks": {
            "connection_type": "subscriber",
            "required_creation_arguments": {"connection_function": on_tick},
            "optional_creation_arguments": {"topic": "ticks", "is_x_sub": %(x_sub)s},
            "required_arguments": {"symbol": str, "price": Decimal},
        }
    }
}
"""

PUBLISHER = """
from decimal import Decimal

def setup_connections(config):
    return {
        "ticks": {
            "wait_for_subscribers": config.get("wait", 0),
            "high_water_mark": config.get("hwm", 1000),
        },
        "other": {},
    }

config_model = {"optional": {"wait": int, "hwm": int}}

connection_models = {
    "out": {
        "ticks": {
            "connection_type": "publisher",
            "optional_creation_arguments": {"topic": "ticks", "is_x_pub": True},
            "required_arguments": {"symbol": str, "price": Decimal},
        },
        "other": {
            "connection_type": "publisher",
            "optional_creation_arguments": {"topic": "news"},
            "required_arguments": {"symbol": str, "price": Decimal},
        },
    }
}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pubsub")


def subscriber_module(folder: Path, name: str, x_sub: bool = False) -> ModuleType:
    return module(folder, name, SUBSCRIBER % {"x_sub": x_sub})


def publisher(
    folder: Path, url: str, other: str, config: dict[str, int]
) -> AbstractContextManager[ServiceRuntime]:
    source = module(folder, f"publisher_{free_port()}", PUBLISHER)
    addresses = {"out": {"ticks": {"publisher": url}, "other": {"publisher": other}}}
    return client(source, addresses, config)


@pytest.fixture
def url() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("x_sub", [False, True], ids=["sub", "xsub"])
def test_every_subscriber_gets_each_message_once_it_has_joined(
    folder: Path, url: str, x_sub: bool
) -> None:
    first = subscriber_module(folder, f"first_{x_sub}", x_sub)
    second = subscriber_module(folder, f"second_{x_sub}", x_sub)
    addresses = {"in": {"ticks": {"subscriber": url}}}
    other = f"tcp://127.0.0.1:{free_port()}"
    with running(first, addresses) as one, running(second, addresses) as two:
        with publisher(folder, url, other, {"wait": 2}) as runtime:
            for price in ("1.10", "2.20", "3.30"):
                runtime.to_send("ticks", {"symbol": "BTC", "price": Decimal(price)})
            runtime.to_send("other", {"symbol": "BTC", "price": Decimal(9)})  # another topic
            wait_for(lambda: len(first.heard) == 3 and len(second.heard) == 3, 10)
        assert [str(m["price"]) for m in first.heard] == ["1.10", "2.20", "3.30"]
        assert second.heard == first.heard
        assert connection(one, "ticks").gaps == 0
        assert connection(two, "ticks").messages_in == 3


def test_bad_arguments_are_refused_by_the_publisher(folder: Path, url: str) -> None:
    with publisher(folder, url, f"tcp://127.0.0.1:{free_port()}", {}) as runtime:
        with pytest.raises(InvalidMessage, match="'price'"):
            runtime.to_send("ticks", {"symbol": "BTC", "price": 1.5})
        with pytest.raises(InvalidMessage, match="'symbol'"):
            runtime.to_send("ticks", {"price": Decimal(1)})
        assert runtime.connections["ticks"].messages_out == 0


@pytest.fixture
def raw_publisher(url: str) -> Iterator[zmq.Socket[bytes]]:
    context = zmq.Context()
    socket = context.socket(zmq.XPUB)
    socket.bind(url)
    yield socket
    context.destroy(linger=0)


def test_hostile_publications_are_counted_and_dropped_and_the_subscriber_goes_on(
    folder: Path, url: str, raw_publisher: zmq.Socket[bytes]
) -> None:
    source = subscriber_module(folder, "hostile")
    with running(source, {"in": {"ticks": {"subscriber": url}}}) as service:
        assert raw_publisher.poll(5000)
        assert raw_publisher.recv() == b"\x01ticks"  # it has subscribed
        header = wire.HEADER.pack(b"p" * 8, 1)
        raw_publisher.send_multipart([b"ticks"])  # one frame
        raw_publisher.send_multipart([b"ticks", b"short", wire.pack({})])  # three frames
        raw_publisher.send_multipart([b"ticks" + header, b"\xc1 not msgpack"])
        raw_publisher.send_multipart(
            [b"ticks" + wire.HEADER.pack(b"p" * 8, 2), wire.pack({"symbol": 5, "price": "x"})]
        )
        raw_publisher.send_multipart(
            [b"ticks" + wire.HEADER.pack(b"p" * 8, 3), wire.pack({"symbol": "A"})]
        )
        raw_publisher.send_multipart(
            [b"ticks" + wire.HEADER.pack(b"p" * 8, 4), wire.pack({"symbol": "A", "price": 0.5})]
        )
        raw_publisher.send_multipart(
            [b"ticks" + wire.HEADER.pack(b"p" * 8, 5),
             wire.pack({"symbol": "A", "price": Decimal(-1)})]
        )  # fmt: skip
        raw_publisher.send_multipart(
            [b"ticks" + wire.HEADER.pack(b"p" * 8, 6),
             wire.pack({"symbol": "OK", "price": Decimal("1.5")})]
        )  # fmt: skip
        wait_for(lambda: source.heard, 10)
        ticks = connection(service, "ticks")
        assert source.heard == [{"symbol": "OK", "price": Decimal("1.5")}]
        assert ticks.errors == {"malformed": 3, "invalid": 3, "failed": 1}
        assert ticks.messages_in == 8
        assert ticks.gaps == 0
        assert service.state == "ready"


def test_a_slow_subscriber_counts_the_messages_it_missed(folder: Path, url: str) -> None:
    source = subscriber_module(folder, "slow")
    with running(source, {"in": {"ticks": {"subscriber": url}}}, {"delay": 0.002, "hwm": 5}) as svc:
        other = f"tcp://127.0.0.1:{free_port()}"
        with publisher(folder, url, other, {"wait": 1, "hwm": 5}) as runtime:
            for number in range(1, 3001):
                runtime.to_send("ticks", {"symbol": "S", "price": Decimal(number)})
            ticks = connection(svc, "ticks")

            def settled() -> bool:
                before = (ticks.messages_in, len(source.heard))
                time.sleep(0.3)
                return before == (ticks.messages_in, len(source.heard)) and before[0] > 0

            wait_for(settled, 20)
        last = max(ticks.tracker.last.values())
        assert len(source.heard) + ticks.gaps == last
        assert ticks.gaps > 0
        assert len(source.heard) < 3000
        prices = [int(m["price"]) for m in source.heard]
        assert prices == sorted(prices)
