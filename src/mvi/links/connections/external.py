"""``external_target``: ``to_send(name, args)`` calls a Python callable with checked arguments.

``target`` is the callable itself, or its dotted name: looked up in the service file first
(``'CbproClient.cancel_order'``), then imported (``'package.module.function'``). It is
called with the checked arguments, and with the connection arguments the model declares,
as keyword arguments; its answer is checked against the return model when there is one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from mvi.links.connections.base import Outbound

__all__ = ["ExternalTarget", "resolve_target"]


def resolve_target(module: ModuleType, target: Any) -> Callable[..., Any]:
    """The callable ``target`` names; ``ValueError`` saying why there is none."""
    if callable(target):
        return target  # type: ignore[no-any-return]
    if not isinstance(target, str) or not target:
        raise ValueError(f"target {target!r} is neither a callable nor a dotted name")
    parts = target.split(".")
    found: Any = module
    for index, part in enumerate(parts):
        found = getattr(found, part, None)
        if found is None:
            break
        if index == len(parts) - 1 and callable(found):
            return found  # type: ignore[no-any-return]
    for split in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            found = getattr(found, part, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    raise ValueError(f"target {target!r} is not a callable of the service file or a module")


class ExternalTarget(Outbound):
    """An outbound call of a Python callable, with the same checks as a message."""

    def open(self) -> None:
        """Find the callable (no socket)."""
        self.target = resolve_target(self.host.module, self.model.creation["target"])

    def send(self, args: Any) -> Any:
        """Call the target; its checked answer."""
        self.host.check_running()
        checked = self.model.arguments.validate(args)
        self.messages_out += 1
        try:
            answer = self.target(**checked, **self.arguments)
        except Exception:
            self.count_error("failed")
            raise
        self.messages_in += 1
        if self.model.returns is not None:
            answer = self.model.returns.validate(answer)
        return answer
