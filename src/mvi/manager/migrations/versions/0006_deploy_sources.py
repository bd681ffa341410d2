"""Deploy sources: the git URL, ref and commit of a version deployed with ``mvi deploy --git``.

Revision ID: 0006_deploy_sources
Revises: 0005_app_port
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision = "0006_deploy_sources"
down_revision = "0005_app_port"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``git_url``, ``git_ref`` and ``git_commit`` to ``service_versions`` (``NULL`` for
    every version deployed before: none came from git)."""
    with op.batch_alter_table("service_versions") as batch:
        batch.add_column(sa.Column("git_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("git_ref", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("git_commit", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop the source columns."""
    with op.batch_alter_table("service_versions") as batch:
        batch.drop_column("git_commit")
        batch.drop_column("git_ref")
        batch.drop_column("git_url")
