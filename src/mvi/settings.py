"""Every ``MVI_*`` environment variable, declared and documented once.

The manager starts each service with these variables set; a standalone service falls back
to the defaults below. Read them through :func:`get_settings`, never through ``os.environ``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mvi._exceptions import ConfigurationError

__all__ = [
    "CLISettings",
    "ManagerSettings",
    "ServiceSettings",
    "Settings",
    "current_service_settings",
    "get_settings",
    "reload_settings",
]

_CONFIG = SettingsConfigDict(env_prefix="MVI_", extra="ignore", frozen=True)


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _environ_text(value: Any) -> str:
    """How a setting's value is written in an environment variable (read back the same)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


class _Group(BaseSettings):
    """What every group of settings shares: the ``MVI_`` prefix, and writing values back
    as environment variables for a child process."""

    model_config = _CONFIG

    @classmethod
    def environ(cls, **values: Any) -> dict[str, str]:
        """``MVI_*`` variables that give a child process these field values.

        Keys are field names (``port=8001`` gives ``MVI_PORT``); ``None`` values are left
        out. Raises :class:`mvi.ConfigurationError` for a name that is not a field here.
        """
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ConfigurationError(
                f"{cls.__name__} has no setting named {', '.join(unknown)}; "
                "see mvi.settings for the names"
            )
        return {
            f"MVI_{name.upper()}": _environ_text(value)
            for name, value in values.items()
            if value is not None
        }


class ServiceSettings(_Group):
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
        return _comma_list(value)

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


class ManagerSettings(_Group):
    """What ``mvi manager start`` reads: its data directory, limits and timeouts,
    supervision, the gateway and shadows, auth, notifications and email."""

    # -- the manager and the processes it supervises -------------------------------------
    home: Path = Field(
        default_factory=lambda: Path.home() / ".mvi",
        description="Data directory of the manager: registry, service sources, "
        "environments, logs and monitoring databases (`mvi manager start --data-dir`).",
    )
    manager_host: str = Field(
        "127.0.0.1", description="Interface the manager listens on (`--host`)."
    )
    manager_port: int = Field(
        8000, ge=0, le=65535, description="Port of the manager's API and gateway (`--port`)."
    )
    manager_public_url: str | None = Field(
        None,
        description="URL browsers reach the manager at (e.g. https://mvi.example.com behind "
        "TLS): the only Origin a change made with the login cookie may come from, and the "
        "X-Forwarded-Host/-Proto given to services (default: the request's own Host).",
    )
    manager_gateway_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Also serve the gateway (/services/...) alone on this port, an origin "
        "of its own, where browsers open service pages (the main port's /services/ then "
        "refuses the login cookie); recommended in production.",
    )
    manager_db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the registry (default: SQLite file registry.db in "
        "the data directory), e.g. postgresql+psycopg://user@host/db.",
    )
    manager_max_header_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest request line and headers (431 beyond)."
    )
    manager_max_upload_bytes: int = Field(
        200 * 1024 * 1024, ge=1, description="Largest deploy archive accepted (413 beyond)."
    )
    manager_max_unpacked_bytes: int = Field(
        1024 * 1024 * 1024, ge=1, description="Largest total size a deploy archive unpacks to."
    )
    manager_max_archive_members: int = Field(
        20_000, ge=1, description="Most files and folders a deploy archive may hold."
    )
    manager_build_timeout: float = Field(
        900.0, gt=0, description="Seconds an environment build (uv) may take."
    )
    manager_startup_timeout: float = Field(
        60.0, gt=0, description="Seconds a started service has to answer /~ready."
    )
    manager_stop_timeout: float = Field(
        40.0, gt=0, description="Seconds between SIGTERM and SIGKILL when stopping a service."
    )
    manager_restart_backoff: float = Field(
        0.5, gt=0, description="Delay before restarting a crashed service the first time."
    )
    manager_restart_backoff_max: float = Field(
        60.0, gt=0, description="Longest delay between restarts of a crash-looping service."
    )
    manager_restart_reset_after: float = Field(
        60.0, gt=0, description="Seconds of healthy running after which the backoff resets."
    )
    manager_deploy_wait: float = Field(
        900.0, gt=0, description="Seconds a deploy request waits for the service to be running."
    )
    manager_log_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Size at which a log file is rotated."
    )
    manager_log_backups: int = Field(
        3, ge=0, le=100, description="Rotated log files kept per service (and the manager)."
    )
    manager_gateway_timeout: float = Field(
        60.0, gt=0, description="Seconds the gateway waits for a service's answer (504 beyond)."
    )
    manager_gateway_max_connections: int = Field(
        1000, ge=1, description="Connections the gateway keeps open to services, at most."
    )
    manager_stop_services_on_exit: bool = Field(
        True,
        description="Stop the services when the manager stops gracefully; when false they "
        "keep running and the next manager adopts them.",
    )
    # -- manager: where versions run (local processes or a Ray cluster), replicas --------
    manager_runtime: Literal["local", "ray"] = Field(
        "local",
        description="Where versions run: local processes, or actors on a Ray cluster "
        "(`mvi manager start --runtime`).",
    )
    manager_ray_address: str | None = Field(
        None,
        description="Address (host:port) of the Ray cluster's head (`--ray-address`); unset: "
        "the manager starts a one-node Ray cluster of its own on 127.0.0.1.",
    )
    manager_ray_auth_token: SecretStr | None = Field(
        None,
        description="The Ray cluster's token (RAY_AUTH_TOKEN, every node has the same); "
        "required with manager_ray_address, random for a cluster the manager starts.",
    )
    manager_ray_node_ip: str = Field(
        "127.0.0.1",
        description="The address the manager's Ray driver uses on the cluster's network "
        "(127.0.0.1 for a one-machine cluster).",
    )
    manager_ray_home: Path | None = Field(
        None,
        description="HOME of the manager's Ray processes, where Ray writes its files "
        "(default: ray-home in the data directory).",
    )
    manager_ray_namespace: str = Field("mvi", min_length=1, description="Ray namespace.")
    manager_ray_node_dir: str = Field(
        "~/.cache/mvi-ray",
        description="Folder on each Ray node where replicas unpack bundles and build "
        "environments (cached by the hash of their lock).",
    )
    manager_max_replicas: int = Field(64, ge=1, le=1024, description="Most replicas a version has.")
    manager_replica_check_interval: float = Field(
        1.0, gt=0, le=60, description="Seconds between two checks of where replicas listen."
    )
    manager_autoscale_interval: float = Field(1.0, gt=0, le=300, description="Autoscaler's period.")
    manager_autoscale_cooldown: float = Field(
        30.0,
        ge=0,
        description="Seconds the load must stay low after the last change before the "
        "autoscaler removes a replica (it adds them at once).",
    )
    # -- manager: shadows (copies of the main's requests) ----------------------------------
    manager_mirror_methods: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["POST"],
        description="Comma-separated HTTP methods whose requests to /services/{name}/... are "
        "copied to the shadows (the services' own ~ routes never are).",
    )
    manager_mirror_max_bytes: int = Field(
        1024 * 1024,
        ge=0,
        description="Largest request body copied to the shadows (larger requests reach the "
        "main only, and count as dropped), and largest answer kept to compare.",
    )
    manager_shadow_queue_size: int = Field(
        100,
        ge=1,
        description="Copies waiting per shadow, at most; beyond, copies are dropped and "
        "counted (the main is never slowed down).",
    )
    manager_shadow_concurrency: int = Field(
        4, ge=1, le=256, description="Copies in flight to one shadow at a time, at most."
    )
    manager_shadow_timeout: float = Field(
        30.0, gt=0, description="Seconds a shadow has to answer a copy (an error beyond)."
    )

    # -- manager: auth and notifications --------------------------------------------------
    manager_auth: bool = Field(
        True,
        description="Require a valid token on every API and gateway route; false (`mvi "
        "manager start --no-auth`) leaves the manager open, for local development only.",
    )
    admin_password: SecretStr | None = Field(
        None,
        description="Password of the manager's admin user, set at every start (default: a "
        "random one, made and printed once at the first start).",
    )
    manager_login_hours: float = Field(
        168.0, gt=0, description="Hours a token from `mvi login` stays valid."
    )
    manager_login_max_failures: int = Field(
        10,
        ge=1,
        description="Failed logins from one address within manager_login_window after which "
        "it gets 429 until the window has passed.",
    )
    manager_login_window: float = Field(
        300.0, gt=0, description="Seconds over which failed logins are counted."
    )
    manager_crash_loop_crashes: int = Field(
        3,
        ge=2,
        description="Crashes of one version within manager_crash_loop_window that raise a "
        "CRITICAL notification (once per loop; later crashes count on it).",
    )
    manager_crash_loop_window: float = Field(
        300.0, gt=0, description="Seconds over which crashes count toward a crash loop."
    )
    manager_alert_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses that get the manager's own notifications "
        "(crash loops) by email.",
    )
    manager_alert_interval: int = Field(
        3600, ge=0, description="Seconds before the same manager alert is emailed again."
    )
    # -- email (used by the manager) ---------------------------------------------------
    smtp_host: str | None = Field(None, description="SMTP server for notification emails.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_sender: str | None = Field(None, description="From address of notification emails.")
    smtp_tls: Literal["ssl", "starttls", "none"] = Field("none", description="SMTP transport.")
    smtp_ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) that verify the SMTP server's certificate with "
        "ssl or starttls (default: the system's).",
    )
    smtp_timeout: float = Field(
        10.0, gt=0, description="Seconds one SMTP connection or command may take."
    )
    smtp_attempts: int = Field(
        3,
        ge=1,
        le=10,
        description="Attempts to send one email; after the last failed one a manager "
        "notification says so.",
    )
    smtp_retry_backoff: float = Field(
        1.0, gt=0, le=300, description="Seconds before the second attempt, doubled for each next."
    )
    smtp_queue_size: int = Field(
        1000,
        ge=1,
        description="Emails waiting to be sent, at most (beyond, new ones are dropped and a "
        "manager notification says so).",
    )

    @field_validator("manager_public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        scheme, _, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not rest or "/" in rest:
            raise ValueError(f"not an http(s)://host[:port] URL without a path: {value!r}")
        return value

    @field_validator("manager_alert_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        return _comma_list(value)

    @field_validator("manager_mirror_methods", mode="before")
    @classmethod
    def _split_methods(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            methods = [str(part).strip().upper() for part in value]
            bad = [m for m in methods if not m.isalpha()]
            if bad:
                raise ValueError(f"not HTTP methods: {', '.join(bad)} (e.g. POST,PUT)")
            return methods
        return value


class CLISettings(_Group):
    """What the ``mvi`` command reads besides ``MVI_MANAGER_URL``."""

    config_dir: Path | None = Field(
        None, description="Where the CLI keeps its settings (default: the user's config dir)."
    )
    cli_timeout: float = Field(
        30.0, gt=0, description="Seconds the CLI waits for the manager to answer a request."
    )

    token: SecretStr | None = Field(
        None,
        description="Token the CLI sends to the manager instead of the one `mvi login` saved "
        "(for scripts and CI; make one with `mvi token create`).",
    )


class Settings(ServiceSettings, ManagerSettings, CLISettings):
    """Typed view of the whole ``MVI_*`` environment (each field ``x`` reads ``MVI_X``).

    The fields are declared in three groups by who reads them, :class:`ServiceSettings`,
    :class:`ManagerSettings` and :class:`CLISettings`; this class has them all.
    """

    model_config = _CONFIG


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    return Settings()


def reload_settings() -> Settings:
    """Read the environment again (for tests and tools that change it at run time)."""
    get_settings.cache_clear()
    return get_settings()


_SERVICE_VARIABLES = tuple(f"MVI_{name.upper()}" for name in ServiceSettings.model_fields)
_current: tuple[tuple[str | None, ...], ServiceSettings] | None = None


def current_service_settings() -> ServiceSettings:
    """The service's settings as the environment gives them at this moment (what
    :mod:`mvi.utilities` reports): read again whenever one of their ``MVI_*`` variables
    changed since the last read. The serving runtime keeps :func:`get_settings`."""
    global _current
    values = tuple(map(os.environ.get, _SERVICE_VARIABLES))
    read = _current
    if read is None or read[0] != values:
        read = _current = (values, ServiceSettings())
    return read[1]
