"""plays: one play per user, song and moment, so a client that reports a play twice counts once

Revision ID: 0009
Revises: 0008

A plain index creation on both databases (no table rebuild on SQLite, so the search triggers of
0008 stay in place).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "uq_play_user_song_played", "play", ["user_id", "song_id", "played_at"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_play_user_song_played", table_name="play")
