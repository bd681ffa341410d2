"""The connections of a running link service, one module per connection type."""

from __future__ import annotations

from mvi.links.connections.base import Connection, Host, Inbound, Outbound
from mvi.links.connections.external import ExternalTarget, resolve_target
from mvi.links.connections.inline import InlinePublisher, InlineRequester
from mvi.links.connections.publisher import Publisher
from mvi.links.connections.replyer import Replyer
from mvi.links.connections.requester import Requester
from mvi.links.connections.subscriber import SequenceTracker, Subscriber

__all__ = [
    "CONNECTION_CLASSES",
    "Connection",
    "ExternalTarget",
    "Host",
    "Inbound",
    "InlinePublisher",
    "InlineRequester",
    "Outbound",
    "Publisher",
    "Replyer",
    "Requester",
    "SequenceTracker",
    "Subscriber",
    "resolve_target",
]

CONNECTION_CLASSES: dict[str, type[Connection]] = {
    "replyer": Replyer,
    "subscriber": Subscriber,
    "requester": Requester,
    "publisher": Publisher,
    "external_target": ExternalTarget,
}
"""The class of each connection type."""
