"""refresh: provider image paths and a review flag on movies and TV shows

Revision ID: 0015
Revises: 0014

Additive. `poster_path` / `backdrop_path` are TMDb's image paths (what clients put in
`/images/{type}/{size}/{path}`), empty until a metadata refresh fills them. `needs_review` /
`review_reason` flag an item no provider result matched confidently; existing rows start
unflagged (the default is only used to fill them, then dropped, as the models declare none).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("movie", "tv_show")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("poster_path", sa.String(length=200), nullable=True))
            batch_op.add_column(sa.Column("backdrop_path", sa.String(length=200), nullable=True))
            batch_op.add_column(
                sa.Column("needs_review", sa.Boolean(), nullable=False, server_default=sa.false())
            )
            batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("needs_review", server_default=None)


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("review_reason")
            batch_op.drop_column("needs_review")
            batch_op.drop_column("backdrop_path")
            batch_op.drop_column("poster_path")
