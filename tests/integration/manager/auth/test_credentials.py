"""The manager's credentials on real files and databases: the signing secret's file, the
admin user, password checks, and tokens issued, listed, revoked and pruned."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mvi._exceptions import ConfigurationError, ManagerError, NotAuthenticated
from mvi.manager.auth.access import TokenKind
from mvi.manager.auth.credentials import ADMIN, Authority, load_or_create_secret
from mvi.manager.auth.tokens import token_hash
from mvi.manager.registry import AccessToken, Registry, User, now


def test_the_secret_is_made_once_private_and_then_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_secret(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary left


def test_the_secret_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_secret(tmp_path / "secret.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def _load(path: str, results: multiprocessing.Queue[bytes]) -> None:
    results.put(load_or_create_secret(Path(path)))


def test_concurrent_first_starts_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[bytes] = context.Queue()
    workers = [context.Process(target=_load, args=(str(path), results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    secrets = {results.get(timeout=60) for _ in workers}
    for worker in workers:
        worker.join(30)
    assert len(secrets) == 1 and secrets == {load_or_create_secret(path)}


def test_a_secret_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    secret = load_or_create_secret(path)
    path.chmod(0o644)
    assert load_or_create_secret(path) == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["", "not hex", "ab" * 8])
def test_a_broken_secret_file_is_refused_with_what_to_do(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secret.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="delete it"):
        load_or_create_secret(path)


def authority(registry: Registry) -> Authority:
    made = Authority(registry, b"k" * 32)
    made.load()
    return made


def test_the_first_start_makes_admin_with_a_random_password(registry: Registry) -> None:
    auth = authority(registry)
    password = auth.ensure_admin(None)
    assert password is not None and len(password) >= 16
    assert auth.check_password(ADMIN, password)
    assert not auth.check_password(ADMIN, password + "x")
    assert not auth.check_password("nobody", password)
    assert auth.ensure_admin(None) is None  # made once
    with registry.session() as session:
        [user] = session.scalars(select(User))
    assert user.password_hash.startswith("$argon2") and password not in user.password_hash


def test_the_admin_password_setting_applies_at_every_start(registry: Registry) -> None:
    auth = authority(registry)
    assert auth.ensure_admin("first-pass") is None
    assert auth.check_password(ADMIN, "first-pass")
    assert auth.ensure_admin("second-pass") is None
    assert auth.check_password(ADMIN, "second-pass")
    assert not auth.check_password(ADMIN, "first-pass")


def test_tokens_are_issued_listed_and_revoked(registry: Registry) -> None:
    auth = authority(registry)
    login = auth.issue(TokenKind.LOGIN, ADMIN, ttl=3600, note="login")
    api = auth.issue(TokenKind.API, ADMIN, ttl=86400, note="ci")
    service = auth.issue_service_token("hello", "1.0.0")
    at = time.time()
    assert auth.authenticate(login.token, at).subject == ADMIN
    assert auth.authenticate(service, at).service == "hello"
    listed = {row.jti: row for row in auth.tokens()}
    assert set(listed) == {
        login.record.jti,
        api.record.jti,
        auth.authenticate(service, at).token_id,
    }
    assert listed[api.record.jti].note == "ci"
    with registry.session() as session:  # the registry keeps ids, never the token text
        stored = [repr(vars(row)) for row in session.scalars(select(AccessToken))]
    assert not any(login.token in row or api.token in row for row in stored)

    auth.revoke(api.record.jti)
    with pytest.raises(NotAuthenticated, match="revoked"):
        auth.authenticate(api.token, at)
    assert api.record.jti not in {row.jti for row in auth.tokens()}
    assert api.record.jti in {row.jti for row in auth.tokens(include_dead=True)}
    with pytest.raises(ManagerError, match="No token") as unknown:
        auth.revoke("nope")
    assert unknown.value.status_code == 404


def test_a_services_tokens_are_revoked_together(registry: Registry) -> None:
    auth = authority(registry)
    first = auth.issue_service_token("hello", "1.0.0")
    other = auth.issue_service_token("hello", "1.1.0")
    assert auth.revoke_subject(TokenKind.SERVICE, "hello_1.0.0") == 1
    with pytest.raises(NotAuthenticated, match="revoked"):
        auth.authenticate(first, time.time())
    assert auth.authenticate(other, time.time()).version == "1.1.0"
    assert auth.revoke_subject(TokenKind.SERVICE, "hello_1.0.0") == 0


def test_a_restarted_manager_knows_the_tokens_and_forgets_long_dead_ones(
    registry: Registry,
) -> None:
    auth = authority(registry)
    live = auth.issue(TokenKind.API, ADMIN, ttl=3600)
    revoked = auth.issue(TokenKind.API, ADMIN, ttl=3600)
    auth.revoke(revoked.record.jti)
    old = auth.issue(TokenKind.API, ADMIN, ttl=3600)
    with registry.session() as session:
        row = session.get(AccessToken, old.record.jti)
        assert row is not None
        row.revoked_at = now() - timedelta(days=8)
    again = authority(registry)  # what a new manager process does at start
    at = time.time()
    assert again.authenticate(live.token, at).subject == ADMIN
    with pytest.raises(NotAuthenticated, match="revoked"):
        again.authenticate(revoked.token, at)
    with pytest.raises(NotAuthenticated, match="not known"):
        again.authenticate(old.token, at)
    with registry.session() as session:
        assert session.get(AccessToken, old.record.jti) is None


def test_a_service_token_is_made_again_from_its_record_and_its_hash(registry: Registry) -> None:
    first = Authority(registry, b"k" * 32)
    first.load()
    token = first.issue_service_token("hello", "1.0.0")
    again = Authority(registry, b"k" * 32)  # the next start of the manager
    again.load()
    stored = token_hash(token)
    assert stored != token and len(stored) == 64
    assert again.service_token("hello", "1.0.0", stored) == token
    assert again.service_token("hello", "1.0.0", token_hash("another")) is None
    assert again.service_token("hello", "2.0.0", stored) is None
    again.revoke_subject(TokenKind.SERVICE, "hello_1.0.0")
    assert again.service_token("hello", "1.0.0", stored) is None
