"""Token hashes: the registry keeps the SHA-256 of each version's token, not the token.

Revision ID: 0007_token_hashes
Revises: 0006_deploy_sources
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0007_token_hashes"
down_revision = "0006_deploy_sources"
branch_labels = None
depends_on = None

_HASH = re.compile(r"[0-9a-f]{64}")
_versions = sa.table(
    "service_versions",
    sa.column("id", sa.Integer()),
    sa.column("access_token", sa.Text()),
)


def upgrade() -> None:
    """Replace every stored token by its SHA-256 (hex); the manager makes the token again
    from its record (``access_tokens``) at each start."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_versions.c.id, _versions.c.access_token).where(
            _versions.c.access_token.is_not(None)
        )
    ).all()
    for row_id, token in rows:
        if _HASH.fullmatch(token):
            continue
        digest = hashlib.sha256(token.encode()).hexdigest()
        connection.execute(
            sa.update(_versions).where(_versions.c.id == row_id).values(access_token=digest)
        )


def downgrade() -> None:
    """Forget the hashes (a token cannot be had back from its hash): the older manager
    gives each version a new token at its next start."""
    op.execute(sa.update(_versions).values(access_token=None))
