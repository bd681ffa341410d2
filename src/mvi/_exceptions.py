"""The exceptions mvi raises, in one tree.

::

    MviError
    ├── InvalidRequest            raised by an entrypoint: the caller gets 400 and the message
    ├── ConfigurationError        a setting or a definition is wrong; fix the code or the env
    │   ├── EntrypointDefinitionError   (also TypeError) a function cannot become an entrypoint
    │   └── ManagerNotConfigured  notify/call_service need MVI_MANAGER_URL
    ├── ParameterError
    │   ├── UnknownParameter      (also KeyError) no parameter of that name
    │   └── InvalidParameterValue (also ValueError) the value does not fit the parameter's type
    └── ServiceCallError          another service or the manager answered with an error
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigurationError",
    "EntrypointDefinitionError",
    "InvalidParameterValue",
    "InvalidRequest",
    "ManagerNotConfigured",
    "MviError",
    "ParameterError",
    "ServiceCallError",
    "UnknownParameter",
]


class MviError(Exception):
    """Base class of every error mvi raises on purpose."""


class InvalidRequest(MviError):
    """Raise inside an entrypoint to answer the caller with 400 and this message."""

    def __init__(self, message: str = "Invalid request") -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(MviError):
    """A setting or a definition is wrong; the message says which and how to fix it."""


class EntrypointDefinitionError(ConfigurationError, TypeError):
    """A function cannot be turned into an entrypoint (e.g. a type with no JSON schema)."""


class ManagerNotConfigured(ConfigurationError):
    """An operation needs a manager, and ``MVI_MANAGER_URL`` is not set."""


class ParameterError(MviError):
    """Base class of runtime-parameter errors."""


class UnknownParameter(ParameterError, KeyError):
    """No parameter has this name; add it first with ``service.add_parameter``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown parameter"


class InvalidParameterValue(ParameterError, ValueError):
    """The new value does not fit the type of the parameter's initial value."""

    def __init__(self, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class ServiceCallError(MviError):
    """A call to another service (or the manager) failed.

    ``status_code`` is the HTTP status (``None`` when no answer arrived) and ``detail`` the
    error the other side gave.
    """

    def __init__(self, message: str, status_code: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
