"""Service links: small services wired into a graph by ZeroMQ connections (seed 004).

A link service is a Python file with ``config_model``, ``connection_models`` and plain
functions; see docs/links.md. This package runs it from the command line
(``mvi link``, ``python -m mvi.links``), as an object (:class:`LinkService`), or with
others in one thread (:class:`InlineServices`). It sits below serving and the manager and
imports neither.
"""

from __future__ import annotations

from mvi._exceptions import (
    InvalidMessage,
    LinkClosed,
    LinkDefinitionError,
    LinkError,
    LinkTimeout,
    ReplyError,
)
from mvi.links.curve import curve_keypair
from mvi.links.inline import InlineServices
from mvi.links.logs import get_logger
from mvi.links.service import LinkService

__all__ = [
    "InlineServices",
    "InvalidMessage",
    "LinkClosed",
    "LinkDefinitionError",
    "LinkError",
    "LinkService",
    "LinkTimeout",
    "ReplyError",
    "curve_keypair",
    "get_logger",
]
