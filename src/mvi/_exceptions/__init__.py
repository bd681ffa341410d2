"""The exceptions mvi raises, in one tree (defined by concern in the modules beside this one).

::

    MviError
    ├── InvalidRequest            raised by an entrypoint: the caller gets 400 and the message
    ├── ConfigurationError        a setting or a definition is wrong; fix the code or the env
    │   ├── EntrypointDefinitionError   (also TypeError) a function cannot become an entrypoint
    │   ├── ManagerNotConfigured  notify/call_service need MVI_MANAGER_URL
    │   └── ProjectError          a service project folder or its .s2i/environment is wrong
    │       └── GitSourceError    mvi deploy --git: the URL cannot be cloned or the ref is unknown
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
        ├── ForceRequired         409: killing the last version (or all) needs force=true
        ├── NotRunning            409: the version is not running, so it cannot take the traffic
        ├── PortTaken             409: the port a deploy asked for (--port) is in use
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

from mvi._exceptions.base import (
    BodyTooLarge,
    CallFailed,
    ClientDisconnected,
    ConfigurationError,
    EntrypointDefinitionError,
    GitSourceError,
    InvalidParameterValue,
    InvalidRequest,
    ManagerNotConfigured,
    MonitoringError,
    MonitoringUnavailable,
    MviError,
    Overloaded,
    ParameterError,
    ProjectError,
    RequestBodyError,
    ServiceCallError,
    ServingError,
    TooManyRecords,
    UnknownParameter,
    UnknownVariable,
)
from mvi._exceptions.links import (
    InvalidMessage,
    LinkClosed,
    LinkDefinitionError,
    LinkError,
    LinkTimeout,
    ReplyError,
)
from mvi._exceptions.manager import (
    ArchiveTooLarge,
    BuildFailed,
    ClusterUnavailable,
    CrossSiteRequest,
    DeployInProgress,
    ForceRequired,
    InvalidArchive,
    InvalidArgument,
    InvalidDeployment,
    InvalidManifest,
    InvalidTransition,
    ManagerError,
    ManagerStarting,
    ManagerUnreachable,
    NotAuthenticated,
    NotRunning,
    OperationRefused,
    PermissionDenied,
    PortTaken,
    RollbackConflict,
    RouteError,
    UnknownService,
    UnknownToken,
    UpstreamError,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnavailable,
    VersionConflict,
)
from mvi._exceptions.wire import (
    BadTensor,
    ChannelClosed,
    FrameError,
    FrameTooLarge,
    MalformedMessage,
    PipeClosed,
    PipeUnavailable,
    ProtocolError,
    RemoteError,
    RpcDisconnected,
    RpcUnavailable,
)

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
    "ForceRequired",
    "FrameError",
    "FrameTooLarge",
    "GitSourceError",
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
    "PortTaken",
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
