"""Notification emails, sent in the background through the SMTP server of the settings.

:meth:`Mailer.submit` only puts a message in a bounded queue (it never waits, so an API
request never waits for SMTP); worker tasks send it with aiosmtplib over a plain
connection, implicit TLS (``ssl``) or STARTTLS, retrying a failed attempt after
``backoff``, ``2*backoff``, ... seconds (:func:`retry_delays`). A message that still
cannot be sent, or that finds the queue full, is handed to ``on_failure`` (the manager
records a notification). Errors are reported by what the server or the network said; the
SMTP password is never part of one. :func:`compose` builds a message without I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

import aiosmtplib

from mvi.settings import Settings

__all__ = ["Mailer", "SmtpConfig", "compose", "retry_delays"]

logger = logging.getLogger("mvi.manager.mailer")

FailureHandler = Callable[[EmailMessage, str], Awaitable[None]]
_MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send (``MVI_SMTP_*``); the password is only read when sending."""

    host: str
    port: int
    sender: str
    tls: Literal["ssl", "starttls", "none"] = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings, hostname: str) -> SmtpConfig | None:
        """The SMTP settings, or ``None`` when ``MVI_SMTP_HOST`` is not set."""
        if not settings.smtp_host:
            return None
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender or f"mvi@{hostname}",
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            ca_file=settings.smtp_ca_file,
            timeout=settings.smtp_timeout,
        )

    @property
    def address(self) -> str:
        """``host:port`` (for messages)."""
        return f"{self.host}:{self.port}"


def retry_delays(attempts: int, backoff: float, cap: float = _MAX_BACKOFF) -> list[float]:
    """The waits between ``attempts`` tries: ``backoff``, doubled each time, at most ``cap``."""
    return [min(backoff * 2.0**i, cap) for i in range(max(0, attempts - 1))]


def compose(
    *, sender: str, recipients: Sequence[str], subject: str, body: str, domain: str | None = None
) -> EmailMessage:
    """A plain-text email (subject kept to one line)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = " ".join(subject.split())[:200]
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(body)
    return message


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"the server answered {exc.code} {exc.message}".strip()
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:300]


class Mailer:
    """A bounded queue of emails and the tasks that send them."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        attempts: int,
        backoff: float,
        queue_size: int,
        on_failure: FailureHandler,
        workers: int = 2,
    ) -> None:
        self.config = config
        self.attempts = attempts
        self.backoff = backoff
        self.on_failure = on_failure
        self.queue: asyncio.Queue[EmailMessage] = asyncio.Queue(maxsize=queue_size)
        self.sent = 0
        self.failed = 0
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._reports: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<Mailer {self.config.address} {self.config.tls}>"

    def start(self) -> None:
        """Start the sending tasks (on the running loop)."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name=f"mailer {i}") for i in range(self._workers)
            ]

    def submit(self, message: EmailMessage) -> bool:
        """Queue ``message``; ``False`` (and ``on_failure``) when the queue is full."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.failed += 1
            logger.warning(
                "the email queue is full (%d waiting); dropped an email to %s",
                self.queue.qsize(),
                message["To"],
            )
            self._report(message, f"the queue of emails is full ({self.queue.maxsize} waiting)")
            return False
        return True

    async def close(self, timeout: float) -> None:
        """Give queued emails up to ``timeout`` seconds, then stop (the rest is logged)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.queue.qsize():
            logger.warning("stopping with %d unsent emails", self.queue.qsize())
        if self._reports:
            await asyncio.wait(self._reports, timeout=timeout)

    async def _work(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self._deliver(message)
            finally:
                self.queue.task_done()

    async def _deliver(self, message: EmailMessage) -> None:
        delays = retry_delays(self.attempts, self.backoff)
        error = ""
        for attempt in range(self.attempts):
            try:
                await self.send(message)
            except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
                error = _describe(exc)
                logger.warning(
                    "emailing %s through %s failed (attempt %d of %d): %s",
                    message["To"],
                    self.config.address,
                    attempt + 1,
                    self.attempts,
                    error,
                )
                if attempt < len(delays):
                    await asyncio.sleep(delays[attempt])
                continue
            self.sent += 1
            logger.info("emailed %r to %s", message["Subject"], message["To"])
            return
        self.failed += 1
        self._report(message, f"{self.attempts} attempts failed; the last: {error}")

    def _report(self, message: EmailMessage, error: str) -> None:
        task = asyncio.ensure_future(self._call_failure(message, error))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _call_failure(self, message: EmailMessage, error: str) -> None:
        try:
            await self.on_failure(message, error)
        except Exception:
            logger.exception("recording a failed email failed")

    async def send(self, message: EmailMessage) -> None:
        """Send one message now (one attempt)."""
        config = self.config
        context = None
        if config.tls != "none":
            context = ssl.create_default_context(
                cafile=str(config.ca_file) if config.ca_file else None
            )
        await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.tls == "ssl",
            start_tls=config.tls == "starttls",
            tls_context=context,
            timeout=config.timeout,
        )
