"""Notifications and calls to other services (seed API ``mvi.communication``).

Both talk to the manager named by ``MVI_MANAGER_URL``, with this service's token. Without a
manager, :func:`notify` logs the notification and stores it as a monitoring record (the
variable ``notification``), and :func:`call_service` raises
:class:`mvi.ManagerNotConfigured`.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from typing import Any

import httpx
import orjson

from mvi._exceptions import ManagerNotConfigured, ServiceCallError
from mvi.settings import get_settings
from mvi.utilities import get_headers, get_mvi_manager_url, get_service_name, get_service_version

__all__ = ["Severity", "call_service", "notify"]

logger = logging.getLogger("mvi.notify")

_NAME = re.compile(r"^[a-z0-9_]+$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
# keyword arguments that configure a connection rather than one request
_CLIENT_OPTIONS = frozenset({"verify", "cert", "trust_env", "proxy", "proxies", "http2"})


class Severity(enum.Enum):
    """How serious a notification is."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2


_LOG_LEVELS = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING}


def _severity(value: Any) -> Severity:
    if isinstance(value, Severity):
        return value
    if isinstance(value, str) and value.upper() in Severity.__members__:
        return Severity[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return Severity(value)
        except ValueError:
            pass
    raise ValueError(
        f"severity must be a mvi.communication.Severity (INFO, WARNING or CRITICAL); got {value!r}"
    )


class _Clients(threading.local):
    """One pooled HTTP client per thread (entrypoints may run in several threads)."""

    client: httpx.Client | None = None


_clients = _Clients()


def _client() -> httpx.Client:
    if _clients.client is None:
        _clients.client = httpx.Client(timeout=get_settings().call_timeout)
    return _clients.client


def _manager_url(operation: str) -> str:
    url = get_mvi_manager_url()
    if not url:
        raise ManagerNotConfigured(
            f"{operation} needs the manager this service runs under, and MVI_MANAGER_URL is "
            "not set. Deploy the service with `mvi deploy`, or set MVI_MANAGER_URL."
        )
    return url


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return body


def _post(url: str, payload: Any, what: str, **request_kwargs: Any) -> httpx.Response:
    headers = {**get_headers(url), **(request_kwargs.pop("headers", None) or {})}
    request_kwargs.setdefault("timeout", get_settings().call_timeout)
    try:
        if _CLIENT_OPTIONS.intersection(request_kwargs):
            response = httpx.post(url, json=payload, headers=headers, **request_kwargs)
        else:
            response = _client().post(url, json=payload, headers=headers, **request_kwargs)
    except httpx.TimeoutException as exc:
        raise ServiceCallError(f"{what}: no answer from {url} in time ({exc})") from exc
    except httpx.TransportError as exc:
        raise ServiceCallError(f"{what}: cannot reach {url} ({exc})") from exc
    if response.is_success:
        return response
    detail = _detail(response)
    raise ServiceCallError(
        f"{what}: {url} answered {response.status_code}: {detail}",
        status_code=response.status_code,
        detail=detail,
    )


def notify(
    msg: str,
    severity: Severity,
    dashboard: bool = True,
    emails: list[str] | None = None,
    timer: int = 0,
) -> None:
    """Raise a notification.

    It is logged at the matching level and stored as a monitoring record (variable
    ``notification``). With a manager, it is also posted to it, which shows it on the
    dashboard (``dashboard=True``) and emails ``emails``; the same notification is emailed
    again only after ``timer`` seconds have passed. Raises :class:`mvi.ServiceCallError`
    if the manager refuses it or cannot be reached.
    """
    level = _severity(severity)
    if timer < 0:
        raise ValueError(f"timer must be 0 or more seconds; got {timer!r}")
    if emails is not None and (
        isinstance(emails, str) or not all(isinstance(e, str) for e in emails)
    ):
        raise TypeError("emails must be a list of addresses, e.g. ['ops@example.com']")
    logger.log(_LOG_LEVELS.get(level, logging.CRITICAL), "%s: %s", level.name, msg)
    record = {"severity": level.name, "message": str(msg)}

    from mvi.serving.service import current_service

    current_service().store(notification=orjson.dumps(record).decode())
    if not get_mvi_manager_url():
        return
    payload = {
        "service": get_service_name(),
        "version": get_service_version(),
        "message": str(msg),
        "severity": level.name,
        "dashboard": bool(dashboard),
        "emails": list(emails or []),
        "timer": timer,
    }
    _post(f"{_manager_url('notify()')}/api/notifications", payload, "notify()")


def call_service(
    service_name: str,
    entrypoint_name: str,
    arguments: dict[str, Any] | None = None,
    service_version: str | None = None,
    **request_kwargs: Any,
) -> Any:
    """Call ``entrypoint_name`` of another service through the manager; return its answer.

    Without ``service_version`` the main version answers (and the manager mirrors the call
    to the shadow versions); with it, exactly that version. ``request_kwargs`` go to the
    HTTP request (``timeout``, ``headers``, ``verify``, ...). Raises
    :class:`mvi.ServiceCallError` with the other side's status and detail when it answers
    with an error or cannot be reached, and :class:`mvi.ManagerNotConfigured` standalone.
    """
    if not isinstance(service_name, str) or not _NAME.match(service_name):
        raise ValueError(f"service_name must match ^[a-z0-9_]+$; got {service_name!r}")
    if not isinstance(entrypoint_name, str) or not entrypoint_name.isidentifier():
        raise ValueError(f"entrypoint_name must be a function name; got {entrypoint_name!r}")
    if service_version is not None and not (
        isinstance(service_version, str) and _VERSION.match(service_version)
    ):
        raise ValueError(f"service_version must be a semantic version; got {service_version!r}")
    if arguments is not None and not isinstance(arguments, dict):
        raise TypeError(
            f"arguments must be a dict of the entrypoint's parameters; got {arguments!r}"
        )
    base = _manager_url("call_service()")
    target = service_name if service_version is None else f"{service_name}_{service_version}"
    url = f"{base}/services/{target}/{entrypoint_name}"
    response = _post(
        url, arguments or {}, f"call_service({target}.{entrypoint_name})", **request_kwargs
    )
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise ServiceCallError(
            f"call_service({target}.{entrypoint_name}) answered with a body that is not JSON",
            status_code=response.status_code,
            detail=response.text[:200],
        ) from exc
