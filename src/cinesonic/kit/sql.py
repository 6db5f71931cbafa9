"""SQL helpers that know no domain.

`likely(condition)`: a condition true of most rows, said so to SQLite's query planner
(SQLite's `likely()`, which changes nothing else). SQLite plans without statistics unless
someone ran ANALYZE, and then takes an equality on an indexed column for a selective one:
`song.removed_at IS NULL` — true of nearly every song — would make it read every song through
`ix_song_removed_at` and sort them, where it should walk a title index for one page, or start
from an artist's few songs. Partial indexes whose WHERE is the same condition still apply.
Other databases get the condition as it is (PostgreSQL plans from statistics it keeps itself).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class Likely(ColumnElement[bool]):
    # No Boolean type: SQLAlchemy would compare a Boolean expression with 1 on SQLite
    # ("likely(…) = 1"), which no partial index matches.
    inherit_cache = True
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition


def likely(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return Likely(condition)


@compiles(Likely)
def _plain(element: Likely, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.condition, **kw)


@compiles(Likely, "sqlite")
def _sqlite(element: Likely, compiler: SQLCompiler, **kw: Any) -> str:
    return f"likely({compiler.process(element.condition, **kw)})"
