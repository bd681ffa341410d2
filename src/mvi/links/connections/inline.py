"""Inline relations: an out connection wired straight to another service's in connection.

No socket and no wire: ``to_send`` checks the arguments against the requester's (or
publisher's) model, the replyer (subscriber) checks them against its own, calls its
handler in the same thread, and the answer is checked on both sides again, exactly as
over the network; errors are the same exceptions a networked requester raises.
"""

from __future__ import annotations

from typing import Any

from mvi._exceptions import InvalidMessage
from mvi.links.connections.base import Host, Outbound
from mvi.links.connections.replyer import Replyer
from mvi.links.connections.subscriber import Subscriber
from mvi.links.models.definition import ConnectionModel

__all__ = ["InlinePublisher", "InlineRequester"]


class InlineRequester(Outbound):
    """A requester whose replyer runs in the same thread."""

    def __init__(
        self, model: ConnectionModel, arguments: dict[str, Any], host: Host, target: Replyer
    ) -> None:
        super().__init__(model, arguments, [], host)
        self.target = target

    def open(self) -> None:
        """Nothing to open."""

    def send(self, args: Any) -> Any:
        """The replyer's checked answer."""
        self.host.check_running()
        checked = self.model.arguments.validate(args)
        self.messages_out += 1
        answer = self.target.answer_inline(checked)
        self.messages_in += 1
        if self.model.returns is None:
            return answer
        try:
            return self.model.returns.validate(answer)
        except InvalidMessage:
            self.count_error("invalid_reply")
            raise


class InlinePublisher(Outbound):
    """A publisher whose subscribers run in the same thread."""

    def __init__(
        self,
        model: ConnectionModel,
        arguments: dict[str, Any],
        host: Host,
        targets: list[Subscriber],
    ) -> None:
        super().__init__(model, arguments, [], host)
        self.targets = targets

    def open(self) -> None:
        """Nothing to open."""

    def send(self, args: Any) -> None:
        """Deliver the checked arguments to each subscriber."""
        self.host.check_running()
        checked = self.model.arguments.validate(args)
        self.messages_out += 1
        for target in self.targets:
            target.messages_in += 1
            target.deliver(checked)
