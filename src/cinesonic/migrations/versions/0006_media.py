"""media: libraries, scans, artists, albums, songs, genres, lyrics, plays, playlists, shares

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "genre",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_genre")),
        sa.UniqueConstraint("name_key", name=op.f("uq_genre_name_key")),
    )
    op.create_table(
        "library",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("music", "movies", "tvshows", name="librarykind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("is_restricted", sa.Boolean(), nullable=False),
        sa.Column("scan_on_start", sa.Boolean(), nullable=False),
        sa.Column("watch_for_changes", sa.Boolean(), nullable=False),
        sa.Column("last_scanned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library")),
        sa.UniqueConstraint("name", name=op.f("uq_library_name")),
    )
    op.create_table(
        "library_permission",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("granted_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["user.id"],
            name=op.f("fk_library_permission_granted_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_library_permission_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_library_permission_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("library_id", "user_id", name=op.f("pk_library_permission")),
    )
    with op.batch_alter_table("library_permission", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_library_permission_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "library_root",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=4096), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_library_root_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_root")),
        sa.UniqueConstraint("path", name=op.f("uq_library_root_path")),
    )
    with op.batch_alter_table("library_root", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_library_root_library_id"), ["library_id"], unique=False
        )

    op.create_table(
        "playlist",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("song_count", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_playlist_owner_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist")),
    )
    with op.batch_alter_table("playlist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_playlist_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "share",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_sealed", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_streaming_minutes", sa.Integer(), nullable=True),
        sa.Column("streamed_seconds", sa.Float(), nullable=False),
        sa.Column("allow_download", sa.Boolean(), nullable=False),
        sa.Column("access_count", sa.Integer(), nullable=False),
        sa.Column("last_accessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_share_owner_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_share_token_hash")),
    )
    with op.batch_alter_table("share", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "artist",
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("sort_name", sa.String(length=500), nullable=False),
        sa.Column("name_key", sa.String(length=500), nullable=False),
        sa.Column("mbz_artist_id", sa.String(length=36), nullable=True),
        sa.Column("image_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["image.id"], name=op.f("fk_artist_image_id_image"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artist")),
        sa.UniqueConstraint("mbz_artist_id", name=op.f("uq_artist_mbz_artist_id")),
    )
    with op.batch_alter_table("artist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artist_name_key"), ["name_key"], unique=False)

    op.create_table(
        "library_scan",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                "cancelled",
                name="scanstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("is_full", sa.Boolean(), nullable=False),
        sa.Column("files_seen", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("bytes_seen", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_library_scan_job_id_job"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_library_scan_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_scan")),
    )
    with op.batch_alter_table("library_scan", schema=None) as batch_op:
        batch_op.create_index(
            "ix_library_scan_library_created", ["library_id", "created_at"], unique=False
        )

    op.create_table(
        "album",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("sort_title", sa.String(length=500), nullable=False),
        sa.Column("title_key", sa.String(length=500), nullable=False),
        sa.Column("artist_id", sa.Uuid(), nullable=False),
        sa.Column("is_compilation", sa.Boolean(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("date", sa.String(length=10), nullable=True),
        sa.Column("mbz_album_id", sa.String(length=36), nullable=True),
        sa.Column("cover_image_id", sa.Uuid(), nullable=True),
        sa.Column("song_count", sa.Integer(), nullable=False),
        sa.Column("disc_count", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("play_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["artist_id"],
            ["artist.id"],
            name=op.f("fk_album_artist_id_artist"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["cover_image_id"],
            ["image.id"],
            name=op.f("fk_album_cover_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_album_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_album")),
    )
    with op.batch_alter_table("album", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_album_artist_id"), ["artist_id"], unique=False)
        batch_op.create_index("ix_album_library_sort", ["library_id", "sort_title"], unique=False)
        batch_op.create_index(
            "ix_album_match", ["library_id", "artist_id", "title_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_album_mbz_album_id"), ["mbz_album_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_album_sort_title"), ["sort_title"], unique=False)
        batch_op.create_index(batch_op.f("ix_album_year"), ["year"], unique=False)

    op.create_table(
        "library_artist",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("artist_id", sa.Uuid(), nullable=False),
        sa.Column("album_count", sa.Integer(), nullable=False),
        sa.Column("song_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["artist_id"],
            ["artist.id"],
            name=op.f("fk_library_artist_artist_id_artist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_library_artist_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("library_id", "artist_id", name=op.f("pk_library_artist")),
    )
    with op.batch_alter_table("library_artist", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_library_artist_artist_id"), ["artist_id"], unique=False
        )

    op.create_table(
        "library_scan_error",
        sa.Column("scan_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=4096), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["library_scan.id"],
            name=op.f("fk_library_scan_error_scan_id_library_scan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_scan_error")),
    )
    with op.batch_alter_table("library_scan_error", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_library_scan_error_scan_id"), ["scan_id"], unique=False
        )

    op.create_table(
        "song",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=4096), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("sort_title", sa.String(length=500), nullable=False),
        sa.Column("album_id", sa.Uuid(), nullable=True),
        sa.Column("artist_display", sa.String(length=1000), nullable=False),
        sa.Column("track_number", sa.Integer(), nullable=True),
        sa.Column("track_total", sa.Integer(), nullable=True),
        sa.Column("disc_number", sa.Integer(), nullable=True),
        sa.Column("disc_total", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("date", sa.String(length=10), nullable=True),
        sa.Column("is_compilation", sa.Boolean(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("bit_rate", sa.Integer(), nullable=True),
        sa.Column("sample_rate", sa.Integer(), nullable=True),
        sa.Column("bit_depth", sa.Integer(), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("codec", sa.String(length=32), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("mbz_recording_id", sa.String(length=36), nullable=True),
        sa.Column("mbz_track_id", sa.String(length=36), nullable=True),
        sa.Column("replaygain_track_gain", sa.Float(), nullable=True),
        sa.Column("replaygain_track_peak", sa.Float(), nullable=True),
        sa.Column("replaygain_album_gain", sa.Float(), nullable=True),
        sa.Column("replaygain_album_peak", sa.Float(), nullable=True),
        sa.Column("bpm", sa.Float(), nullable=True),
        sa.Column("has_lyrics", sa.Boolean(), nullable=False),
        sa.Column("play_count", sa.Integer(), nullable=False),
        sa.Column("last_played_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["album_id"], ["album.id"], name=op.f("fk_song_album_id_album"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_song_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_song")),
    )
    with op.batch_alter_table("song", schema=None) as batch_op:
        batch_op.create_index(
            "ix_song_album_order", ["album_id", "disc_number", "track_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_song_fingerprint"), ["fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_song_format"), ["format"], unique=False)
        batch_op.create_index("ix_song_library_created", ["library_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_song_play_count"), ["play_count"], unique=False)
        batch_op.create_index(batch_op.f("ix_song_removed_at"), ["removed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_song_sort_title"), ["sort_title"], unique=False)
        batch_op.create_index(batch_op.f("ix_song_year"), ["year"], unique=False)
        batch_op.create_index("uq_song_library_path", ["library_id", "path"], unique=True)

    op.create_table(
        "play",
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("song_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("played_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["song_id"], ["song.id"], name=op.f("fk_play_song_id_song"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_play_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_play")),
    )
    with op.batch_alter_table("play", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_play_song_id"), ["song_id"], unique=False)
        batch_op.create_index("ix_play_user_played", ["user_id", "played_at"], unique=False)

    op.create_table(
        "playlist_item",
        sa.Column("playlist_id", sa.Uuid(), nullable=False),
        sa.Column("song_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlist.id"],
            name=op.f("fk_playlist_item_playlist_id_playlist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["song_id"], ["song.id"], name=op.f("fk_playlist_item_song_id_song"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist_item")),
    )
    with op.batch_alter_table("playlist_item", schema=None) as batch_op:
        batch_op.create_index("ix_playlist_item_order", ["playlist_id", "position"], unique=False)
        batch_op.create_index(batch_op.f("ix_playlist_item_song_id"), ["song_id"], unique=False)

    op.create_table(
        "share_access",
        sa.Column("share_id", sa.Uuid(), nullable=False),
        sa.Column("song_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("accessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["share_id"],
            ["share.id"],
            name=op.f("fk_share_access_share_id_share"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["song_id"], ["song.id"], name=op.f("fk_share_access_song_id_song"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_access")),
    )
    with op.batch_alter_table("share_access", schema=None) as batch_op:
        batch_op.create_index("ix_share_access_share_at", ["share_id", "accessed_at"], unique=False)

    op.create_table(
        "share_item",
        sa.Column("share_id", sa.Uuid(), nullable=False),
        sa.Column("song_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["share_id"],
            ["share.id"],
            name=op.f("fk_share_item_share_id_share"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["song_id"], ["song.id"], name=op.f("fk_share_item_song_id_song"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("share_id", "song_id", name=op.f("pk_share_item")),
    )
    with op.batch_alter_table("share_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_item_song_id"), ["song_id"], unique=False)

    op.create_table(
        "song_artist",
        sa.Column("song_id", sa.Uuid(), nullable=False),
        sa.Column("artist_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["artist_id"],
            ["artist.id"],
            name=op.f("fk_song_artist_artist_id_artist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["song_id"], ["song.id"], name=op.f("fk_song_artist_song_id_song"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("song_id", "artist_id", name=op.f("pk_song_artist")),
    )
    with op.batch_alter_table("song_artist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_song_artist_artist_id"), ["artist_id"], unique=False)

    op.create_table(
        "song_genre",
        sa.Column("song_id", sa.Uuid(), nullable=False),
        sa.Column("genre_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["genre_id"],
            ["genre.id"],
            name=op.f("fk_song_genre_genre_id_genre"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["song_id"], ["song.id"], name=op.f("fk_song_genre_song_id_song"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("song_id", "genre_id", name=op.f("pk_song_genre")),
    )
    with op.batch_alter_table("song_genre", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_song_genre_genre_id"), ["genre_id"], unique=False)

    op.create_table(
        "song_lyrics",
        sa.Column("song_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("is_synced", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["song_id"], ["song.id"], name=op.f("fk_song_lyrics_song_id_song"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_song_lyrics")),
    )
    with op.batch_alter_table("song_lyrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_song_lyrics_song_id"), ["song_id"], unique=False)

    op.create_table(
        "song_user_stat",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("song_id", sa.Uuid(), nullable=False),
        sa.Column("play_count", sa.Integer(), nullable=False),
        sa.Column("last_played_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["song_id"],
            ["song.id"],
            name=op.f("fk_song_user_stat_song_id_song"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_song_user_stat_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "song_id", name=op.f("pk_song_user_stat")),
    )
    with op.batch_alter_table("song_user_stat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_song_user_stat_song_id"), ["song_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("song_user_stat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_song_user_stat_song_id"))

    op.drop_table("song_user_stat")
    with op.batch_alter_table("song_lyrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_song_lyrics_song_id"))

    op.drop_table("song_lyrics")
    with op.batch_alter_table("song_genre", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_song_genre_genre_id"))

    op.drop_table("song_genre")
    with op.batch_alter_table("song_artist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_song_artist_artist_id"))

    op.drop_table("song_artist")
    with op.batch_alter_table("share_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_item_song_id"))

    op.drop_table("share_item")
    with op.batch_alter_table("share_access", schema=None) as batch_op:
        batch_op.drop_index("ix_share_access_share_at")

    op.drop_table("share_access")
    with op.batch_alter_table("playlist_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playlist_item_song_id"))
        batch_op.drop_index("ix_playlist_item_order")

    op.drop_table("playlist_item")
    with op.batch_alter_table("play", schema=None) as batch_op:
        batch_op.drop_index("ix_play_user_played")
        batch_op.drop_index(batch_op.f("ix_play_song_id"))

    op.drop_table("play")
    with op.batch_alter_table("song", schema=None) as batch_op:
        batch_op.drop_index("uq_song_library_path")
        batch_op.drop_index(batch_op.f("ix_song_year"))
        batch_op.drop_index(batch_op.f("ix_song_sort_title"))
        batch_op.drop_index(batch_op.f("ix_song_removed_at"))
        batch_op.drop_index(batch_op.f("ix_song_play_count"))
        batch_op.drop_index("ix_song_library_created")
        batch_op.drop_index(batch_op.f("ix_song_format"))
        batch_op.drop_index(batch_op.f("ix_song_fingerprint"))
        batch_op.drop_index("ix_song_album_order")

    op.drop_table("song")
    with op.batch_alter_table("library_scan_error", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_scan_error_scan_id"))

    op.drop_table("library_scan_error")
    with op.batch_alter_table("library_artist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_artist_artist_id"))

    op.drop_table("library_artist")
    with op.batch_alter_table("album", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_album_year"))
        batch_op.drop_index(batch_op.f("ix_album_sort_title"))
        batch_op.drop_index(batch_op.f("ix_album_mbz_album_id"))
        batch_op.drop_index("ix_album_match")
        batch_op.drop_index("ix_album_library_sort")
        batch_op.drop_index(batch_op.f("ix_album_artist_id"))

    op.drop_table("album")
    with op.batch_alter_table("library_scan", schema=None) as batch_op:
        batch_op.drop_index("ix_library_scan_library_created")

    op.drop_table("library_scan")
    with op.batch_alter_table("artist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artist_name_key"))

    op.drop_table("artist")
    with op.batch_alter_table("share", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_owner_id"))

    op.drop_table("share")
    with op.batch_alter_table("playlist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playlist_owner_id"))

    op.drop_table("playlist")
    with op.batch_alter_table("library_root", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_root_library_id"))

    op.drop_table("library_root")
    with op.batch_alter_table("library_permission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_permission_user_id"))

    op.drop_table("library_permission")
    op.drop_table("library")
    op.drop_table("genre")
