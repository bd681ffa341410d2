"""Parameter updates shared by a service's processes: the hub's order, the replicas' rules.

The processes are stood in for by parameter sets in one process; the messages are the
real ones, over real socket pairs where the transport matters.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from mvi.sdk.parameters import Parameter, ParameterSet
from mvi.serving.processes.replication import ParameterHub, ParameterReplica, parameter_message
from mvi.transport.channel import Channel, MessageDecoder

DEFINITIONS: dict[str, Any] = {
    "threshold": 0.5,
    "phrase": "Hello",
    "limits": [1, 2],
    "since": datetime(2024, 1, 1, tzinfo=UTC),
    "anything": None,
}


def make_set() -> ParameterSet:
    parameters = ParameterSet()
    for name, value in DEFINITIONS.items():
        parameters.add(name, value)
    return parameters


class Cluster:
    """A hub and N replicas; updates wait in ``outbox`` until :meth:`deliver`."""

    def __init__(self, processes: int) -> None:
        self.hub_set = make_set()
        self.hub = ParameterHub(self.hub_set)
        self.sets = [make_set() for _ in range(processes)]
        self.outbox: list[dict[str, Any]] = []
        self.replicas: list[ParameterReplica] = []
        for parameters in self.sets:
            parameters.publish_to(
                lambda name, raw: self.outbox.append(parameter_message(name, raw))
            )
            left, right = Channel.pair()
            right.close()
            self.replicas.append(ParameterReplica(parameters, left, lambda: None))

    def deliver(self) -> None:
        while self.outbox:
            frame = self.hub.handle(self.outbox.pop(0))
            if frame is None:
                continue
            (message,) = MessageDecoder().feed(frame)
            for replica in self.replicas:
                replica.handle(message)

    def values(self, name: str) -> list[Any]:
        return [self.hub_set.get(name).value] + [p.get(name).value for p in self.sets]


@pytest.mark.parametrize(
    ("name", "update", "expected"),
    [
        ("threshold", "0.75", 0.75),
        ("phrase", "Hi", "Hi"),
        ("limits", (3, 4, 5), [3, 4, 5]),
        ("since", "2025-06-01T12:00:00Z", datetime(2025, 6, 1, 12, tzinfo=UTC)),
        ("anything", {"a": [1, None]}, {"a": [1, None]}),
    ],
)
def test_update_made_in_one_process_reaches_every_process_with_its_type(
    name: str, update: Any, expected: Any
) -> None:
    cluster = Cluster(3)
    cluster.sets[1].set(name, update)
    cluster.deliver()
    for value in cluster.values(name):
        assert value == expected
        assert type(value) is type(expected)


def test_simultaneous_updates_end_on_the_same_value_everywhere() -> None:
    cluster = Cluster(3)
    cluster.sets[0].set("phrase", "from zero")
    cluster.sets[2].set("phrase", "from two")  # before the hub has seen the first
    cluster.sets[1].set("threshold", 1.5)
    cluster.deliver()
    assert cluster.values("phrase") == ["from two"] * 4
    assert cluster.values("threshold") == [1.5] * 4


def test_replicated_update_is_not_published_again() -> None:
    cluster = Cluster(2)
    cluster.sets[0].set("phrase", "once")
    assert len(cluster.outbox) == 1
    cluster.deliver()
    assert cluster.outbox == []


def test_local_listeners_hear_local_updates_only_replicated_listeners_hear_all() -> None:
    cluster = Cluster(2)
    local: list[tuple[str, Any]] = []
    everywhere: list[tuple[str, Any]] = []
    receiver = cluster.sets[1]
    receiver.on_change(lambda p: local.append((p.name, p.value)))
    receiver.on_change(lambda p: everywhere.append((p.name, p.value)), replicated=True)
    cluster.sets[0].set("phrase", "remote")
    cluster.deliver()
    receiver.set("threshold", 2)
    cluster.deliver()
    assert local == [("threshold", 2.0)]
    assert everywhere == [("phrase", "remote"), ("threshold", 2.0), ("threshold", 2.0)]


@pytest.mark.parametrize(
    "message",
    [
        parameter_message("unknown", b"1"),
        parameter_message("threshold", b'"not a number"'),
        parameter_message("threshold", b"{broken"),
        {"type": "parameter", "name": 5, "value": "1"},
        {"type": "parameter", "name": "threshold"},
    ],
    ids=["unknown-name", "wrong-type", "bad-json", "name-not-str", "no-value"],
)
def test_hub_drops_a_bad_update_and_changes_nothing(
    message: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    hub_set = make_set()
    with caplog.at_level(logging.WARNING, "mvi.replication"):
        assert ParameterHub(hub_set).handle(message) is None
    assert hub_set.values() == make_set().values()
    assert "Ignored" in caplog.text


def test_update_of_a_value_without_json_form_stays_local_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Model:
        pass

    parameters = ParameterSet()
    parameters.add("model", Model())
    sent: list[str] = []
    parameters.publish_to(lambda name, raw: sent.append(name))
    replacement = Model()
    with caplog.at_level(logging.WARNING, "mvi.parameters"):
        parameters.set("model", replacement)
    assert parameters.get("model").value is replacement
    assert sent == []
    assert "cannot be shared between processes" in caplog.text


def test_failing_publisher_keeps_the_local_update(caplog: pytest.LogCaptureFixture) -> None:
    parameters = make_set()

    def broken(name: str, raw: bytes) -> None:
        raise ConnectionError("supervisor gone")

    parameters.publish_to(broken)
    with caplog.at_level(logging.ERROR, "mvi.parameters"):
        assert parameters.set("phrase", "kept") == "kept"
    assert parameters.get("phrase").value == "kept"
    assert "Could not send the update of parameter 'phrase'" in caplog.text


def test_replica_over_a_real_channel_publishes_applies_and_notices_the_end() -> None:
    parameters = make_set()
    hub_end, replica_end = Channel.pair()
    lost = threading.Event()
    ParameterReplica(parameters, replica_end, lost.set).start()

    parameters.set("phrase", "local")  # published to the hub's end
    (message,) = _read(hub_end)
    assert message == parameter_message("phrase", b'"local"')

    heard: list[Parameter] = []
    parameters.on_change(heard.append, replicated=True)
    hub_end.send(parameter_message("threshold", b"0.9"))
    deadline = time.monotonic() + 5
    while parameters.get("threshold").value != 0.9:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert [p.name for p in heard] == ["threshold"]

    hub_end.close()
    assert lost.wait(5)
    parameters.set("phrase", "after the end")  # no publisher any more: stays local, no error
    assert parameters.get("phrase").value == "after the end"


def _read(channel: Channel) -> list[dict[str, Any]]:
    channel.sock.settimeout(5)
    messages: list[dict[str, Any]] = []
    while not messages:
        messages = channel.receive_available()
    return messages
