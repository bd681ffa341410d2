"""The errors of the SDK and the serving runtime: the root, bad requests and definitions,
parameters, monitoring, serving, and calls of other services."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BodyTooLarge",
    "CallFailed",
    "ClientDisconnected",
    "ConfigurationError",
    "EntrypointDefinitionError",
    "GitSourceError",
    "InvalidParameterValue",
    "InvalidRequest",
    "ManagerNotConfigured",
    "MonitoringError",
    "MonitoringUnavailable",
    "MviError",
    "Overloaded",
    "ParameterError",
    "ProjectError",
    "RequestBodyError",
    "ServiceCallError",
    "ServingError",
    "TooManyRecords",
    "UnknownParameter",
    "UnknownVariable",
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


class ProjectError(ConfigurationError):
    """A service project (its folder, ``.s2i/environment`` or ``APP_FILE``) is wrong or missing.

    The message names the file (and line) and says how to fix it.
    """


class GitSourceError(ProjectError):
    """``mvi deploy --git``: git cannot clone the URL, or the ref names no commit there.

    The message quotes git and says what to check (the URL, the ref, git's credentials).
    """


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


class UnknownVariable(MviError, KeyError):
    """No monitoring data is stored under this variable name; ``store()`` it first."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown variable"


class MonitoringError(MviError):
    """The monitoring store cannot answer this read."""


class MonitoringUnavailable(MonitoringError):
    """The monitoring database cannot be reached, or the store is closed; check
    ``MVI_SERVICE_DB_URL`` and that the database is running."""


class TooManyRecords(MonitoringError, ValueError):
    """A monitoring read matches more records than ``MVI_MONITOR_MAX_ROWS``; narrow it with
    ``start``, ``end`` or ``variables``."""


class ServingError(MviError):
    """The service cannot be served: its port cannot be bound, or its HTTP processes keep
    failing to start. The message says which; the log has each process's error."""


class CallFailed(MviError):
    """A call of an entrypoint ended in an error answer: ``status``, ``detail`` (the JSON
    ``detail`` of the answer), ``headers`` and, for a 500, the ``error_id`` of its log line."""

    def __init__(
        self,
        status: int,
        detail: Any,
        headers: list[tuple[str, str]] | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.headers = headers or []
        self.error_id = error_id


class Overloaded(CallFailed):
    """The call could not run now (queue full, worker lost): 503 with ``Retry-After``;
    the caller should try again after ``retry_after`` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(503, detail, [("retry-after", str(retry_after))])
        self.retry_after = retry_after


class RequestBodyError(MviError):
    """A request body could not be read whole."""


class BodyTooLarge(RequestBodyError):
    """The request body is over ``MVI_MAX_BODY_BYTES``: the caller gets 413."""


class ClientDisconnected(RequestBodyError):
    """The client went away before its request body was complete."""


class ServiceCallError(MviError):
    """A call to another service (or the manager) failed.

    ``status_code`` is the HTTP status (``None`` when no answer arrived) and ``detail`` the
    error the other side gave.
    """

    def __init__(self, message: str, status_code: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
