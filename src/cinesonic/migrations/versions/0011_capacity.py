"""capacity: the latest disk-usage probe of each library root

Revision ID: 0011
Revises: 0010

A new table only (no rebuild of an existing one on SQLite). Roots probed before this revision
do not exist: every root starts unprobed, and the next run of `capacity.probe` probes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "library_root_capacity",
        sa.Column("root_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ok",
                "warning",
                "alert",
                "unknown",
                name="capacitystatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("used_bytes", sa.BigInteger(), nullable=True),
        sa.Column("free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("used_percent", sa.Float(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["root_id"],
            ["library_root.id"],
            name=op.f("fk_library_root_capacity_root_id_library_root"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("root_id", name=op.f("pk_library_root_capacity")),
    )
    with op.batch_alter_table("library_root_capacity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_library_root_capacity_next_check_at"), ["next_check_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("library_root_capacity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_root_capacity_next_check_at"))
    op.drop_table("library_root_capacity")
