"""The manager's credentials: its signing secret, its users and the tokens it issued.

The secret that signs tokens lives in the data directory (``secret.key``), created once,
atomically, with mode 0600. Users' passwords are kept as argon2 hashes. Tokens are kept
by id only (the JWT itself is never stored, except a service's own token in its version's
row, which the manager needs to start the version again); the ids are also held in memory
(:attr:`Authority.records`), so checking a request costs no database query. One manager
owns a registry at a time (the data directory's lock), so that copy stays current.

The decisions (what a token may do, whether it is valid) are in :mod:`mvi.manager.auth.access`
and :mod:`mvi.manager.auth.tokens`.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, or_, select

from mvi._exceptions import ConfigurationError, UnknownToken
from mvi.manager.auth.access import Principal, TokenKind
from mvi.manager.auth.tokens import Authenticator, Claims, TokenCodec, TokenRecord, token_hash
from mvi.manager.registry import AccessToken, Registry, User, now

__all__ = [
    "ADMIN",
    "Authority",
    "IssuedToken",
    "hash_password",
    "load_or_create_secret",
    "verify_password",
]

logger = logging.getLogger("mvi.manager.auth")

ADMIN = "admin"
"""The user created at the manager's first start."""
_SECRET_BYTES = 32
_KEEP_DEAD_TOKENS = timedelta(days=7)  # revoked or expired ids stay listed this long
_hasher = PasswordHasher()
# a real hash, so that an unknown user costs as much time as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def load_or_create_secret(path: Path) -> bytes:
    """The signing secret in ``path``, created (0600, atomically) if it does not exist.

    A file readable by others is made private again (with a warning); one that is too short
    is refused.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        _create_secret(path)
        info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077:
        logger.warning("%s was readable by other users; made it private (0600)", path)
        os.chmod(path, 0o600)
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < _SECRET_BYTES:
        raise ConfigurationError(
            f"{path} does not hold a valid signing key; delete it and start the manager "
            "again (every token it signed becomes invalid)"
        )
    return secret


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secrets.token_hex(_SECRET_BYTES) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces a secret another process created meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def hash_password(password: str) -> str:
    """An argon2 hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (``None``: no such user, same cost)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: the only moment its text exists outside the caller."""

    token: str
    record: AccessToken


def _record_of(row: AccessToken) -> TokenRecord:
    return TokenRecord(
        jti=row.jti,
        kind=TokenKind(row.kind),
        subject=row.subject,
        expires_at=None if row.expires_at is None else row.expires_at.timestamp(),
        revoked=row.revoked_at is not None,
        issued_at=row.created_at.timestamp(),
    )


class Authority:
    """Users and tokens of one manager, over its registry (methods are synchronous)."""

    def __init__(self, registry: Registry, secret: bytes) -> None:
        self.registry = registry
        self.codec = TokenCodec(secret)
        self.records: dict[str, TokenRecord] = {}
        self.authenticator = Authenticator(self.codec, self.records)

    def __repr__(self) -> str:
        return f"<Authority tokens={len(self.records)}>"

    # -- start ---------------------------------------------------------------------------
    def load(self) -> None:
        """Forget tokens dead for a week, and hold the ids of the others in memory."""
        cutoff = now() - _KEEP_DEAD_TOKENS
        with self.registry.session() as session:
            session.execute(
                delete(AccessToken).where(
                    or_(AccessToken.revoked_at < cutoff, AccessToken.expires_at < cutoff)
                )
            )
            rows = list(session.scalars(select(AccessToken)))
        self.records.clear()
        self.records.update({row.jti: _record_of(row) for row in rows})

    def ensure_admin(self, password: str | None) -> str | None:
        """Create the admin user at the first start, or set its password to ``password``.

        Returns the random password made for a new admin when ``password`` is ``None``
        (the caller shows it once), else ``None``.
        """
        with self.registry.session() as session:
            admin = session.scalars(select(User).where(User.username == ADMIN)).first()
            if admin is not None and password is None:
                return None
        generated = None if password is not None else secrets.token_urlsafe(15)
        new_hash = hash_password(password if password is not None else generated or "")
        stamp = now()
        with self.registry.session() as session:
            admin = session.scalars(select(User).where(User.username == ADMIN)).first()
            if admin is None:
                session.add(
                    User(
                        username=ADMIN,
                        password_hash=new_hash,
                        created_at=stamp,
                        password_changed_at=stamp,
                    )
                )
                logger.info("created the user %s", ADMIN)
            elif not verify_password(admin.password_hash, password or ""):
                admin.password_hash = new_hash
                admin.password_changed_at = stamp
                logger.info("set the password of %s from MVI_ADMIN_PASSWORD", ADMIN)
        return generated

    # -- users ---------------------------------------------------------------------------
    def check_password(self, username: str, password: str) -> bool:
        """Whether ``username`` exists and ``password`` is theirs (slow on purpose: argon2)."""
        with self.registry.session() as session:
            user = session.scalars(select(User).where(User.username == username)).first()
            stored = user.password_hash if user is not None else None
        return verify_password(stored, password)

    # -- tokens --------------------------------------------------------------------------
    def authenticate(self, token: str | None, at: float) -> Principal:
        """The principal of ``token`` at time ``at`` (raises ``NotAuthenticated``)."""
        return self.authenticator.authenticate(token, at)

    def issue(
        self,
        kind: TokenKind,
        subject: str,
        *,
        ttl: float | None,
        note: str = "",
        service: str | None = None,
        version: str | None = None,
    ) -> IssuedToken:
        """Make, register and return a new token."""
        stamp = now()
        token, claims = self.codec.issue(
            kind, subject, now=stamp.timestamp(), ttl=ttl, service=service, version=version
        )
        row = AccessToken(
            jti=claims.jti,
            kind=str(kind),
            subject=subject,
            note=note[:200],
            created_at=datetime.fromtimestamp(claims.issued_at, stamp.tzinfo),
            expires_at=None
            if claims.expires_at is None
            else datetime.fromtimestamp(claims.expires_at, stamp.tzinfo),
            revoked_at=None,
        )
        with self.registry.session() as session:
            session.add(row)
        self.records[row.jti] = _record_of(row)
        return IssuedToken(token, row)

    def issue_service_token(self, name: str, version: str) -> str:
        """A token for one deployed version: it may call the gateway and notify."""
        key = f"{name}_{version}"
        issued = self.issue(
            TokenKind.SERVICE,
            key,
            ttl=None,
            note=f"service {name} {version}",
            service=name,
            version=version,
        )
        return issued.token

    def service_token(self, name: str, version: str, stored_hash: str | None) -> str | None:
        """The live token of a version, made again from its record (only its hash is
        stored: ``stored_hash``); ``None`` when it has none, or none of that hash."""
        key = f"{name}_{version}"
        for record in self.records.values():
            if record.kind != TokenKind.SERVICE or record.subject != key or record.revoked:
                continue
            if record.issued_at is None:
                continue
            token = self.codec.sign(
                Claims(
                    record.jti,
                    record.kind,
                    key,
                    record.issued_at,
                    record.expires_at,
                    service=name,
                    version=version,
                )
            )
            if stored_hash is not None and token_hash(token) == stored_hash:
                return token
        return None

    def tokens(self, *, include_dead: bool = False) -> list[AccessToken]:
        """Issued tokens, newest first (without the revoked and expired unless asked)."""
        query = select(AccessToken).order_by(AccessToken.created_at.desc(), AccessToken.jti)
        if not include_dead:
            query = query.where(
                AccessToken.revoked_at.is_(None),
                or_(AccessToken.expires_at.is_(None), AccessToken.expires_at > now()),
            )
        with self.registry.session() as session:
            return list(session.scalars(query))

    def revoke(self, jti: str) -> AccessToken:
        """Revoke one token by id (404 if unknown); revoking twice changes nothing."""
        with self.registry.session() as session:
            row = session.get(AccessToken, jti)
            if row is None:
                raise UnknownToken(f"No token has the id {jti!r}; see `mvi token ls`")
            if row.revoked_at is None:
                row.revoked_at = now()
        self.records[row.jti] = _record_of(row)
        return row

    def revoke_subject(self, kind: TokenKind, subject: str) -> int:
        """Revoke every live token of ``kind`` for ``subject``; how many were revoked."""
        stamp = now()
        with self.registry.session() as session:
            rows = list(
                session.scalars(
                    select(AccessToken).where(
                        AccessToken.kind == str(kind),
                        AccessToken.subject == subject,
                        AccessToken.revoked_at.is_(None),
                    )
                )
            )
            for row in rows:
                row.revoked_at = stamp
        for row in rows:
            self.records[row.jti] = _record_of(row)
        return len(rows)
