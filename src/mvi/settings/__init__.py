"""Every ``MVI_*`` environment variable, declared and documented once.

The manager starts each service with these variables set; a standalone service falls back
to the defaults below. Read them through :func:`get_settings`, never through ``os.environ``.
"""

from __future__ import annotations

import functools
import os

from mvi.settings._group import CONFIG
from mvi.settings.cli import CLISettings
from mvi.settings.manager import ManagerSettings
from mvi.settings.service import ServiceSettings

__all__ = [
    "CLISettings",
    "ManagerSettings",
    "ServiceSettings",
    "Settings",
    "current_service_settings",
    "get_settings",
    "reload_settings",
]


class Settings(ServiceSettings, ManagerSettings, CLISettings):
    """Typed view of the whole ``MVI_*`` environment (each field ``x`` reads ``MVI_X``).

    The fields are declared in three groups by who reads them, :class:`ServiceSettings`,
    :class:`ManagerSettings` and :class:`CLISettings`; this class has them all.
    """

    model_config = CONFIG


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
