"""The exceptions mvi raises, in one tree.

::

    MviError
    ├── InvalidRequest            raised by an entrypoint: the caller gets 400 and the message
    ├── ConfigurationError        a setting or a definition is wrong; fix the code or the env
    │   ├── EntrypointDefinitionError   (also TypeError) a function cannot become an entrypoint
    │   ├── ManagerNotConfigured  notify/call_service need MVI_MANAGER_URL
    │   └── ProjectError          a service project folder or its .s2i/environment is wrong
    ├── ParameterError
    │   ├── UnknownParameter      (also KeyError) no parameter of that name
    │   └── InvalidParameterValue (also ValueError) the value does not fit the parameter's type
    ├── UnknownVariable           (also KeyError) no monitoring data is stored under that name
    ├── MonitoringError           the monitoring store cannot answer
    │   ├── MonitoringUnavailable the monitoring database cannot be reached (or is closed)
    │   └── TooManyRecords        (also ValueError) a read matches more records than allowed
    ├── ServingError              the service cannot be served (address taken, processes failing)
    ├── CallFailed                a call ends in an error answer (status, detail, headers)
    │   └── Overloaded            503 with Retry-After: queue full, worker lost
    ├── ProtocolError             (also ValueError) bytes from a peer that are not a message
    │   ├── FrameError            not a frame of the binary framing (transport)
    │   │   └── FrameTooLarge     a frame over the receiver's limit (MVI_RPC_MAX_FRAME_BYTES)
    │   ├── MalformedMessage      not a framed JSON message of a channel (transport)
    │   └── BadTensor             not a well-formed .npy or msgpack array body
    ├── ChannelClosed             (also ConnectionError) the other end of a channel is gone
    │   ├── RpcDisconnected       the socket RPC connection closed before the answer came
    │   └── PipeClosed            the other process closed its end of a named pipe
    ├── RpcUnavailable            (also ConnectionError) no socket RPC server answered in time
    ├── RemoteError               a socket RPC route failed: category, type_name, message, detail
    ├── PipeUnavailable           (also OSError) a pipe path is not a FIFO, or is another's
    ├── RequestBodyError          a request body could not be read whole
    │   ├── BodyTooLarge          over MVI_MAX_BODY_BYTES: the caller gets 413
    │   └── ClientDisconnected    the client went away before its body arrived
    ├── ServiceCallError          another service or the manager answered with an error
    ├── RouteError                the gateway cannot forward a request (status, detail)
    ├── InvalidTransition         (also RuntimeError) a status change the supervision forbids
    ├── LinkError                 a service link (mvi.links) failed; the message names the link
    │   ├── LinkDefinitionError   (also ConfigurationError) service file, config, addresses or
    │   │                         connection arguments are wrong: every problem, listed at once
    │   ├── InvalidMessage        (also ValueError) arguments or a reply do not fit the connection's
    │   │                         model (the connection and each field are named)
    │   ├── LinkTimeout           (also TimeoutError) a requester got no reply, retries included
    │   ├── ReplyError            the replyer answered with an error (kind, message, errors)
    │   └── LinkClosed            the service is stopping or stopped: to_send no longer works
    ├── UpstreamError             the gateway's request to a service version failed
    │   ├── UpstreamUnavailable   refused, closed or not HTTP: the caller gets 502
    │   │   └── UpstreamRefused   refused or reset before any byte of the answer: another
    │   │                         replica may be tried
    │   └── UpstreamTimeout       no connection or answer in time: the caller gets 504
    └── ManagerError              the manager refused or failed an operation (status_code)
        ├── InvalidDeployment     422: bad name, version, APP_FILE or .s2i/environment
        ├── BuildFailed           422: installing the requirements failed (installer's lines)
        ├── InvalidArchive        400: not a gzip tar, or an unsafe member
        ├── ArchiveTooLarge       413: the upload or what it unpacks to is over a limit
        ├── InvalidArgument       422: a query parameter or body field out of range or missing
        ├── VersionConflict       409: that name and version are deployed (use --replace)
        │   └── DeployInProgress  409: that version is being deployed right now; wait for it
        ├── NotRunning            409: the version is not running, so it cannot take the traffic
        ├── RollbackConflict      409: no previous main to return to, or the main just changed
        ├── UnknownService        404: no such service or version
        ├── UnknownToken          404: no issued token has that id
        ├── OperationRefused      403: e.g. killing the main while other versions exist
        ├── NotAuthenticated      401: no token, or one that is expired, revoked or forged
        ├── PermissionDenied      403: the token may not do this (e.g. a service token)
        ├── CrossSiteRequest      403: a change made with the login cookie lacks its CSRF
        │                              token or comes from another origin
        ├── ManagerStarting       503: the manager is not ready yet; try again in a moment
        ├── ClusterUnavailable    503: the Ray runtime is not installed or cannot be reached
        ├── InvalidManifest       422: an exported Kubernetes manifest fails its validation
        └── ManagerUnreachable    the CLI cannot connect to the manager
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "ArchiveTooLarge",
    "BadTensor",
    "BodyTooLarge",
    "BuildFailed",
    "CallFailed",
    "ChannelClosed",
    "ClientDisconnected",
    "ClusterUnavailable",
    "ConfigurationError",
    "CrossSiteRequest",
    "DeployInProgress",
    "EntrypointDefinitionError",
    "FrameError",
    "FrameTooLarge",
    "InvalidArchive",
    "InvalidArgument",
    "InvalidDeployment",
    "InvalidManifest",
    "InvalidMessage",
    "InvalidParameterValue",
    "InvalidRequest",
    "InvalidTransition",
    "LinkClosed",
    "LinkDefinitionError",
    "LinkError",
    "LinkTimeout",
    "MalformedMessage",
    "ManagerError",
    "ManagerNotConfigured",
    "ManagerStarting",
    "ManagerUnreachable",
    "MonitoringError",
    "MonitoringUnavailable",
    "MviError",
    "NotAuthenticated",
    "NotRunning",
    "OperationRefused",
    "Overloaded",
    "ParameterError",
    "PermissionDenied",
    "PipeClosed",
    "PipeUnavailable",
    "ProjectError",
    "ProtocolError",
    "RemoteError",
    "ReplyError",
    "RequestBodyError",
    "RollbackConflict",
    "RouteError",
    "RpcDisconnected",
    "RpcUnavailable",
    "ServiceCallError",
    "ServingError",
    "TooManyRecords",
    "UnknownParameter",
    "UnknownService",
    "UnknownToken",
    "UnknownVariable",
    "UpstreamError",
    "UpstreamRefused",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "VersionConflict",
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


class ProtocolError(MviError, ValueError):
    """Bytes from a peer that are not a well-formed message (a bug or an attack on the
    other side): the message is refused, the connection may be closed, the process goes on."""


class FrameError(ProtocolError):
    """Bytes on a socket that are not a frame of mvi's binary framing."""


class FrameTooLarge(FrameError):
    """A frame over the receiver's limit (``MVI_RPC_MAX_FRAME_BYTES``, by default
    ``MVI_MAX_BODY_BYTES``): send less per request, or raise the limit on both sides."""


class MalformedMessage(ProtocolError):
    """The bytes on a channel are not a framed JSON object."""


class BadTensor(ProtocolError):
    """A binary body that is not a well-formed array (the message says what is wrong)."""


class ChannelClosed(MviError, ConnectionError):
    """The other end of a channel is gone."""


class RpcDisconnected(ChannelClosed):
    """The socket RPC connection closed (the server stopped, crashed or dropped it) before
    the answer came; the request may or may not have run. Connect again once the server is
    back (a new client waits for it up to ``connection_timeout``)."""


class PipeClosed(ChannelClosed):
    """The other process closed its end of the named pipe (or exited); make a new
    ``pipe.Server``/``pipe.Client`` pair to talk again."""


class RpcUnavailable(MviError, ConnectionError):
    """No socket RPC server accepted a connection at the address within
    ``connection_timeout`` seconds; start the server, or check its path or host and port."""


class RemoteError(MviError):
    """A socket RPC route failed on the server, or refused the request.

    ``category`` says how (``internal``, ``invalid_input``, ``invalid_request``,
    ``not_found``, ``overload``, ``timeout``, ``unavailable``, ``too_large``,
    ``protocol``), ``type_name`` and ``message`` are the server-side exception's,
    ``detail`` any data the route attached (e.g. validation errors), ``error_id`` the id of
    the server's log line for an ``internal`` error. :attr:`status` is the HTTP status of
    the same error. A route may also raise or return one to answer with exactly this error.
    """

    def __init__(
        self,
        category: str,
        type_name: str,
        message: str,
        detail: Any = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.category = category
        self.type_name = type_name
        self.message = message
        self.detail = detail
        self.error_id = error_id

    @property
    def status(self) -> int:
        """The HTTP status of this error's category (500 for an unknown one)."""
        return _CATEGORY_STATUS.get(self.category, 500)


_CATEGORY_STATUS = {
    "internal": 500,
    "invalid_input": 422,
    "invalid_request": 400,
    "not_found": 404,
    "overload": 503,
    "protocol": 400,
    "timeout": 504,
    "too_large": 413,
    "unavailable": 503,
}


class PipeUnavailable(MviError, OSError):
    """A named pipe cannot be opened: its path is taken by something that is not a FIFO,
    another live process holds that end of the pipe, or no peer came in time. The message
    says which; remove the file, or pick another path."""


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


class RouteError(MviError):
    """A request the gateway cannot forward: ``status`` and ``detail`` for the caller."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class InvalidTransition(MviError, RuntimeError):
    """A status change the supervision state machine does not allow (a bug in the caller)."""


class LinkError(MviError):
    """A service link of :mod:`mvi.links` failed; the message names the connection."""


class LinkDefinitionError(LinkError, ConfigurationError):
    """A link service cannot start: its service file, config, addresses or connection
    arguments are wrong. ``problems`` lists every one (the message, too, one per line)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class InvalidMessage(LinkError, ValueError):
    """Arguments or a reply that do not fit a connection's model.

    ``connection`` names the connection and ``errors`` holds ``(field, message)`` pairs;
    fix the sender, or the model of the connection.
    """

    def __init__(self, message: str, connection: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.connection = connection
        self.errors = errors


class LinkTimeout(LinkError, TimeoutError):
    """A requester got no reply in time, after its retries (each one on a fresh socket);
    check that the replyer runs at the address, or raise ``timeout``/``retries``."""


class ReplyError(LinkError):
    """The replyer answered a request with an error: ``kind`` is ``malformed`` (not a
    message), ``invalid`` (it does not fit the replyer's model: ``errors``) or ``failed``
    (its handler raised, or its answer did not fit its own model; ``error_id`` is in its
    log)."""

    def __init__(
        self,
        message: str,
        kind: str,
        errors: list[tuple[str, str]] | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.errors = errors or []
        self.error_id = error_id


class LinkClosed(LinkError):
    """The link service is stopping or has stopped; ``to_send`` works no more."""


class UpstreamError(MviError):
    """The manager's gateway could not get a whole answer from a service version; the
    gateway answers its caller 502 or 504 saying which version, and where its log is."""


class UpstreamUnavailable(UpstreamError):
    """The service refused the connection, closed it, or sent something that is not HTTP;
    see ``mvi ls`` and ``mvi logs NAME VERSION``."""


class UpstreamRefused(UpstreamUnavailable):
    """The service refused the connection, or closed or reset it before a single byte of
    its answer: nothing of the answer reached the gateway, so it may try another replica."""


class UpstreamTimeout(UpstreamError):
    """The service did not connect, answer or go on answering in time
    (``MVI_MANAGER_GATEWAY_TIMEOUT``, ``MVI_MANAGER_SHADOW_TIMEOUT``)."""


class ManagerError(MviError):
    """The manager refused or failed an operation; ``status_code`` is its HTTP status."""

    status_code = 500

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class InvalidDeployment(ManagerError):
    """A deploy names a bad service name or version, or its project is incomplete."""

    status_code = 422


class BuildFailed(ManagerError):
    """Installing a service's requirements failed; ``lines`` holds the installer's output.

    Fix requirements.txt (the lines say which requirement) and deploy again.
    """

    status_code = 422

    def __init__(self, message: str, lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.lines = lines or []


class InvalidArchive(ManagerError):
    """A deploy archive is not a gzip tar, or holds a member that could escape its folder."""

    status_code = 400


class ArchiveTooLarge(ManagerError):
    """A deploy upload, or what it unpacks to, is over the manager's limit."""

    status_code = 413


class InvalidArgument(ManagerError):
    """A query parameter or body field is out of range, malformed or missing (the message
    names it and what it accepts)."""

    status_code = 422


class VersionConflict(ManagerError):
    """That name and version are already deployed; deploy with ``--replace`` to replace it."""

    status_code = 409


class DeployInProgress(VersionConflict):
    """That version is being deployed right now: wait for its deploy to end, then try again."""


class NotRunning(ManagerError):
    """The version is not running, so it cannot take the main's traffic; start it first
    (``mvi start NAME VERSION``)."""

    status_code = 409


class RollbackConflict(ManagerError):
    """A rollback has nowhere to go (no earlier main is still deployed), or the main changed
    while it was being planned; ``mvi ls NAME`` shows the versions."""

    status_code = 409


class UnknownService(ManagerError):
    """No service (or version) of that name is deployed; ``mvi ls`` lists what is.

    :meth:`lookup` makes the one message for both cases.
    """

    status_code = 404

    @staticmethod
    def describe(name: str, version: str | None = None, deployed: Iterable[str] = ()) -> str:
        """What is missing, without advice: no version of ``name`` is deployed, or (when
        ``deployed`` names its versions) ``version`` is not one of them."""
        known = ", ".join(deployed)
        if not known:
            return f"No service named {name!r} is deployed"
        return f"Service {name!r} has no version {version!r}; deployed: {known}"

    @classmethod
    def lookup(
        cls, name: str, version: str | None = None, deployed: Iterable[str] = ()
    ) -> UnknownService:
        """The error for ``name`` with nothing deployed, or for ``version`` of it when
        ``deployed`` lists the versions that are."""
        known = list(deployed)
        message = cls.describe(name, version, known)
        return cls(message if known else f"{message}; see `mvi ls`")


class UnknownToken(ManagerError):
    """No token issued by this manager has that id; ``mvi token ls`` lists them."""

    status_code = 404


class OperationRefused(ManagerError):
    """The operation would break an invariant, e.g. killing the main while others exist."""

    status_code = 403


class NotAuthenticated(ManagerError):
    """The request carries no valid token: none, or one that is expired, revoked, signed
    with another secret or unsigned. Log in again with ``mvi login HOST``."""

    status_code = 401


class PermissionDenied(ManagerError):
    """The token is valid but may not do this, e.g. a service's token on a management route."""

    status_code = 403


class CrossSiteRequest(ManagerError):
    """A change authenticated by the login cookie came from another origin or without the
    session's CSRF token (``X-CSRF-Token``); send both, or use ``Authorization: Bearer``."""

    status_code = 403


class ManagerStarting(ManagerError):
    """The manager is still starting (its registry is not open yet); try again in a moment."""

    status_code = 503


class ClusterUnavailable(ManagerError):
    """The Ray runtime is not installed (``pip install 'mvi[ray]'``) or its cluster cannot be
    reached; check ``--ray-address`` and the token (``MVI_MANAGER_RAY_AUTH_TOKEN``)."""

    status_code = 503


class InvalidManifest(ManagerError):
    """An exported Kubernetes manifest fails its validation (the message says which field
    and why); it is a bug of the export, please report it with the version's config."""

    status_code = 422


class ManagerUnreachable(ManagerError):
    """The CLI could not connect to the manager; start it, or ``mvi login`` another host."""

    status_code = 503
