"""The settings ``mvi manager start`` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from mvi.settings._group import Group, comma_list

__all__ = ["ManagerSettings"]


class ManagerSettings(Group):
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
    manager_allow_index_options: bool = Field(
        False,
        description="Let a deployed requirements.txt choose where packages come from "
        "(--index-url, --extra-index-url, --find-links, --trusted-host, --no-index, "
        "requirements from a URL); refused by default (422 naming the line).",
    )
    manager_find_links: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated local folders of wheels the operator trusts (e.g. "
        "/opt/wheels), given to every environment build as find-links.",
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
    manager_gateway_max_message_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Bytes of one WebSocket message the gateway relays, at most, either way "
        "(a larger one closes the connection with 1009).",
    )
    manager_stop_services_on_exit: bool = Field(
        True,
        description="Stop the services when the manager stops gracefully; when false they "
        "keep running and the next manager adopts them.",
    )
    manager_isolation: Literal["auto", "user", "landlock", "none"] = Field(
        "auto",
        description="How each version is kept from the manager's data (its key, registry, "
        "other versions): `user` (a uid of its own, the manager runs as root), `landlock` "
        "(a Landlock ruleset), `none` (not at all: a loud warning at start), or `auto` "
        "(the first that works here); see docs/security.md.",
    )
    manager_isolation_uid_base: int = Field(
        200_000,
        ge=1000,
        le=2**31 - 2**20,
        description="First uid (and gid) given to versions in isolation mode `user`; no "
        "/etc/passwd entry is needed, but no other user of the machine may have one.",
    )
    manager_isolation_uid_count: int = Field(
        65_536, ge=1, le=2**20, description="How many uids from the base versions may get."
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

    @field_validator("manager_find_links")
    @classmethod
    def _check_find_links(cls, value: list[Path]) -> list[Path]:
        relative = [str(path) for path in value if not path.is_absolute()]
        if relative:
            raise ValueError(f"not absolute folders: {', '.join(relative)}")
        return value

    @field_validator("manager_alert_emails", "manager_find_links", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        return comma_list(value)

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
