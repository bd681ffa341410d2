"""The settings a service process reads (the manager writes them into each version's
environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from mvi.settings._group import Group, comma_list

__all__ = ["ServiceSettings"]


class ServiceSettings(Group):
    """What a service process reads: where it listens, who it is, its monitoring store,
    its entrypoint engine (the manager writes these into each version's environment)."""

    # -- serving ---------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface the service listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port the service listens on.")
    workers: int = Field(1, ge=1, le=64, description="HTTP worker processes on one port.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="Log level of the service process."
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Largest request body accepted (413 beyond)."
    )
    graceful_timeout: int = Field(
        30, ge=1, description="Seconds in-flight requests get to finish on SIGTERM/SIGINT."
    )
    max_header_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest request line and headers (431 beyond)."
    )

    # -- identity, given by the manager ----------------------------------------------
    service_name: str = Field("service", description="Name of this service.")
    service_version: str = Field("0.0.0", description="Version of this service (semver).")
    service_root_path: str = Field(
        "", description="Path prefix the service is served under, e.g. /services/hello_1.0.0."
    )
    manager_url: str | None = Field(
        None,
        description="URL of the manager running this service (the CLI, too, talks to it "
        "instead of the host saved by `mvi login`).",
    )
    manager_hostname: str | None = Field(None, description="Hostname of that manager.")
    service_access_token: SecretStr | None = Field(
        None, description="Token this service presents to the manager and other services."
    )
    authorized_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated hosts (besides the manager's) that may receive the "
        "access token; a leading dot (.example.com) admits subdomains.",
    )
    call_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds notify() and call_service() wait for the manager or another "
        "service before giving up.",
    )

    # -- monitoring store -------------------------------------------------------------
    service_db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the monitoring database "
        "(default: SQLite file .mvi/monitoring.db in the working directory).",
    )
    service_db_table_limit: str = Field(
        "365days",
        description="Retention per variable: Nrows, Ndays, Nhours, Nminutes or Nseconds.",
    )
    monitor_queue_size: int = Field(
        100_000, ge=1, description="Monitoring records waiting to be written, at most."
    )
    monitor_queue_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1,
        description="Bytes of monitoring records waiting to be written, at most (beyond "
        "either limit, store() drops the call's values and logs a warning).",
    )
    monitor_flush_interval: float = Field(
        0.05,
        gt=0,
        le=60,
        description="Seconds a monitoring record waits in the queue at most before it is "
        "written: all that a killed (SIGKILL) process can lose.",
    )
    monitor_durable: bool = Field(
        True,
        description="Whether a monitor=True entrypoint answers only once its call's records "
        "are committed (group commit: one commit per batch of waiting calls); false: answer "
        "at once and write within MVI_MONITOR_FLUSH_INTERVAL (a killed process loses what "
        "was queued).",
    )
    monitor_db_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds to wait for a locked SQLite file or a database connection.",
    )
    monitor_close_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a graceful shutdown keeps trying to write queued monitoring "
        "records to an unreachable database before giving them up.",
    )
    monitor_max_rows: int = Field(
        1_000_000,
        ge=1,
        description="Most records one monitoring read (/~monitor) returns; beyond, the read "
        "is refused and should be narrowed with start, end or variables.",
    )

    # -- entrypoint engine: worker processes and the answer cache ---------------------
    worker_start_timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds an entrypoint's worker process has to import the service and "
        "load its model before startup fails.",
    )
    cache_url: str | None = Field(
        None,
        description="redis:// URL of the answer cache shared by all processes (default: an "
        "in-process LRU per process).",
    )
    cache_prefix: str = Field(
        "mvi", min_length=1, description="Prefix of every answer-cache key in Redis."
    )

    # -- service links (mvi.links) --------------------------------------------------------
    link_request_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds a link requester waits for a reply before it replaces its "
        "socket and sends the request again (the lazy-pirate way).",
    )
    link_request_retries: int = Field(
        2,
        ge=0,
        le=100,
        description="Times a link requester sends a request again after a timeout, before "
        "to_send raises LinkTimeout.",
    )
    link_linger: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Seconds a closing link socket may still spend sending queued messages.",
    )
    link_high_water_mark: int = Field(
        1000,
        ge=0,
        description="Messages a link socket queues per peer, at most (0: no limit); beyond, "
        "a publisher drops messages, and subscribers count the gaps.",
    )
    link_max_message_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1,
        description="Largest message a link socket accepts; a peer sending more is disconnected.",
    )
    link_subscriber_wait: float = Field(
        10.0,
        gt=0,
        description="Seconds an XPUB publisher with wait_for_subscribers waits for them "
        "before its first message.",
    )
    link_stop_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds stop_service() waits for a link service's thread to finish.",
    )
    link_http: bool = Field(
        False,
        description="A link service also answers /~health, /~ready and /~metrics over HTTP "
        "on MVI_HOST:MVI_PORT (under MVI_SERVICE_ROOT_PATH), as the manager expects.",
    )
    service_kind: Literal["http", "link"] | None = Field(
        None,
        description="What a deployed project's APP_FILE is (.s2i/environment): 'http' (an "
        "mvi Service) or 'link' (a link service file, run as python -m mvi.links); unset: "
        "detected, a module-level connection_models makes it a link service.",
    )
    link_addresses: str | None = Field(
        None,
        description="A deployed link service's addresses file (JSON), relative to the "
        "project (.s2i/environment); unset: addresses.json if the project has one.",
    )
    link_config: str | None = Field(
        None,
        description="A deployed link service's config file (JSON), relative to the "
        "project (.s2i/environment); unset: config.json if the project has one.",
    )
    link_main: bool = Field(
        False,
        description="Run a deployed link service in main mode (-m: its main(to_send, "
        "config)) rather than its service loop (.s2i/environment).",
    )

    # -- replicas: a version served by several processes, maybe on a cluster's nodes ---
    service_replica_secret: SecretStr | None = Field(
        None,
        description="Credential every request must carry in the x-mvi-replica-key header "
        "(403 otherwise, before any work); the manager sets it for replicas that listen on a "
        "cluster node's address, so that only its gateway reaches them.",
    )
    replica_cpus: float = Field(
        1.0, ge=0, description="CPUs each replica reserves on a Ray cluster (.s2i/environment)."
    )
    replica_memory_mb: int = Field(
        0, ge=0, description="MiB each replica reserves on a Ray cluster (0: none)."
    )

    # -- socket RPC and named pipes (mvi.transport) -------------------------------------
    rpc_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="service.run() also serves every entrypoint over the socket RPC on "
        "MVI_HOST:this port (0: any free port; unset: no RPC over TCP).",
    )
    rpc_path: str | None = Field(
        None,
        description="service.run() also serves every entrypoint over the socket RPC on "
        "this unix socket path (unset: no RPC over a unix socket).",
    )
    rpc_max_frame_bytes: int | None = Field(
        None,
        ge=64,
        description="Largest socket RPC or named-pipe frame accepted (default: "
        "max_body_bytes); a client refuses to send a bigger one, a server that gets one "
        "answers an error and closes that connection.",
    )
    rpc_backlog: int = Field(
        256,
        ge=1,
        description="Requests in progress on one socket RPC connection, at most; beyond, "
        "the server stops reading that connection until some finish.",
    )
    rpc_write_buffer_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Bytes of answers waiting to be sent on one socket RPC connection "
        "beyond which the server stops reading its requests and pauses its streams "
        "(a slow reader is back-pressured, never buffered without limit).",
    )

    @field_validator("authorized_domains", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        return comma_list(value)

    @field_validator("service_root_path")
    @classmethod
    def _normalise_root(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            value = "/" + value
        return value

    def monitoring_url(self) -> str:
        """The monitoring database URL, defaulting to a SQLite file under ``.mvi/``."""
        if self.service_db_url:
            return self.service_db_url
        path = Path.cwd() / ".mvi" / "monitoring.db"
        return f"sqlite:///{path}"
