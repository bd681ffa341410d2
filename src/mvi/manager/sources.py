"""Where a version's code came from: the git source of ``mvi deploy --git``.

:class:`GitSource` is the URL, the ref asked for and the commit that was deployed, checked
without I/O (the CLI clones; the manager only records what it is told, and never fetches a
URL). :func:`public_url` drops a password from a URL before it is shown or stored.
:class:`SourceColumns` is the mixin of :class:`~mvi.manager.registry.ServiceVersion` that
stores it (migration ``0006_deploy_sources``).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mvi._exceptions import InvalidArgument

__all__ = ["NO_SOURCE", "GitSource", "SourceColumns", "public_url"]

MAX_URL = 2048
MAX_REF = 255
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")  # SHA-1, or SHA-256 repositories


def _printable(text: str) -> bool:
    return text.isprintable() and not any(c.isspace() and c != " " for c in text)


def public_url(url: str) -> str:
    """``url`` without the password of its user part (``https://u:secret@h/r`` ->
    ``https://u@h/r``); scp-like and local addresses are returned unchanged."""
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}@{host}" if user else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class GitSource:
    """A git URL, the ref asked for (``None``: the default branch) and the commit deployed."""

    url: str
    ref: str | None
    commit: str

    def __post_init__(self) -> None:
        if not self.url or len(self.url) > MAX_URL or not _printable(self.url):
            raise InvalidArgument(
                f"git_url must be 1 to {MAX_URL} printable characters, got {self.url[:80]!r}"
            )
        if public_url(self.url) != self.url:
            raise InvalidArgument("git_url holds a password; send it without one")
        if self.ref is not None and (
            not self.ref or len(self.ref) > MAX_REF or not _printable(self.ref)
        ):
            raise InvalidArgument(
                f"git_ref must be 1 to {MAX_REF} printable characters, got {self.ref[:80]!r}"
            )
        if not _COMMIT.fullmatch(self.commit):
            raise InvalidArgument(
                f"git_commit must be a full commit id (40 or 64 lowercase hex digits), "
                f"got {self.commit[:80]!r}"
            )

    @classmethod
    def of_query(cls, url: str | None, ref: str | None, commit: str | None) -> GitSource | None:
        """The source a deploy request names (``None`` for a plain upload); 422 when only
        part of it is given or a value is malformed."""
        if url is None and ref is None and commit is None:
            return None
        if url is None or commit is None:
            raise InvalidArgument(
                "A git deploy gives git_url and git_commit (git_ref is optional); "
                "`mvi deploy --git URL` sends them"
            )
        return cls(url, ref, commit)

    def columns(self) -> dict[str, str | None]:
        """The registry columns recording this source."""
        return {"git_url": self.url, "git_ref": self.ref, "git_commit": self.commit}


NO_SOURCE: dict[str, str | None] = {"git_url": None, "git_ref": None, "git_commit": None}
"""The registry columns of a version deployed from a folder or an archive."""


class SourceColumns:
    """The source columns of a version (all ``None`` unless it was deployed from git)."""

    git_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The git URL it was cloned from (without a password)."""
    git_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The branch, tag or commit asked for (``None``: the default branch)."""
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The commit id that was deployed."""
