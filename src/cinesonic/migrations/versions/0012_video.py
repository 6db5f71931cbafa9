"""video: files, movies, TV shows, seasons, episodes, file associations, people, credits,
genres, collections, networks, watch state

Revision ID: 0012
Revises: 0011

New tables only (no rebuild of an existing one on SQLite). `video_genre` is the video genres'
table: `genre` is music's. One-of-two references (a file holds a movie or an episode) are
CHECK constraints, and their uniqueness partial unique indexes (NULLs are distinct in a plain
unique constraint).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "network",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network")),
        sa.UniqueConstraint("tmdb_id", name=op.f("uq_network_tmdb_id")),
    )
    op.create_table(
        "video_genre",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_genre")),
        sa.UniqueConstraint("name", name=op.f("uq_video_genre_name")),
    )
    op.create_table(
        "video_file",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=4096), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("container", sa.String(length=32), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("bit_rate", sa.BigInteger(), nullable=True),
        sa.Column("video_codec", sa.String(length=32), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column(
            "hdr",
            sa.Enum(
                "none",
                "hdr10",
                "hlg",
                "dolby_vision",
                name="videohdr",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("audio_streams", sa.JSON(), nullable=False),
        sa.Column("subtitle_streams", sa.JSON(), nullable=False),
        sa.Column("sidecar_subtitles", sa.JSON(), nullable=False),
        sa.Column("parsed", sa.JSON(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_video_file_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_file")),
        sa.UniqueConstraint("path", name=op.f("uq_video_file_path")),
    )
    with op.batch_alter_table("video_file", schema=None) as batch_op:
        batch_op.create_index(
            "ix_video_file_library_fingerprint", ["library_id", "fingerprint"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_video_file_library_id"), ["library_id"], unique=False)

    op.create_table(
        "collection",
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("overview", sa.Text(), nullable=True),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("poster_image_id", sa.Uuid(), nullable=True),
        sa.Column("backdrop_image_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["backdrop_image_id"],
            ["image.id"],
            name=op.f("fk_collection_backdrop_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["poster_image_id"],
            ["image.id"],
            name=op.f("fk_collection_poster_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection")),
        sa.UniqueConstraint("tmdb_id", name=op.f("uq_collection_tmdb_id")),
    )
    op.create_table(
        "person",
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("imdb_id", sa.String(length=16), nullable=True),
        sa.Column("biography", sa.Text(), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("deathday", sa.Date(), nullable=True),
        sa.Column("place_of_birth", sa.String(length=500), nullable=True),
        sa.Column("profile_image_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_image_id"],
            ["image.id"],
            name=op.f("fk_person_profile_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("tmdb_id", name=op.f("uq_person_tmdb_id")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_name"), ["name"], unique=False)

    op.create_table(
        "tv_show",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("sort_title", sa.String(length=500), nullable=False),
        sa.Column("original_title", sa.String(length=500), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("first_air_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("overview", sa.Text(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("vote_count", sa.Integer(), nullable=True),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("imdb_id", sa.String(length=16), nullable=True),
        sa.Column("poster_image_id", sa.Uuid(), nullable=True),
        sa.Column("backdrop_image_id", sa.Uuid(), nullable=True),
        sa.Column("match_confidence", sa.Float(), nullable=True),
        sa.Column("metadata_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["backdrop_image_id"],
            ["image.id"],
            name=op.f("fk_tv_show_backdrop_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_tv_show_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poster_image_id"],
            ["image.id"],
            name=op.f("fk_tv_show_poster_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tv_show")),
        sa.UniqueConstraint("library_id", "tmdb_id", name=op.f("uq_tv_show_library_id_tmdb_id")),
    )
    with op.batch_alter_table("tv_show", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tv_show_imdb_id"), ["imdb_id"], unique=False)
        batch_op.create_index("ix_tv_show_library_added", ["library_id", "added_at"], unique=False)
        batch_op.create_index("ix_tv_show_library_sort", ["library_id", "sort_title"], unique=False)
        batch_op.create_index(batch_op.f("ix_tv_show_sort_title"), ["sort_title"], unique=False)
        batch_op.create_index(batch_op.f("ix_tv_show_tmdb_id"), ["tmdb_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tv_show_year"), ["year"], unique=False)

    op.create_table(
        "movie",
        sa.Column("library_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("sort_title", sa.String(length=500), nullable=False),
        sa.Column("original_title", sa.String(length=500), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("overview", sa.Text(), nullable=True),
        sa.Column("tagline", sa.Text(), nullable=True),
        sa.Column("runtime_minutes", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("vote_count", sa.Integer(), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("imdb_id", sa.String(length=16), nullable=True),
        sa.Column("poster_image_id", sa.Uuid(), nullable=True),
        sa.Column("backdrop_image_id", sa.Uuid(), nullable=True),
        sa.Column("collection_id", sa.Uuid(), nullable=True),
        sa.Column("match_confidence", sa.Float(), nullable=True),
        sa.Column("metadata_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["backdrop_image_id"],
            ["image.id"],
            name=op.f("fk_movie_backdrop_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_movie_collection_id_collection"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["library.id"],
            name=op.f("fk_movie_library_id_library"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poster_image_id"],
            ["image.id"],
            name=op.f("fk_movie_poster_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movie")),
        sa.UniqueConstraint("library_id", "tmdb_id", name=op.f("uq_movie_library_id_tmdb_id")),
    )
    with op.batch_alter_table("movie", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_movie_collection_id"), ["collection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_movie_imdb_id"), ["imdb_id"], unique=False)
        batch_op.create_index("ix_movie_library_added", ["library_id", "added_at"], unique=False)
        batch_op.create_index("ix_movie_library_sort", ["library_id", "sort_title"], unique=False)
        batch_op.create_index(batch_op.f("ix_movie_sort_title"), ["sort_title"], unique=False)
        batch_op.create_index(batch_op.f("ix_movie_tmdb_id"), ["tmdb_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_movie_year"), ["year"], unique=False)

    op.create_table(
        "season",
        sa.Column("show_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("overview", sa.Text(), nullable=True),
        sa.Column("air_date", sa.Date(), nullable=True),
        sa.Column("poster_image_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["poster_image_id"],
            ["image.id"],
            name=op.f("fk_season_poster_image_id_image"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["show_id"], ["tv_show.id"], name=op.f("fk_season_show_id_tv_show"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_season")),
        sa.UniqueConstraint("show_id", "number", name=op.f("uq_season_show_id_number")),
    )
    op.create_table(
        "show_genre",
        sa.Column("show_id", sa.Uuid(), nullable=False),
        sa.Column("genre_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["genre_id"],
            ["video_genre.id"],
            name=op.f("fk_show_genre_genre_id_video_genre"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["show_id"],
            ["tv_show.id"],
            name=op.f("fk_show_genre_show_id_tv_show"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("show_id", "genre_id", name=op.f("pk_show_genre")),
    )
    with op.batch_alter_table("show_genre", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_show_genre_genre_id"), ["genre_id"], unique=False)

    op.create_table(
        "show_network",
        sa.Column("show_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network.id"],
            name=op.f("fk_show_network_network_id_network"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["show_id"],
            ["tv_show.id"],
            name=op.f("fk_show_network_show_id_tv_show"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("show_id", "network_id", name=op.f("pk_show_network")),
    )
    with op.batch_alter_table("show_network", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_show_network_network_id"), ["network_id"], unique=False
        )

    op.create_table(
        "credit",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("movie_id", sa.Uuid(), nullable=True),
        sa.Column("show_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("cast", "crew", name="creditkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("character", sa.String(length=500), nullable=True),
        sa.Column("job", sa.String(length=200), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("order", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(movie_id IS NULL) <> (show_id IS NULL)", name=op.f("ck_credit_one_item")
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"], ["movie.id"], name=op.f("fk_credit_movie_id_movie"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_credit_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["show_id"], ["tv_show.id"], name=op.f("fk_credit_show_id_tv_show"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit")),
    )
    with op.batch_alter_table("credit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_movie_id"), ["movie_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_show_id"), ["show_id"], unique=False)

    op.create_table(
        "episode",
        sa.Column("show_id", sa.Uuid(), nullable=False),
        sa.Column("season_id", sa.Uuid(), nullable=False),
        sa.Column("season_number", sa.Integer(), nullable=False),
        sa.Column("episode_number", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("overview", sa.Text(), nullable=True),
        sa.Column("air_date", sa.Date(), nullable=True),
        sa.Column("runtime_minutes", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["season_id"],
            ["season.id"],
            name=op.f("fk_episode_season_id_season"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["show_id"], ["tv_show.id"], name=op.f("fk_episode_show_id_tv_show"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episode")),
    )
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_episode_season_id"), ["season_id"], unique=False)
        batch_op.create_index("ix_episode_show_air_date", ["show_id", "air_date"], unique=False)
        batch_op.create_index(
            "ix_episode_show_number", ["show_id", "season_number", "episode_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_episode_tmdb_id"), ["tmdb_id"], unique=False)

    op.create_table(
        "movie_genre",
        sa.Column("movie_id", sa.Uuid(), nullable=False),
        sa.Column("genre_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["genre_id"],
            ["video_genre.id"],
            name=op.f("fk_movie_genre_genre_id_video_genre"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movie.id"],
            name=op.f("fk_movie_genre_movie_id_movie"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("movie_id", "genre_id", name=op.f("pk_movie_genre")),
    )
    with op.batch_alter_table("movie_genre", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_movie_genre_genre_id"), ["genre_id"], unique=False)

    op.create_table(
        "media_file",
        sa.Column("video_file_id", sa.Uuid(), nullable=False),
        sa.Column("movie_id", sa.Uuid(), nullable=True),
        sa.Column("episode_id", sa.Uuid(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("scan", "manual", name="mediafilesource", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(movie_id IS NULL) <> (episode_id IS NULL)", name=op.f("ck_media_file_one_item")
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episode.id"],
            name=op.f("fk_media_file_episode_id_episode"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movie.id"],
            name=op.f("fk_media_file_movie_id_movie"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["video_file_id"],
            ["video_file.id"],
            name=op.f("fk_media_file_video_file_id_video_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_file")),
    )
    with op.batch_alter_table("media_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_file_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_file_movie_id"), ["movie_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_media_file_video_file_id"), ["video_file_id"], unique=False
        )
        batch_op.create_index(
            "uq_media_file_episode",
            ["video_file_id", "episode_id"],
            unique=True,
            sqlite_where=sa.text("episode_id IS NOT NULL"),
            postgresql_where=sa.text("episode_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_media_file_movie",
            ["video_file_id", "movie_id"],
            unique=True,
            sqlite_where=sa.text("movie_id IS NOT NULL"),
            postgresql_where=sa.text("movie_id IS NOT NULL"),
        )

    op.create_table(
        "watch_state",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("movie_id", sa.Uuid(), nullable=True),
        sa.Column("episode_id", sa.Uuid(), nullable=True),
        sa.Column("position_seconds", sa.Float(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("watched", sa.Boolean(), nullable=False),
        sa.Column("play_count", sa.Integer(), nullable=False),
        sa.Column("last_watched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(movie_id IS NULL) <> (episode_id IS NULL)", name=op.f("ck_watch_state_one_item")
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episode.id"],
            name=op.f("fk_watch_state_episode_id_episode"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movie.id"],
            name=op.f("fk_watch_state_movie_id_movie"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_watch_state_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_state")),
    )
    with op.batch_alter_table("watch_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_state_episode_id"), ["episode_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_watch_state_movie_id"), ["movie_id"], unique=False)
        batch_op.create_index(
            "ix_watch_state_user_last", ["user_id", "last_watched_at"], unique=False
        )
        batch_op.create_index(
            "uq_watch_state_user_episode",
            ["user_id", "episode_id"],
            unique=True,
            sqlite_where=sa.text("episode_id IS NOT NULL"),
            postgresql_where=sa.text("episode_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_watch_state_user_movie",
            ["user_id", "movie_id"],
            unique=True,
            sqlite_where=sa.text("movie_id IS NOT NULL"),
            postgresql_where=sa.text("movie_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("watch_state", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_watch_state_user_movie",
            sqlite_where=sa.text("movie_id IS NOT NULL"),
            postgresql_where=sa.text("movie_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_watch_state_user_episode",
            sqlite_where=sa.text("episode_id IS NOT NULL"),
            postgresql_where=sa.text("episode_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_watch_state_user_last")
        batch_op.drop_index(batch_op.f("ix_watch_state_movie_id"))
        batch_op.drop_index(batch_op.f("ix_watch_state_episode_id"))

    op.drop_table("watch_state")
    with op.batch_alter_table("media_file", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_media_file_movie",
            sqlite_where=sa.text("movie_id IS NOT NULL"),
            postgresql_where=sa.text("movie_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_media_file_episode",
            sqlite_where=sa.text("episode_id IS NOT NULL"),
            postgresql_where=sa.text("episode_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_media_file_video_file_id"))
        batch_op.drop_index(batch_op.f("ix_media_file_movie_id"))
        batch_op.drop_index(batch_op.f("ix_media_file_episode_id"))

    op.drop_table("media_file")
    with op.batch_alter_table("movie_genre", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_movie_genre_genre_id"))

    op.drop_table("movie_genre")
    with op.batch_alter_table("episode", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_episode_tmdb_id"))
        batch_op.drop_index("ix_episode_show_number")
        batch_op.drop_index("ix_episode_show_air_date")
        batch_op.drop_index(batch_op.f("ix_episode_season_id"))

    op.drop_table("episode")
    with op.batch_alter_table("credit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_show_id"))
        batch_op.drop_index(batch_op.f("ix_credit_person_id"))
        batch_op.drop_index(batch_op.f("ix_credit_movie_id"))

    op.drop_table("credit")
    with op.batch_alter_table("show_network", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_show_network_network_id"))

    op.drop_table("show_network")
    with op.batch_alter_table("show_genre", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_show_genre_genre_id"))

    op.drop_table("show_genre")
    op.drop_table("season")
    with op.batch_alter_table("movie", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_movie_year"))
        batch_op.drop_index(batch_op.f("ix_movie_tmdb_id"))
        batch_op.drop_index(batch_op.f("ix_movie_sort_title"))
        batch_op.drop_index("ix_movie_library_sort")
        batch_op.drop_index("ix_movie_library_added")
        batch_op.drop_index(batch_op.f("ix_movie_imdb_id"))
        batch_op.drop_index(batch_op.f("ix_movie_collection_id"))

    op.drop_table("movie")
    with op.batch_alter_table("tv_show", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tv_show_year"))
        batch_op.drop_index(batch_op.f("ix_tv_show_tmdb_id"))
        batch_op.drop_index(batch_op.f("ix_tv_show_sort_title"))
        batch_op.drop_index("ix_tv_show_library_sort")
        batch_op.drop_index("ix_tv_show_library_added")
        batch_op.drop_index(batch_op.f("ix_tv_show_imdb_id"))

    op.drop_table("tv_show")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_name"))

    op.drop_table("person")
    op.drop_table("collection")
    with op.batch_alter_table("video_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_file_library_id"))
        batch_op.drop_index("ix_video_file_library_fingerprint")

    op.drop_table("video_file")
    op.drop_table("video_genre")
    op.drop_table("network")
