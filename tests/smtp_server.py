"""A real SMTP server for tests (aiosmtpd on a free loopback port, in its own thread).

It keeps every delivered message (parsed) and can answer DATA with an error code, speak
implicit TLS or STARTTLS with a throwaway CA's certificate (trustme), and require a login.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from tests.conftest import free_port

__all__ = ["Delivered", "SmtpServer"]


@dataclass(frozen=True)
class Delivered:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        return str(self.message.get_content()).replace("\r\n", "\n")


@dataclass
class _Handler:
    fail_with: str | None = None
    delay: float = 0.0
    delivered: list[Delivered] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.attempts += 1
            if self.fail_with is not None:
                return self.fail_with
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.delivered.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:``port``; ``tls``: none, ssl (implicit) or starttls."""

    def __init__(
        self,
        directory: Path,
        *,
        tls: Literal["none", "ssl", "starttls"] = "none",
        login: tuple[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.tls = tls
        self.login = login
        self.handler = _Handler()
        self.ca_file: Path | None = None
        kwargs: dict[str, Any] = {}
        if tls != "none":
            ca = trustme.CA()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            self.ca_file = directory / "smtp-ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_file))
            if tls == "ssl":
                kwargs["ssl_context"] = context
            else:
                kwargs["tls_context"] = context
                kwargs["require_starttls"] = True
        if login is not None:
            expected = (login[0].encode(), login[1].encode())

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (data.login, data.password) == expected
                return AuthResult(success=ok, handled=False)

            kwargs["authenticator"] = authenticate
            kwargs["auth_require_tls"] = tls == "starttls"  # ssl: TLS from the start
            kwargs["auth_required"] = True
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10, **kwargs
        )

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def reset(self) -> None:
        """Accept at once again, and forget what was delivered."""
        with self.handler.lock:
            self.handler.fail_with = None
            self.handler.delay = 0.0
            self.handler.delivered.clear()
            self.handler.attempts = 0

    def slow_down(self, seconds: float) -> None:
        """Take ``seconds`` before answering each DATA."""
        self.handler.delay = seconds

    def fail_with(self, reply: str | None) -> None:
        """Answer every DATA with ``reply`` (e.g. ``"451 4.3.0 try later"``), or accept."""
        self.handler.fail_with = reply

    @property
    def delivered(self) -> list[Delivered]:
        with self.handler.lock:
            return list(self.handler.delivered)

    @property
    def attempts(self) -> int:
        with self.handler.lock:
            return self.handler.attempts

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivered]:
        """The delivered messages once there are ``count`` (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.delivered
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(self.delivered)} messages delivered, expected {count}")

    def settings(self) -> dict[str, str]:
        """The manager's MVI_SMTP_* variables for this server."""
        env = {
            "MVI_SMTP_HOST": "127.0.0.1",
            "MVI_SMTP_PORT": str(self.port),
            "MVI_SMTP_TLS": self.tls,
            "MVI_SMTP_SENDER": "mvi@example.com",
        }
        if self.ca_file is not None:
            env["MVI_SMTP_CA_FILE"] = str(self.ca_file)
        if self.login is not None:
            env["MVI_SMTP_USERNAME"], env["MVI_SMTP_PASSWORD"] = self.login
        return env
