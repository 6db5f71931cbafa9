"""The search index: one `search_document` row per searchable thing (artist, album, song).

Rows are written by database triggers on `artist`, `album`, `song` and `library_artist`
(migration 0008), in the same transaction as the write that changed them — the scanner's bulk
inserts included — so no code path can forget to index. Nothing in Python writes this table
except the reindex job.

- `name` and `context` are the searched words, folded by the database (diacritics, case,
  "ø"/"æ"/"ß" spelled out, apostrophes dropped) so "beyonce" finds "Beyoncé" and "dont" finds
  "Don't". On SQLite `name` is the sort form, without a leading article ("The End" → "end"),
  and `context` the whole name with, for a song, its artists and album; on PostgreSQL `name` is
  the whole name.
- `key` is the Python-folded name (`cinesonic.kit.text`; a song's sort title): exact matches,
  and PostgreSQL's trigram index.
- `library_id` is None for artists, who are shared; `tags` holds the words search filters on
  inside SQLite's full-text index: `l<library id hex>` for each library the thing is in.
- Removed songs, albums without songs and artists without songs or albums have no row.

The full-text structures depend on the database and have no model. SQLite: an FTS5 table
`search_fts` (external content over this table, kept in sync by triggers); its rowids — this
table's ids — are given out in one range per kind (`KIND_RANGES`), so rowid order is artists,
then albums, then songs, and a page of matches in that order costs the page, not the matches.
PostgreSQL: a generated `tsv` column with a GIN index, and a trigram index on `key` when
`pg_trgm` exists. Alembic's autogenerate is told about them below, so it never drops them.
"""

from __future__ import annotations

import uuid
from typing import Any

from alembic.autogenerate import comparators
from alembic.operations import ops
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cinesonic.models.base import Base

# SQLite rowids per kind: [start, start + KIND_SPAN). Kinds added later take the next ranges.
KIND_SPAN = 2**40
KIND_RANGES = {
    "artist": 0,
    "album": KIND_SPAN,
    "song": 2 * KIND_SPAN,
    # migration 0016
    "movie": 3 * KIND_SPAN,
    "tvshow": 4 * KIND_SPAN,
    "episode": 5 * KIND_SPAN,
    "person": 6 * KIND_SPAN,
}


class SearchDocument(Base):
    __tablename__ = "search_document"
    __table_args__ = (
        Index("ix_search_document_ref", "ref", unique=True),
        Index("ix_search_document_key", "key"),
    )

    # INTEGER PRIMARY KEY on SQLite: the rowid that FTS5's external content points at.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    # artist | album | song | movie | tvshow | episode | person (the last four: migration 0016)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[uuid.UUID]  # the thing's id
    library_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(Text, default="")


# Database-specific parts of the index, created by migration 0008 and unknown to the models.
UNMODELLED_TABLES = frozenset(
    {
        "search_fts",
        "search_fts_data",
        "search_fts_idx",
        "search_fts_docsize",
        "search_fts_config",
        "search_fts_content",
    }
)
UNMODELLED_COLUMNS = frozenset({("search_document", "tsv")})
UNMODELLED_INDEXES = frozenset({"ix_search_document_tsv", "ix_search_document_key_trgm"})


def _is_unmodelled(op: ops.MigrateOperation) -> bool:
    if isinstance(op, ops.DropTableOp):
        return op.table_name in UNMODELLED_TABLES
    if isinstance(op, ops.DropColumnOp):
        return (op.table_name, op.column_name) in UNMODELLED_COLUMNS
    if isinstance(op, ops.DropIndexOp):
        return str(op.index_name) in UNMODELLED_INDEXES
    return False


@comparators.dispatch_for("schema", priority=DispatchPriority.LAST)
def _keep_search_index(
    autogen_context: Any, upgrade_ops: ops.UpgradeOps, schemas: Any
) -> PriorityDispatchResult:
    """Autogenerate compares the database with the models; the full-text table, column and
    indexes above are not models, and a generated revision must not drop them."""
    kept: list[ops.MigrateOperation] = []
    for op in upgrade_ops.ops:
        if isinstance(op, ops.ModifyTableOps):
            op.ops = [inner for inner in op.ops if not _is_unmodelled(inner)]
            if not op.ops:
                continue
        elif _is_unmodelled(op):
            continue
        kept.append(op)
    upgrade_ops.ops = kept
    return PriorityDispatchResult.CONTINUE
