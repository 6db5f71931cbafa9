"""importer: staged albums and files, quarantine, file-move intents, library import rules

Revision ID: 0010
Revises: 0009

New tables only (no rebuild of `song`, `album` or `artist`, whose search triggers stay as 0008
made them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_album",
        sa.Column("group_key", sa.String(length=1100), nullable=False),
        sa.Column("album_artist", sa.String(length=500), nullable=False),
        sa.Column("album", sa.String(length=500), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("disc_total", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "ok",
                "needs_review",
                "failed",
                "approved",
                "rejected",
                "promoted",
                name="importstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("target_library_id", sa.Uuid(), nullable=True),
        sa.Column("reviewer_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["user.id"],
            name=op.f("fk_import_album_reviewer_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_library_id"],
            ["library.id"],
            name=op.f("fk_import_album_target_library_id_library"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_album")),
    )
    with op.batch_alter_table("import_album", schema=None) as batch_op:
        batch_op.create_index("ix_import_album_group", ["group_key", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_import_album_status"), ["status"], unique=False)

    op.create_table(
        "library_import_rule",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("artist_range", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_library_import_rule_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("library_id", name=op.f("pk_library_import_rule")),
    )
    op.create_table(
        "file_move",
        sa.Column("source", sa.String(length=4096), nullable=False),
        sa.Column("destination", sa.String(length=4096), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "planned",
                "copied",
                "done",
                "rolled_back",
                name="filemovestate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_file_move_job_id_job"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_move")),
    )
    with op.batch_alter_table("file_move", schema=None) as batch_op:
        batch_op.create_index("ix_file_move_state", ["state", "created_at"], unique=False)

    op.create_table(
        "import_item",
        sa.Column("album_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ok",
                "needs_review",
                "failed",
                "approved",
                "rejected",
                "promoted",
                name="importstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("original_path", sa.String(length=4096), nullable=False),
        sa.Column("current_path", sa.String(length=4096), nullable=False),
        sa.Column("proposed_path", sa.String(length=4096), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("corrections", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("replaces_song_id", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["album_id"],
            ["import_album.id"],
            name=op.f("fk_import_item_album_id_import_album"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replaces_song_id"],
            ["song.id"],
            name=op.f("fk_import_item_replaces_song_id_song"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_item")),
    )
    with op.batch_alter_table("import_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_item_album_id"), ["album_id"], unique=False)
        batch_op.create_index("ix_import_item_processed", ["sha256", "mtime_ns"], unique=False)
        batch_op.create_index(batch_op.f("ix_import_item_status"), ["status"], unique=False)

    op.create_table(
        "quarantine_item",
        sa.Column("file_path", sa.String(length=4096), nullable=False),
        sa.Column("original_path", sa.String(length=4096), nullable=False),
        sa.Column("inbound_path", sa.String(length=4096), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "checksum_mismatch",
                "tag_parse_error",
                "unsupported_container",
                "ffmpeg_failure",
                "path_safety",
                "validation_bounds",
                "metadata_conflict",
                "duplicate",
                "disk_full",
                "cue_missing_audio",
                "capacity_probe_failed",
                name="quarantinereason",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("library_id", sa.Uuid(), nullable=True),
        sa.Column("import_item_id", sa.Uuid(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "accepted",
                "restored",
                "deleted",
                "requeued",
                name="quarantineresolution",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("resolved_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_item_id"],
            ["import_item.id"],
            name=op.f("fk_quarantine_item_import_item_id_import_item"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_quarantine_item_library_id_library"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["user.id"],
            name=op.f("fk_quarantine_item_resolved_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_item")),
    )
    with op.batch_alter_table("quarantine_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarantine_item_library_id"), ["library_id"], unique=False
        )
        batch_op.create_index("ix_quarantine_item_open", ["resolved_at", "reason"], unique=False)
        batch_op.create_index("ix_quarantine_item_processed", ["sha256", "mtime_ns"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantine_item", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_item_processed")
        batch_op.drop_index("ix_quarantine_item_open")
        batch_op.drop_index(batch_op.f("ix_quarantine_item_library_id"))

    op.drop_table("quarantine_item")
    with op.batch_alter_table("import_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_item_status"))
        batch_op.drop_index("ix_import_item_processed")
        batch_op.drop_index(batch_op.f("ix_import_item_album_id"))

    op.drop_table("import_item")
    with op.batch_alter_table("file_move", schema=None) as batch_op:
        batch_op.drop_index("ix_file_move_state")

    op.drop_table("file_move")
    op.drop_table("library_import_rule")
    with op.batch_alter_table("import_album", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_album_status"))
        batch_op.drop_index("ix_import_album_group")

    op.drop_table("import_album")
