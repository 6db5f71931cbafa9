"""watch: the provider's similar titles on movies and shows; watch state by recency

Revision ID: 0014
Revises: 0013

Additive: two nullable columns (empty until the metadata provider fills them) and one index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("movie", "tv_show"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("similar_tmdb_ids", sa.JSON(), nullable=True))
    with op.batch_alter_table("watch_state", schema=None) as batch_op:
        batch_op.create_index(
            "ix_watch_state_user_updated", ["user_id", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("watch_state", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_state_user_updated")
    for table in ("tv_show", "movie"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("similar_tmdb_ids")
