"""The CLI's side of the manager's REST API: which manager, and how to talk to it.

The manager is the one a command's ``--host`` names, else ``MVI_MANAGER_URL`` when set,
else the active host of the CLI's config file (``MVI_CONFIG_DIR``, default the user's
config dir): the one ``mvi login`` last logged in to or switched to, else
``http://127.0.0.1:8000``. The config file remembers every host logged in to (``mvi
hosts`` lists them, numbered). Every request carries the token for that manager:
``MVI_TOKEN`` when set, else the one ``mvi login`` saved for that address in the same
config file (mode 0600). Errors become :class:`~mvi._exceptions.ManagerError` (the
manager's ``detail`` and status) or :class:`~mvi._exceptions.ManagerUnreachable`.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from mvi._exceptions import BuildFailed, ManagerError, ManagerUnreachable
from mvi.settings import Settings, get_settings

__all__ = ["DEFAULT_URL", "CliConfig", "ManagerClient", "normalize_url", "talking_to"]

DEFAULT_URL = "http://127.0.0.1:8000"
"""The manager the CLI talks to when nothing else is configured."""
_chosen: contextvars.ContextVar[str | None] = contextvars.ContextVar("mvi_host", default=None)


@contextlib.contextmanager
def talking_to(url: str) -> Iterator[None]:
    """Within the block, :meth:`ManagerClient.from_settings` talks to ``url`` (what a
    command's ``--host`` does), whatever the active manager is."""
    token = _chosen.set(url.rstrip("/"))
    try:
        yield
    finally:
        _chosen.reset(token)


def normalize_url(host: str) -> str:
    """``localhost:8000`` -> ``http://localhost:8000``; no trailing slash."""
    text = host.strip()
    if not text:
        raise ValueError("give the manager's address, e.g. http://127.0.0.1:8000")
    if "://" not in text:
        text = "http://" + text
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise ValueError(f"{host!r} is not an http(s) address of a manager") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{host!r} is not an http(s) address of a manager")
    return text.rstrip("/")


class CliConfig:
    """The CLI's saved settings (the active manager and a token per manager), a JSON file
    private to the user (0600, in a 0700 directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "config.json"

    @classmethod
    def default(cls, settings: Settings | None = None) -> CliConfig:
        """The config in ``MVI_CONFIG_DIR`` or the user's config directory."""
        settings = settings or get_settings()
        if settings.config_dir is not None:
            return cls(settings.config_dir.expanduser())
        import typer

        return cls(Path(typer.get_app_dir("mvi")))

    def load(self) -> dict[str, Any]:
        """The saved values (empty if none)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ManagerError(
                f"Cannot read {self.path} ({exc}); delete it and log in again"
            ) from None
        return data if isinstance(data, dict) else {}

    def save(self, **values: Any) -> None:
        """Merge ``values`` into the file (mode 0600)."""
        data = self.load()
        data.update(values)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)  # a leftover could have another mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        tmp.replace(self.path)

    def token_for(self, url: str) -> str | None:
        """The token ``mvi login`` saved for the manager at ``url``."""
        tokens = self.load().get("tokens")
        token = tokens.get(url.rstrip("/")) if isinstance(tokens, dict) else None
        return token if isinstance(token, str) and token else None

    def save_token(self, url: str, token: str) -> None:
        """Remember ``token`` for the manager at ``url`` (replacing an older one)."""
        data = self.load()
        tokens = data.get("tokens") if isinstance(data.get("tokens"), dict) else {}
        assert isinstance(tokens, dict)
        tokens[url.rstrip("/")] = token
        data["tokens"] = tokens
        self._write(data)

    def hosts(self) -> list[str]:
        """Every manager logged in to, in the order of the first login (``mvi hosts``)."""
        data = self.load()
        found: list[str] = []
        listed = data.get("hosts")
        tokens = data.get("tokens")
        for url in [
            *(listed if isinstance(listed, list) else []),
            *(tokens if isinstance(tokens, dict) else {}),
            data.get("host"),
        ]:
            if isinstance(url, str) and url and url.rstrip("/") not in found:
                found.append(url.rstrip("/"))
        return found

    def login_of(self, url: str) -> dict[str, Any]:
        """What ``mvi login`` noted about ``url``: ``user``, ``expires_at``, ``auth``."""
        logins = self.load().get("logins")
        login = logins.get(url.rstrip("/")) if isinstance(logins, dict) else None
        return login if isinstance(login, dict) else {}

    def remember(self, url: str, **login: Any) -> None:
        """Make ``url`` the active host, listed among the hosts, with what ``login`` says
        about its login (``user``, ``expires_at``, ``auth``)."""
        url = url.rstrip("/")
        data = self.load()
        hosts = self.hosts()
        data["hosts"] = hosts if url in hosts else [*hosts, url]
        logins = data.get("logins") if isinstance(data.get("logins"), dict) else {}
        assert isinstance(logins, dict)
        logins[url] = {**self.login_of(url), **login}
        data["logins"] = logins
        data["host"] = url
        self._write(data)

    def resolve(self, host: str) -> str:
        """The address ``host`` names: a number N is the Nth of :meth:`hosts` (from 1),
        anything else an address (see :func:`normalize_url`). Raises ``ValueError``."""
        text = host.strip()
        if text.isdigit():
            hosts = self.hosts()
            if not 1 <= int(text) <= len(hosts):
                known = f"1 to {len(hosts)}" if hosts else "none yet; log in to a HOST first"
                raise ValueError(f"No host number {text} in `mvi hosts` ({known})")
            return hosts[int(text) - 1]
        return normalize_url(text)

    def forget_token(self, url: str) -> bool:
        """Drop the token saved for ``url``; whether there was one."""
        data = self.load()
        tokens = data.get("tokens")
        if not isinstance(tokens, dict) or tokens.pop(url.rstrip("/"), None) is None:
            return False
        data["tokens"] = tokens
        self._write(data)
        return True


def _detail(response: httpx.Response) -> tuple[str, list[str]]:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return (text or response.reason_phrase or f"HTTP {response.status_code}"), []
    if isinstance(body, dict):
        detail = body.get("detail")
        lines = body.get("lines") or []
        if isinstance(detail, list):  # FastAPI validation errors
            detail = "; ".join(
                f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg')}"
                for item in detail
                if isinstance(item, dict)
            )
        return str(detail if detail is not None else body), [str(line) for line in lines]
    return str(body), []


class ManagerClient:
    """HTTP calls to one manager, with its errors turned into exceptions."""

    def __init__(self, url: str, timeout: float = 30.0, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)
        self.set_token(token)

    def set_token(self, token: str | None) -> None:
        """Send ``token`` with every request from now on (``None``: none)."""
        self.http.headers.pop("authorization", None)
        if token:
            self.http.headers["authorization"] = f"Bearer {token}"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ManagerClient:
        """The manager the CLI is set up to use (``--host``, ``MVI_MANAGER_URL``, the active
        host, the default), with its token."""
        settings = settings or get_settings()
        config = CliConfig.default(settings)
        active = settings.manager_url or config.load().get("host") or DEFAULT_URL
        url = str(_chosen.get() or active).rstrip("/")
        token = settings.token.get_secret_value() if settings.token is not None else None
        return cls(url, settings.cli_timeout, token or config.token_for(url))

    def close(self) -> None:
        """Close the connection."""
        self.http.close()

    def __enter__(self) -> ManagerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _unreachable(self, exc: httpx.TransportError) -> ManagerUnreachable:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within {self.timeout:g}s"
        return ManagerUnreachable(
            f"Cannot reach the manager at {self.url} ({reason}); start one with "
            "`mvi manager start`, or choose another with `mvi login HOST`"
        )

    def check(self, response: httpx.Response) -> httpx.Response:
        """``response`` if it succeeded, else its error as an exception."""
        if response.is_success:
            return response
        detail, lines = _detail(response)
        if lines:
            raise BuildFailed(detail, lines)
        if response.status_code == 401:
            detail = detail.replace("mvi login HOST", f"mvi login {self.url}")
        raise ManagerError(detail, response.status_code)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; raise for an error answer or no answer."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return self.check(response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a successful request."""
        return self.request(method, path, **kwargs).json()

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed response (raises for an error answer before yielding)."""
        try:
            with self.http.stream(method, path, **kwargs) as response:
                if not response.is_success:
                    response.read()
                    self.check(response)
                yield response
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
