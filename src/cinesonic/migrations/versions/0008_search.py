"""search: the search index (FTS5 on SQLite; full text + trigram on PostgreSQL), kept by triggers

Revision ID: 0008
Revises: 0006

`search_document` holds one row per artist (with songs or albums somewhere), album (with songs)
and song (not removed). Triggers on `artist`, `album`, `song` and (SQLite) `library_artist`
rewrite a thing's row in the transaction that changed it, so the scanner's bulk inserts, the
moderation of a later issue and a hand-written UPDATE all keep the index right. The SQL that
builds a document lives here, frozen with this revision; the reindex job
(`cinesonic.search.service.rebuild_index`) runs the same statements.

Also the partial indexes browsing pages through: albums with songs and songs not removed, in
title order (by library, and across libraries), and songs by date added.

On SQLite, a migration that rebuilds `artist`, `album`, `song` or `library_artist` (Alembic's
batch mode copies a table and drops the old one) drops these triggers with it and must create
them again.
"""

# ruff: noqa: S608 — the SQL below is assembled from this module's constants, never from input.

from collections.abc import Sequence

import sqlalchemy as sa
import structlog
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = structlog.get_logger("cinesonic.migrations")

INSERT = "INSERT INTO search_document (id, kind, ref, library_id, name, context, key, tags) "
PG_INSERT = "INSERT INTO search_document (kind, ref, library_id, name, context, key, tags) "

# ---------------------------------------------------------------- SQLite

# FTS5's unicode61 tokenizer folds case and Latin diacritics; letters that have no
# decomposition are spelled out first, as `cinesonic.kit.text.fold` does, and apostrophes are
# dropped so "dont" finds "Don't". The `*_key` columns are already folded by Python.
_SQLITE_SPELLED = [
    ("ø", "o"),
    ("Ø", "o"),
    ("æ", "ae"),
    ("Æ", "ae"),
    ("œ", "oe"),
    ("Œ", "oe"),
    ("ß", "ss"),
    ("ẞ", "ss"),
    ("ł", "l"),
    ("Ł", "l"),
    ("đ", "d"),
    ("Đ", "d"),
    ("ð", "d"),
    ("Ð", "d"),
    ("þ", "th"),
    ("Þ", "th"),
]
_APOSTROPHES = ["''", "’", "ʼ"]


def _sqlite_words(expression: str) -> str:
    for mark in _APOSTROPHES:
        expression = f"replace({expression}, '{mark}', '')"
    return expression


def _sqlite_fold(expression: str) -> str:
    for letter, spelled in _SQLITE_SPELLED:
        expression = f"replace({expression}, '{letter}', '{spelled}')"
    return _sqlite_words(expression)


# Rowids per kind (`cinesonic.models.search.KIND_RANGES`): the next free one in the kind's
# range, numbered on when one statement indexes several things.
SPAN = 2**40
BASES = {"artist": 0, "album": SPAN, "song": 2 * SPAN}


def _next_id(kind: str) -> str:
    base = BASES[kind]
    return (
        f"(SELECT coalesce(max(id), {base}) FROM search_document "
        f"WHERE id > {base} AND id < {base + SPAN}) + row_number() OVER ()"
    )


_ARTIST_PRESENT = "la.artist_id = a.id AND (la.song_count > 0 OR la.album_count > 0)"

SQLITE_DOCUMENTS = {
    "artist": (
        f"SELECT {_next_id('artist')}, 'artist', a.id, NULL, {_sqlite_fold('a.sort_name')}, "
        f"{_sqlite_words('a.name_key')}, "
        "a.name_key, (SELECT group_concat('l' || la.library_id, ' ') FROM library_artist la "
        f"WHERE {_ARTIST_PRESENT}) FROM artist a "
        f"WHERE EXISTS (SELECT 1 FROM library_artist la WHERE {_ARTIST_PRESENT}) AND ({{where}})"
    ),
    "album": (
        f"SELECT {_next_id('album')}, 'album', al.id, al.library_id, "
        f"{_sqlite_fold('al.sort_title')}, {_sqlite_words('al.title_key')} || ' ' || "
        f"{_sqlite_words('ar.name_key')}, al.title_key, "
        "'l' || al.library_id FROM album al JOIN artist ar ON ar.id = al.artist_id "
        "WHERE al.song_count > 0 AND ({where})"
    ),
    # `name` is the sort form (no leading article: "The End" → "end"), so "starts with" is one
    # phrase; the whole name is in `context`, with a song's artists and album. The album artist
    # stands in when the song has no artists tag (not for compilations).
    "song": (
        f"SELECT {_next_id('song')}, 'song', s.id, s.library_id, {_sqlite_fold('s.sort_title')}, "
        f"{_sqlite_fold('s.title')} || ' ' || "
        f"{_sqlite_fold('s.artist_display')} || ' ' || coalesce(CASE WHEN s.artist_display <> '' "
        f"OR al.is_compilation THEN '' ELSE {_sqlite_words('ar.name_key')} END, '') || ' ' || "
        f"coalesce({_sqlite_words('al.title_key')}, ''), s.sort_title, 'l' || s.library_id "
        "FROM song s LEFT JOIN album al ON al.id = s.album_id "
        "LEFT JOIN artist ar ON ar.id = al.artist_id "
        "WHERE s.removed_at IS NULL AND ({where})"
    ),
}


def _sqlite_index(kind: str, where: str) -> str:
    return INSERT + SQLITE_DOCUMENTS[kind].format(where=where)


def _sqlite_trigger(name: str, event: str, when: str | None, *statements: str) -> str:
    condition = f" WHEN {when}" if when else ""
    body = "\n  ".join(f"{statement};" for statement in statements)
    return f"CREATE TRIGGER {name} {event}{condition}\nBEGIN\n  {body}\nEND"


def _changed(columns: Sequence[str]) -> str:
    return " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)


def _forget(subquery: str) -> str:
    return f"DELETE FROM search_document WHERE ref IN ({subquery})"


_SONGS_OF_ALBUM = "SELECT id FROM song WHERE album_id = new.id"
_SONGS_OF_ARTIST = (
    "SELECT s.id FROM song s JOIN album al ON al.id = s.album_id WHERE al.artist_id = new.id"
)
_ALBUMS_OF_ARTIST = "SELECT id FROM album WHERE artist_id = new.id"


def _library_artist_trigger(name: str, event: str, row: str, when: str) -> str:
    return _sqlite_trigger(
        name,
        event,
        when,
        f"DELETE FROM search_document WHERE ref = {row}.artist_id",
        _sqlite_index("artist", f"a.id = {row}.artist_id"),
    )


SQLITE_TRIGGERS = [
    # search_document → search_fts (the external-content pattern of the FTS5 manual)
    _sqlite_trigger(
        "search_document_insert",
        "AFTER INSERT ON search_document",
        None,
        "INSERT INTO search_fts (rowid, name, context, tags) "
        "VALUES (new.id, new.name, new.context, new.tags)",
    ),
    _sqlite_trigger(
        "search_document_delete",
        "AFTER DELETE ON search_document",
        None,
        "INSERT INTO search_fts (search_fts, rowid, name, context, tags) "
        "VALUES ('delete', old.id, old.name, old.context, old.tags)",
    ),
    _sqlite_trigger(
        "search_document_update",
        "AFTER UPDATE ON search_document",
        None,
        "INSERT INTO search_fts (search_fts, rowid, name, context, tags) "
        "VALUES ('delete', old.id, old.name, old.context, old.tags)",
        "INSERT INTO search_fts (rowid, name, context, tags) "
        "VALUES (new.id, new.name, new.context, new.tags)",
    ),
    # artist: indexed once a library has songs or albums of theirs (library_artist)
    _sqlite_trigger(
        "search_artist_update",
        "AFTER UPDATE ON artist",
        _changed(["name", "name_key", "sort_name"]),
        "DELETE FROM search_document WHERE ref = new.id",
        _sqlite_index("artist", "a.id = new.id"),
        _forget(_ALBUMS_OF_ARTIST),
        _sqlite_index("album", "al.artist_id = new.id"),
        _forget(_SONGS_OF_ARTIST),
        _sqlite_index("song", "al.artist_id = new.id"),
    ),
    _sqlite_trigger(
        "search_artist_delete",
        "AFTER DELETE ON artist",
        None,
        "DELETE FROM search_document WHERE ref = old.id",
    ),
    _library_artist_trigger(
        "search_library_artist_insert",
        "AFTER INSERT ON library_artist",
        "new",
        "new.song_count > 0 OR new.album_count > 0",
    ),
    _library_artist_trigger(
        "search_library_artist_update",
        "AFTER UPDATE ON library_artist",
        "new",
        "(old.song_count > 0 OR old.album_count > 0) <> (new.song_count > 0 OR new.album_count > 0)"
        " OR old.library_id IS NOT new.library_id",
    ),
    _library_artist_trigger(
        "search_library_artist_delete",
        "AFTER DELETE ON library_artist",
        "old",
        "old.song_count > 0 OR old.album_count > 0",
    ),
    # album
    _sqlite_trigger(
        "search_album_insert",
        "AFTER INSERT ON album",
        "new.song_count > 0",
        _sqlite_index("album", "al.id = new.id"),
    ),
    _sqlite_trigger(
        "search_album_update",
        "AFTER UPDATE ON album",
        f"{_changed(['title', 'title_key', 'sort_title', 'artist_id', 'library_id'])} "
        "OR (old.song_count > 0) <> (new.song_count > 0)",
        "DELETE FROM search_document WHERE ref = new.id",
        _sqlite_index("album", "al.id = new.id"),
    ),
    _sqlite_trigger(
        "search_album_songs_update",
        "AFTER UPDATE ON album",
        _changed(["title_key", "artist_id", "is_compilation"]),
        _forget(_SONGS_OF_ALBUM),
        _sqlite_index("song", "s.album_id = new.id"),
    ),
    _sqlite_trigger(
        "search_album_delete",
        "AFTER DELETE ON album",
        None,
        "DELETE FROM search_document WHERE ref = old.id",
    ),
    # song
    _sqlite_trigger(
        "search_song_insert",
        "AFTER INSERT ON song",
        "new.removed_at IS NULL",
        _sqlite_index("song", "s.id = new.id"),
    ),
    _sqlite_trigger(
        "search_song_update",
        "AFTER UPDATE ON song",
        f"{_changed(['title', 'sort_title', 'artist_display', 'album_id', 'library_id'])} "
        "OR (old.removed_at IS NULL) <> (new.removed_at IS NULL)",
        "DELETE FROM search_document WHERE ref = new.id",
        _sqlite_index("song", "s.id = new.id"),
    ),
    _sqlite_trigger(
        "search_song_delete",
        "AFTER DELETE ON song",
        None,
        "DELETE FROM search_document WHERE ref = old.id",
    ),
]
SQLITE_TRIGGER_NAMES = [statement.split()[2] for statement in SQLITE_TRIGGERS]

# ---------------------------------------------------------------- PostgreSQL

# `cinesonic.kit.text.fold` in SQL: spell out letters without a decomposition, drop
# apostrophes, decompose (NFKD), drop combining marks, lower-case.
PG_FOLD_FUNCTION = r"""
CREATE FUNCTION search_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT lower(regexp_replace(normalize(
  replace(replace(replace(replace(replace(replace(replace(replace(
    translate(value, 'øØłŁđĐðÐ''’ʼ', 'oolldddd'),
    'æ', 'ae'), 'Æ', 'ae'), 'œ', 'oe'), 'Œ', 'oe'), 'ß', 'ss'), 'ẞ', 'ss'), 'þ', 'th'),
    'Þ', 'th'),
  NFKD), '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g'))
$$
"""

# Punctuation splits words ("AC/DC" → ac, dc) before the parser sees it: the default parser
# would otherwise read "ac/dc" as a file path and "a@b.com" as an address.
PG_TSV_COLUMN = (
    "ALTER TABLE search_document ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, "
    "regexp_replace(name, '[[:punct:]]+', ' ', 'g')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, "
    "regexp_replace(context, '[[:punct:]]+', ' ', 'g')), 'B')) STORED"
)

# Artists are indexed whether or not a library has their songs: queries check library_artist.
PG_DOCUMENTS = {
    "artist": (
        "SELECT 'artist', a.id, NULL::uuid, search_fold(a.name), '', a.name_key, '' "
        "FROM artist a WHERE {where}"
    ),
    "album": (
        "SELECT 'album', al.id, al.library_id, search_fold(al.title), search_fold(ar.name), "
        "al.title_key, '' FROM album al JOIN artist ar ON ar.id = al.artist_id "
        "WHERE al.song_count > 0 AND ({where})"
    ),
    "song": (
        "SELECT 'song', s.id, s.library_id, search_fold(s.title), "
        "search_fold(concat_ws(' ', s.artist_display, CASE WHEN s.artist_display <> '' "
        "OR al.is_compilation THEN NULL ELSE ar.name END, al.title)), s.sort_title, '' "
        "FROM song s LEFT JOIN album al ON al.id = s.album_id "
        "LEFT JOIN artist ar ON ar.id = al.artist_id "
        "WHERE s.removed_at IS NULL AND ({where})"
    ),
}


def _pg_index(kind: str, where: str) -> str:
    return PG_INSERT + PG_DOCUMENTS[kind].format(where=where)


def _pg_function(name: str, body: list[str]) -> str:
    statements = "\n  ".join(f"{statement};" for statement in body)
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM search_document WHERE ref = OLD.id;
    RETURN NULL;
  END IF;
  {statements}
  RETURN NULL;
END
$$
"""


def _pg_changed(columns: Sequence[str]) -> str:
    return " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in columns)


def _pg_forget(subquery: str) -> str:
    return _forget(subquery.replace("new.", "NEW."))


PG_FUNCTIONS = {
    "search_index_artist": _pg_function(
        "search_index_artist",
        [
            "DELETE FROM search_document WHERE ref = NEW.id",
            _pg_index("artist", "a.id = NEW.id"),
            "IF TG_OP = 'UPDATE' THEN\n"
            f"    {_pg_forget(_ALBUMS_OF_ARTIST)};\n"
            f"    {_pg_index('album', 'al.artist_id = NEW.id')};\n"
            f"    {_pg_forget(_SONGS_OF_ARTIST)};\n"
            f"    {_pg_index('song', 'al.artist_id = NEW.id')};\n"
            "  END IF",
        ],
    ),
    "search_index_album": _pg_function(
        "search_index_album",
        [
            "DELETE FROM search_document WHERE ref = NEW.id",
            _pg_index("album", "al.id = NEW.id"),
            "IF TG_OP = 'UPDATE' AND ("
            + _pg_changed(["title", "artist_id", "is_compilation"])
            + ") THEN\n"
            f"    {_pg_forget(_SONGS_OF_ALBUM)};\n"
            f"    {_pg_index('song', 's.album_id = NEW.id')};\n"
            "  END IF",
        ],
    ),
    "search_index_song": _pg_function(
        "search_index_song",
        [
            "DELETE FROM search_document WHERE ref = NEW.id",
            _pg_index("song", "s.id = NEW.id"),
        ],
    ),
}

PG_TRIGGERS = {
    "search_artist": ("artist", "search_index_artist", ["name", "name_key"], None),
    "search_album": (
        "album",
        "search_index_album",
        ["title", "title_key", "artist_id", "library_id", "is_compilation"],
        "(OLD.song_count > 0) <> (NEW.song_count > 0)",
    ),
    "search_song": (
        "song",
        "search_index_song",
        ["title", "sort_title", "artist_display", "album_id", "library_id"],
        "(OLD.removed_at IS NULL) <> (NEW.removed_at IS NULL)",
    ),
}


def _pg_triggers() -> list[str]:
    statements = []
    for name, (table, function, columns, extra) in PG_TRIGGERS.items():
        changed = _pg_changed(columns) + (f" OR {extra}" if extra else "")
        statements.append(
            f"CREATE TRIGGER {name}_write AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
        statements.append(
            f"CREATE TRIGGER {name}_update AFTER UPDATE ON {table} "
            f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {function}()"
        )
    return statements


def _create_pg_trigram_index() -> None:
    """pg_trgm is a trusted extension (PostgreSQL 13+), but the role may still lack CREATE on
    the database: without it, search keeps working on full text alone."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning(
            "search_trigram_unavailable",
            reason=str(exc.orig).splitlines()[0] if exc.orig else str(exc),
            hint="Run `CREATE EXTENSION pg_trgm` as a superuser, then `cinesonic migrate` "
            "again from revision 0006, for typo-tolerant search; full-text search works "
            "without it.",
        )
        return
    op.execute(
        "CREATE INDEX ix_search_document_key_trgm ON search_document USING gin (key gin_trgm_ops)"
    )


# name, table, columns, condition (both dialects)
BROWSE_INDEXES = [
    (
        "ix_album_present_library_title",
        "album",
        ["library_id", "sort_title", "id"],
        "song_count > 0",
    ),
    ("ix_album_present_title", "album", ["sort_title", "id"], "song_count > 0"),
    ("ix_album_present_created", "album", ["created_at", "id"], "song_count > 0"),
    (
        "ix_song_present_library_title",
        "song",
        ["library_id", "sort_title", "id"],
        "removed_at IS NULL",
    ),
    ("ix_song_present_title", "song", ["sort_title", "id"], "removed_at IS NULL"),
    ("ix_song_present_created", "song", ["created_at", "id"], "removed_at IS NULL"),
]


def upgrade() -> None:
    for name, table, columns, condition in BROWSE_INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                name,
                columns,
                unique=False,
                sqlite_where=sa.text(condition),
                postgresql_where=sa.text(condition),
            )

    op.create_table(
        "search_document",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.Uuid(), nullable=False),
        sa.Column("library_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_document")),
    )
    with op.batch_alter_table("search_document", schema=None) as batch_op:
        batch_op.create_index("ix_search_document_ref", ["ref"], unique=True)
        batch_op.create_index("ix_search_document_key", ["key"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FOLD_FUNCTION)
        op.execute(PG_TSV_COLUMN)
        op.execute("CREATE INDEX ix_search_document_tsv ON search_document USING gin (tsv)")
        _create_pg_trigram_index()
        for function in PG_FUNCTIONS.values():
            op.execute(function)
        for statement in _pg_triggers():
            op.execute(statement)
        for kind in ("artist", "album", "song"):
            op.execute(_pg_index(kind, "TRUE"))
        return

    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5(name, context, tags, "
        "content='search_document', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2', prefix='1 2 3')"
    )
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)
    for kind in ("artist", "album", "song"):
        op.execute(_sqlite_index(kind, "1 = 1"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, *_rest) in PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name}_write ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_update ON {table}")
        for function in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        op.execute("DROP INDEX IF EXISTS ix_search_document_key_trgm")
        op.execute("DROP INDEX IF EXISTS ix_search_document_tsv")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    with op.batch_alter_table("search_document", schema=None) as batch_op:
        batch_op.drop_index("ix_search_document_key")
        batch_op.drop_index("ix_search_document_ref")
    op.drop_table("search_document")
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm stays: other things may use it, and dropping it needs more rights.
        op.execute("DROP FUNCTION IF EXISTS search_fold(text)")
    for name, table, _columns, _condition in reversed(BROWSE_INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
