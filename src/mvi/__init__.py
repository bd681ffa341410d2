"""mvi: turn a typed Python function into a production HTTP service.

``from mvi import service`` gives the default :class:`Service`; decorate functions with
``@service.entrypoint`` and call ``service.run()``.
"""

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
