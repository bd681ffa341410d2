"""CURVE: encrypted, authenticated TCP links."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import free_port, wait_for
from tests.integration.links._helpers import FAST, client, module, running

from mvi.links import LinkService, LinkTimeout, curve_keypair

SERVER_PUBLIC, SERVER_SECRET = curve_keypair()
CLIENT_PUBLIC, CLIENT_SECRET = curve_keypair()
STRANGER_PUBLIC, STRANGER_SECRET = curve_keypair()

REPLYER = """
def on_ping(args, to_send, config):
    return {"pong": args["ping"]}

def setup_connections(config):
    keys = {"curve_secret_key": config["secret"]}
    if config.get("clients") is not None:
        keys["curve_authorized_keys"] = config["clients"]
    return {"ping": keys}

config_model = {"required": {"secret": str}, "optional": {"clients": [str]}}

connection_models = {
    "in": {
        "ping": {
            "connection_type": "replyer",
            "required_creation_arguments": {"connection_function": on_ping},
            "required_arguments": {"ping": int},
            "required_return_arguments": {"pong": int},
        }
    }
}
"""

REQUESTER = """
def setup_connections(config):
    return {"ping": config.get("keys", {})}

config_model = {"optional": {"keys": {str: str}}}

connection_models = {
    "out": {
        "ping": {
            "connection_type": "requester",
            "required_arguments": {"ping": int},
            "required_return_arguments": {"pong": int},
        }
    }
}
"""

QUICK = FAST.model_copy(update={"link_request_retries": 0})


@pytest.fixture(scope="module", params=["authorized", "any"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    url = f"tcp://127.0.0.1:{free_port()}"
    config: dict[str, Any] = {"secret": SERVER_SECRET}
    if request.param == "authorized":
        config["clients"] = [CLIENT_PUBLIC]
    source = module(tmp_path_factory.mktemp("curve"), "curve_replyer", REPLYER)
    with running(source, {"in": {"ping": {"replyer": url}}}, config):
        yield url, request.param


def ping(folder: Path, url: str, keys: dict[str, str], wait: float = 0.0) -> Any:
    """The reply to one ping, sent ``wait`` seconds after the requester's socket opened."""
    source = module(folder, f"curve_requester_{free_port()}", REQUESTER)
    with client(source, {"out": {"ping": {"requester": url}}}, {"keys": keys}, QUICK) as runtime:
        time.sleep(wait)
        return runtime.to_send("ping", {"ping": 7})


def test_a_client_with_the_servers_key_gets_through(
    server: tuple[str, str], tmp_path: Path
) -> None:
    keys = {"curve_server_key": SERVER_PUBLIC, "curve_secret_key": CLIENT_SECRET}
    assert ping(tmp_path, server[0], keys) == {"pong": 7}


# A refused handshake ends the connection: one finished before the request is sent (as
# on a loaded machine) leaves a REQ socket with nowhere to send, which must time out too.
@pytest.mark.parametrize(
    "wait", [0.0, 0.1, 0.5], ids=["sent-at-once", "sent-after-0.1s", "sent-after-0.5s"]
)
def test_a_throwaway_client_key_gets_through_only_without_an_allow_list(
    server: tuple[str, str], tmp_path: Path, wait: float
) -> None:
    keys = {"curve_server_key": SERVER_PUBLIC}
    if server[1] == "any":
        assert ping(tmp_path, server[0], keys, wait) == {"pong": 7}
    else:
        with pytest.raises(LinkTimeout):
            ping(tmp_path, server[0], keys, wait)


@pytest.mark.parametrize(
    "keys",
    [
        {"curve_server_key": STRANGER_PUBLIC, "curve_secret_key": CLIENT_SECRET},
        {},
    ],
    ids=["wrong-server-key", "no-curve"],
)
def test_a_client_without_the_right_keys_never_gets_a_reply(
    server: tuple[str, str], tmp_path: Path, keys: dict[str, str]
) -> None:
    with pytest.raises(LinkTimeout):
        ping(tmp_path, server[0], keys)


def test_an_unauthorized_client_key_is_refused(server: tuple[str, str], tmp_path: Path) -> None:
    keys = {"curve_server_key": SERVER_PUBLIC, "curve_secret_key": STRANGER_SECRET}
    if server[1] == "any":
        assert ping(tmp_path, server[0], keys) == {"pong": 7}
    else:
        with pytest.raises(LinkTimeout):
            ping(tmp_path, server[0], keys)


def test_a_malformed_key_stops_the_start(tmp_path: Path) -> None:
    source = module(tmp_path, "bad_key", REPLYER)
    service = LinkService(
        service_module=source,
        config={"secret": "too short"},
        addresses={"in": {"ping": {"replyer": f"tcp://127.0.0.1:{free_port()}"}}},
        settings=FAST,
        configure_logs=False,
    )
    with pytest.raises(Exception, match="40-character Z85"):
        service.run_service()


PUBLISHER = """
def setup_connections(config):
    return {"news": {"curve_secret_key": config["secret"], "wait_for_subscribers": 1}}

config_model = {"required": {"secret": str}}

connection_models = {
    "out": {
        "news": {
            "connection_type": "publisher",
            "optional_creation_arguments": {"is_x_pub": True},
            "required_arguments": {"text": str},
        }
    }
}
"""

SUBSCRIBER = """
HEARD = []

def on_news(args, to_send, config):
    HEARD.append(args["text"])

def setup_connections(config):
    return {"news": {"curve_server_key": config["server"]}}

config_model = {"required": {"server": str}}

connection_models = {
    "in": {
        "news": {
            "connection_type": "subscriber",
            "required_creation_arguments": {"connection_function": on_news},
            "required_arguments": {"text": str},
        }
    }
}
"""


def test_publish_subscribe_over_curve(tmp_path: Path) -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    listener = module(tmp_path, "curve_subscriber", SUBSCRIBER)
    with running(listener, {"in": {"news": {"subscriber": url}}}, {"server": SERVER_PUBLIC}):
        source = module(tmp_path, "curve_publisher", PUBLISHER)
        addresses = {"out": {"news": {"publisher": url}}}
        with client(source, addresses, {"secret": SERVER_SECRET}) as runtime:
            runtime.to_send("news", {"text": "sealed"})
            wait_for(lambda: listener.HEARD, 10)
    assert listener.HEARD == ["sealed"]
