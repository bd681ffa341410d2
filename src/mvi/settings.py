"""Every ``MVI_*`` environment variable, declared and documented once.

The manager starts each service with these variables set; a standalone service falls back
to the defaults below. Read them through :func:`get_settings`, never through ``os.environ``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "get_settings", "reload_settings"]


class Settings(BaseSettings):
    """Typed view of the ``MVI_*`` environment (each field ``x`` reads ``MVI_X``)."""

    model_config = SettingsConfigDict(env_prefix="MVI_", extra="ignore", frozen=True)

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

    # -- identity, given by the manager ----------------------------------------------
    service_name: str = Field("service", description="Name of this service.")
    service_version: str = Field("0.0.0", description="Version of this service (semver).")
    service_root_path: str = Field(
        "", description="Path prefix the service is served under, e.g. /services/hello_1.0.0."
    )
    manager_url: str | None = Field(None, description="URL of the manager running this service.")
    manager_hostname: str | None = Field(None, description="Hostname of that manager.")
    service_access_token: SecretStr | None = Field(
        None, description="Token this service presents to the manager and other services."
    )
    authorized_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated hosts that may receive the access token.",
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

    # -- email (used by the manager) ---------------------------------------------------
    smtp_host: str | None = Field(None, description="SMTP server for notification emails.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_sender: str | None = Field(None, description="From address of notification emails.")
    smtp_tls: Literal["ssl", "starttls", "none"] = Field("none", description="SMTP transport.")

    @field_validator("authorized_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

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


@functools.cache
def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    return Settings()


def reload_settings() -> Settings:
    """Read the environment again (for tests and tools that change it at run time)."""
    get_settings.cache_clear()
    return get_settings()
