"""mvi: turn a typed Python function into a production HTTP service.

``from mvi import service`` gives the default :class:`Service`; decorate functions with
``@service.entrypoint`` and call ``service.run()``. The SDK's modules (``mvi.communication``,
``mvi.data_types``, ``mvi.exceptions``, ``mvi.testing``, ``mvi.utilities``) are attributes
too, imported on first use so that ``import mvi`` stays fast.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from mvi._exceptions import (
    ConfigurationError,
    EntrypointDefinitionError,
    InvalidParameterValue,
    InvalidRequest,
    ManagerNotConfigured,
    MviError,
    ParameterError,
    ServiceCallError,
    UnknownParameter,
    UnknownVariable,
)
from mvi._version import __version__
from mvi.serving.service import Service, default_service

service = default_service()
"""The default service of this process."""

_MODULES = frozenset({"communication", "data_types", "exceptions", "testing", "utilities"})


if TYPE_CHECKING:  # type checkers see the modules; a misspelt name stays an error
    from mvi import communication as communication
    from mvi import data_types as data_types
    from mvi import exceptions as exceptions
    from mvi import testing as testing
    from mvi import utilities as utilities
else:

    def __getattr__(name: str) -> ModuleType:
        """``mvi.utilities`` and the other SDK modules, imported when first asked for."""
        if name in _MODULES:
            return importlib.import_module(f"mvi.{name}")
        raise AttributeError(f"module 'mvi' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


__all__ = [
    "ConfigurationError",
    "EntrypointDefinitionError",
    "InvalidParameterValue",
    "InvalidRequest",
    "ManagerNotConfigured",
    "MviError",
    "ParameterError",
    "Service",
    "ServiceCallError",
    "UnknownParameter",
    "UnknownVariable",
    "__version__",
    "service",
]
