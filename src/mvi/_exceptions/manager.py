"""The errors of the manager: the gateway, supervision, and the operations it refuses."""

from __future__ import annotations

from collections.abc import Iterable

from mvi._exceptions.base import MviError

__all__ = [
    "ArchiveTooLarge",
    "BuildFailed",
    "ClusterUnavailable",
    "CrossSiteRequest",
    "DeployInProgress",
    "ForceRequired",
    "InvalidArchive",
    "InvalidArgument",
    "InvalidDeployment",
    "InvalidManifest",
    "InvalidTransition",
    "ManagerError",
    "ManagerStarting",
    "ManagerUnreachable",
    "NotAuthenticated",
    "NotRunning",
    "OperationRefused",
    "PermissionDenied",
    "PortTaken",
    "RollbackConflict",
    "RouteError",
    "UnknownService",
    "UnknownToken",
    "UpstreamError",
    "UpstreamRefused",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "VersionConflict",
]


class RouteError(MviError):
    """A request the gateway cannot forward: ``status`` and ``detail`` for the caller."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class InvalidTransition(MviError, RuntimeError):
    """A status change the supervision state machine does not allow (a bug in the caller)."""


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


class ForceRequired(ManagerError):
    """The operation removes the last version of a name (or every version): the request
    must say ``force`` (``?force=true``; ``mvi kill ... --yes``)."""

    status_code = 409


class PortTaken(ManagerError):
    """The port a deploy asked for (``mvi deploy --port``) is held by another version or
    process; choose another port, or stop what holds it."""

    status_code = 409


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
