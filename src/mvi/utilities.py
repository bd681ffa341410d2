"""What the manager told this service about itself (seed API ``mvi.utilities``).

Every function reads the ``MVI_*`` environment the manager gives each service at the time
of the call, through the settings (:func:`mvi.settings.current_service_settings`): a
variable set later, by a test or the service itself, is seen at once. Standalone, the
values are the settings' defaults and the manager's URL, hostname and token are empty
strings.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mvi.settings import ServiceSettings
from mvi.settings import current_service_settings as _settings

__all__ = [
    "get_authorized_domains",
    "get_db_table_limit",
    "get_headers",
    "get_mvi_manager_hostname",
    "get_mvi_manager_url",
    "get_service_access_token",
    "get_service_name",
    "get_service_root_path",
    "get_service_version",
]


def get_authorized_domains() -> list[str]:
    """Hosts that may receive this service's access token (``MVI_AUTHORIZED_DOMAINS``).

    The manager's own host is always authorized as well; see :func:`get_headers`.
    """
    return list(_settings().authorized_domains)


def get_db_table_limit() -> tuple[int, str]:
    """How much monitoring data is kept per variable (``MVI_SERVICE_DB_TABLE_LIMIT``).

    Returns ``(amount, unit)``, the unit one of ``rows``, ``days``, ``hours``, ``minutes``
    or ``seconds``; ``(365, "days")`` by default or when the setting cannot be read.
    """
    from mvi.monitoring import TableLimit

    limit = TableLimit.from_setting(_settings().service_db_table_limit)
    return limit.amount, limit.unit


def _manager_url(settings: ServiceSettings) -> str:
    return (settings.manager_url or "").rstrip("/")


def _manager_hostname(settings: ServiceSettings) -> str:
    if settings.manager_hostname:
        return settings.manager_hostname
    return urlsplit(_manager_url(settings)).hostname or ""


def _access_token(settings: ServiceSettings) -> str:
    token = settings.service_access_token
    return token.get_secret_value() if token is not None else ""


def get_mvi_manager_url() -> str:
    """URL of the manager running this service (``MVI_MANAGER_URL``; empty standalone)."""
    return _manager_url(_settings())


def get_mvi_manager_hostname() -> str:
    """Hostname of the manager running this service (``MVI_MANAGER_HOSTNAME``, else the
    host of its URL; empty standalone)."""
    return _manager_hostname(_settings())


def get_service_access_token() -> str:
    """The token this service presents to its manager and the services behind it
    (``MVI_SERVICE_ACCESS_TOKEN``; empty standalone)."""
    return _access_token(_settings())


def get_service_name() -> str:
    """Name of this service (``MVI_SERVICE_NAME``)."""
    return _settings().service_name


def get_service_version() -> str:
    """Version of this service, e.g. ``1.2.3`` (``MVI_SERVICE_VERSION``)."""
    return _settings().service_version


def get_service_root_path() -> str:
    """Path prefix this service answers under, e.g. ``/services/hello_1.0.0``
    (``MVI_SERVICE_ROOT_PATH``; empty standalone)."""
    return _settings().service_root_path


def _host_is_authorized(host: str, settings: ServiceSettings) -> bool:
    host = host.lower().rstrip(".")
    manager_hosts = {
        h.lower()
        for h in (_manager_hostname(settings), urlsplit(_manager_url(settings)).hostname)
        if h
    }
    if host in manager_hosts:
        return True
    for domain in settings.authorized_domains:
        domain = domain.lower().rstrip(".")
        if domain.startswith("."):
            if host.endswith(domain) or host == domain[1:]:
                return True
        elif host == domain:
            return True
    return False


def get_headers(url: str | None = None) -> dict[str, str]:
    """Headers for a call to the manager, or to ``url``.

    The access token (``Authorization: Bearer ...``) is attached only when ``url`` is
    ``None`` (a call to the manager) or its host is the manager's or one of
    :func:`get_authorized_domains`, so the token never leaks to other hosts.
    """
    settings = _settings()
    token = _access_token(settings)
    if not token:
        return {}
    if url is not None:
        host = urlsplit(url).hostname
        if not host or not _host_is_authorized(host, settings):
            return {}
    return {"Authorization": f"Bearer {token}"}
