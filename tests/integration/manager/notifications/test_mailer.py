"""The mailer against a real SMTP server (aiosmtpd on loopback): plain, STARTTLS and
implicit TLS with a throwaway CA, a login, retries of a failing server, and a full queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import pytest
from tests.conftest import free_port
from tests.smtp_server import SmtpServer

from mvi.manager.notifications.mailer import Mailer, SmtpConfig, compose


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


def config_for(server: SmtpServer, **changes: object) -> SmtpConfig:
    values: dict[str, object] = dict(
        host="127.0.0.1",
        port=server.port,
        sender="mvi@example.com",
        tls=server.tls,
        ca_file=server.ca_file,
        timeout=5.0,
    )
    values.update(changes)
    return SmtpConfig(**values)  # type: ignore[arg-type]


def message(subject: str = "hello", to: tuple[str, ...] = ("ops@example.com",)) -> EmailMessage:
    return compose(sender="mvi@example.com", recipients=to, subject=subject, body="the body\n")


Failures = list[tuple[str, str]]


async def run_mailer(
    config: SmtpConfig,
    messages: list[EmailMessage],
    *,
    attempts: int = 3,
    backoff: float = 0.05,
    queue_size: int = 100,
    settle: float = 10.0,
) -> tuple[Mailer, Failures, list[bool]]:
    failures: Failures = []

    async def on_failure(failed: EmailMessage, error: str) -> None:
        failures.append((str(failed["Subject"]), error))

    mailer = Mailer(
        config, attempts=attempts, backoff=backoff, queue_size=queue_size, on_failure=on_failure
    )
    mailer.start()
    accepted = [mailer.submit(m) for m in messages]
    await mailer.close(timeout=settle)
    return mailer, failures, accepted


def test_a_message_reaches_the_server_with_its_headers(smtp: SmtpServer) -> None:
    mailer, failures, _ = asyncio.run(
        run_mailer(config_for(smtp), [message("disk full", ("a@example.com", "b@example.com"))])
    )
    [delivered] = smtp.wait_for(1)
    assert failures == [] and mailer.sent == 1
    assert delivered.mail_from == "mvi@example.com"
    assert delivered.rcpt_tos == ["a@example.com", "b@example.com"]
    assert delivered.message["Subject"] == "disk full"
    assert delivered.message["To"] == "a@example.com, b@example.com"
    assert delivered.body == "the body\n"


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
# with implicit TLS, aiosmtpd cannot tell that the login is encrypted, and says so
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_tls_with_a_private_ca(tmp_path: Path, tls: Literal["starttls", "ssl"]) -> None:
    server = SmtpServer(tmp_path, tls=tls, login=("mailer", "smtp-pass-7f3a")).start()
    try:
        config = config_for(server, username="mailer", password="smtp-pass-7f3a")
        _, failures, _ = asyncio.run(run_mailer(config, [message(f"over {tls}")]))
        assert failures == []
        assert [d.message["Subject"] for d in server.wait_for(1)] == [f"over {tls}"]
    finally:
        server.stop()


def test_a_certificate_from_an_unknown_ca_is_refused(tmp_path: Path) -> None:
    server = SmtpServer(tmp_path, tls="starttls").start()
    try:
        config = config_for(server, ca_file=None, timeout=2.0)  # the system CAs only
        _, failures, _ = asyncio.run(run_mailer(config, [message()], attempts=1))
        assert server.delivered == []
        assert len(failures) == 1 and "certificate" in failures[0][1].lower()
    finally:
        server.stop()


def test_a_wrong_login_is_reported_without_the_password(tmp_path: Path) -> None:
    server = SmtpServer(tmp_path, tls="starttls", login=("mailer", "right")).start()
    try:
        config = config_for(server, username="mailer", password="wrong-pass-91ab")
        _, failures, _ = asyncio.run(run_mailer(config, [message()], attempts=2))
        assert server.delivered == [] and len(failures) == 1
        assert "535" in failures[0][1] and "wrong-pass-91ab" not in failures[0][1]
    finally:
        server.stop()


def test_a_failing_server_is_retried_then_reported(smtp: SmtpServer) -> None:
    smtp.fail_with("451 4.3.0 Try again later")
    started = time.monotonic()
    mailer, failures, _ = asyncio.run(
        run_mailer(config_for(smtp), [message("retried")], attempts=3, backoff=0.2)
    )
    assert smtp.attempts == 3 and smtp.delivered == []
    assert time.monotonic() - started >= 0.2 + 0.4  # the backoff between the attempts
    assert failures == [("retried", "3 attempts failed; the last: the server answered 451 4.3.0 "
                         "Try again later")]  # fmt: skip
    assert mailer.failed == 1 and mailer.sent == 0


def test_a_server_that_recovers_gets_the_message(smtp: SmtpServer) -> None:
    smtp.fail_with("451 4.3.0 busy")

    async def scenario() -> Failures:
        failures: Failures = []

        async def on_failure(failed: EmailMessage, error: str) -> None:
            failures.append((str(failed["Subject"]), error))

        mailer = Mailer(
            config_for(smtp), attempts=5, backoff=0.3, queue_size=10, on_failure=on_failure
        )
        mailer.start()
        mailer.submit(message("late"))
        deadline = time.monotonic() + 10
        while smtp.attempts < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        smtp.fail_with(None)
        await mailer.close(timeout=10)
        return failures

    assert asyncio.run(scenario()) == []
    assert [d.message["Subject"] for d in smtp.wait_for(1)] == ["late"]
    assert smtp.attempts >= 2


def test_a_closed_port_is_retried_then_reported() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), sender="mvi@example.com", timeout=2)
    _, failures, _ = asyncio.run(run_mailer(config, [message("nobody")], attempts=2))
    assert len(failures) == 1
    subject, error = failures[0]
    assert subject == "nobody" and error.startswith("2 attempts failed; the last: ")


def test_submit_never_waits_and_a_full_queue_drops(smtp: SmtpServer) -> None:
    smtp.fail_with("451 4.3.0 slow")

    async def scenario() -> tuple[list[bool], float, Failures]:
        failures: Failures = []

        async def on_failure(failed: EmailMessage, error: str) -> None:
            failures.append((str(failed["Subject"]), error))

        mailer = Mailer(
            config_for(smtp),
            attempts=2,
            backoff=0.5,
            queue_size=2,
            on_failure=on_failure,
            workers=1,
        )
        mailer.start()
        started = time.monotonic()
        accepted = [mailer.submit(message(f"m{i}")) for i in range(6)]
        elapsed = time.monotonic() - started
        await mailer.close(timeout=0.1)
        await asyncio.sleep(0)
        return accepted, elapsed, failures

    accepted, elapsed, failures = asyncio.run(scenario())
    assert accepted == [True, True, False, False, False, False]
    assert elapsed < 0.05
    dropped = [f for f in failures if "queue of emails is full" in f[1]]
    assert sorted(s for s, _ in dropped) == ["m2", "m3", "m4", "m5"]
