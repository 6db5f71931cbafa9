"""metadata: provider answers cached by provider and normalised request

Revision ID: 0013
Revises: 0012

A new table only. Nothing is cached before this revision: the first look-up of each title
fetches it from the provider.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metadata_cache",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadata_cache")),
        sa.UniqueConstraint("provider", "key", name=op.f("uq_metadata_cache_provider_key")),
    )
    with op.batch_alter_table("metadata_cache", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_metadata_cache_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("metadata_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metadata_cache_expires_at"))
    op.drop_table("metadata_cache")
