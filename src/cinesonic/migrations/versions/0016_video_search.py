"""video search: movies, TV shows, episodes and people in the search index, kept by triggers

Revision ID: 0016
Revises: 0015

Extends migration 0008's `search_document` with four kinds, written the same way: by triggers
in the transaction of every write, on `movie`, `tv_show`, `episode`, `person` and (SQLite)
`credit`. SQLite gives each kind the next rowid range (`cinesonic.models.search.KIND_RANGES`).

- movie / tvshow: `name` the sort title (no leading article), `context` the title, original
  title and year, `key` the sort title; `library_id` the thing's.
- episode (with a title only: an untitled episode has nothing to be found by): `name` the sort
  form of its title, `context` the title and its show's title, `library_id` the show's.
- person: shared like artists (`library_id` NULL). SQLite indexes people credited on some title,
  with a `l<library>` tag per library they are credited in (kept by the `credit` triggers);
  PostgreSQL indexes everyone and the query checks the credits.

Episodes and people have no Python-folded column: their `key` is folded by the database
(on SQLite: ASCII case and the spelled-out letters only, so an exact match of an accented
capital falls to the prefix tier).

The SQL is frozen here; the reindex job (`cinesonic.search.service.rebuild_index`) runs the
same statements. A later migration that rebuilds one of these tables on SQLite (batch mode)
drops its triggers and must create them again.
"""

# ruff: noqa: S608 — the SQL below is assembled from this module's constants, never from input.

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("movie", "tvshow", "episode", "person")
INSERT = "INSERT INTO search_document (id, kind, ref, library_id, name, context, key, tags) "
PG_INSERT = "INSERT INTO search_document (kind, ref, library_id, name, context, key, tags) "

# ---------------------------------------------------------------- SQLite

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
_ARTICLES = ("the", "a", "an", "le", "la", "les", "die", "der", "das", "el", "los")


def _sqlite_words(expression: str) -> str:
    for mark in _APOSTROPHES:
        expression = f"replace({expression}, '{mark}', '')"
    return expression


def _sqlite_fold(expression: str) -> str:
    for letter, spelled in _SQLITE_SPELLED:
        expression = f"replace({expression}, '{letter}', '{spelled}')"
    return _sqlite_words(expression)


def _sqlite_key(expression: str) -> str:
    """`kit.text.fold` as far as SQLite can: spelled-out letters, ASCII lower case, trimmed."""
    for letter, spelled in _SQLITE_SPELLED:
        expression = f"replace({expression}, '{letter}', '{spelled}')"
    return f"trim(lower({expression}))"


def _sqlite_sort_form(key: str) -> str:
    """`kit.text.sort_key` over an already folded `key`: a leading article dropped."""
    cases = " ".join(
        f"WHEN {key} LIKE '{article} _%' THEN substr({key}, {len(article) + 2})"
        for article in _ARTICLES
    )
    return f"CASE {cases} ELSE {key} END"


SPAN = 2**40
BASES = {"movie": 3 * SPAN, "tvshow": 4 * SPAN, "episode": 5 * SPAN, "person": 6 * SPAN}


def _next_id(kind: str) -> str:
    base = BASES[kind]
    return (
        f"(SELECT coalesce(max(id), {base}) FROM search_document "
        f"WHERE id > {base} AND id < {base + SPAN}) + row_number() OVER ()"
    )


def _sqlite_title(table: str, alias: str, kind: str) -> str:
    return (
        f"SELECT {_next_id(kind)}, '{kind}', {alias}.id, {alias}.library_id, "
        f"{_sqlite_words(f'{alias}.sort_title')}, "
        f"{_sqlite_fold(f'{alias}.title')} || ' ' || "
        f"coalesce({_sqlite_fold(f'{alias}.original_title')}, '') || ' ' || "
        f"coalesce({alias}.year, ''), {alias}.sort_title, 'l' || {alias}.library_id "
        f"FROM {table} {alias} WHERE ({{where}})"
    )


_PERSON_LIBRARIES = (
    "SELECT coalesce(m.library_id, s.library_id) AS library_id FROM credit c "
    "LEFT JOIN movie m ON m.id = c.movie_id LEFT JOIN tv_show s ON s.id = c.show_id "
    "WHERE c.person_id = p.id"
)

SQLITE_DOCUMENTS = {
    "movie": _sqlite_title("movie", "m", "movie"),
    "tvshow": _sqlite_title("tv_show", "s", "tvshow"),
    "episode": (
        f"SELECT {_next_id('episode')}, 'episode', e.id, s.library_id, "
        f"{_sqlite_words(_sqlite_sort_form(_sqlite_key('e.title')))}, "
        f"{_sqlite_fold('e.title')} || ' ' || {_sqlite_fold('s.title')}, "
        f"{_sqlite_key('e.title')}, 'l' || s.library_id "
        "FROM episode e JOIN tv_show s ON s.id = e.show_id "
        "WHERE e.title IS NOT NULL AND trim(e.title) <> '' AND ({where})"
    ),
    "person": (
        f"SELECT {_next_id('person')}, 'person', p.id, NULL, "
        f"{_sqlite_words(_sqlite_key('p.name'))}, {_sqlite_fold('p.name')}, "
        f"{_sqlite_key('p.name')}, (SELECT group_concat('l' || library_id, ' ') FROM "
        f"(SELECT DISTINCT library_id FROM ({_PERSON_LIBRARIES}) WHERE library_id IS NOT NULL)) "
        "FROM person p WHERE EXISTS (SELECT 1 FROM credit c WHERE c.person_id = p.id) "
        "AND ({where})"
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


def _reindex_person(row: str) -> list[str]:
    return [
        f"DELETE FROM search_document WHERE ref = {row}.person_id",
        _sqlite_index("person", f"p.id = {row}.person_id"),
    ]


_PEOPLE_OF_MOVIE = "SELECT person_id FROM credit WHERE movie_id = new.id"
_PEOPLE_OF_SHOW = "SELECT person_id FROM credit WHERE show_id = new.id"
_EPISODES_OF_SHOW = "SELECT id FROM episode WHERE show_id = new.id"
_TITLE_COLUMNS = ["title", "sort_title", "original_title", "year"]

SQLITE_TRIGGERS = [
    # movie
    _sqlite_trigger(
        "search_movie_insert",
        "AFTER INSERT ON movie",
        None,
        _sqlite_index("movie", "m.id = new.id"),
    ),
    _sqlite_trigger(
        "search_movie_update",
        "AFTER UPDATE ON movie",
        _changed([*_TITLE_COLUMNS, "library_id"]),
        "DELETE FROM search_document WHERE ref = new.id",
        _sqlite_index("movie", "m.id = new.id"),
    ),
    _sqlite_trigger(
        "search_movie_library_update",
        "AFTER UPDATE ON movie",
        _changed(["library_id"]),
        _forget(_PEOPLE_OF_MOVIE),
        _sqlite_index("person", f"p.id IN ({_PEOPLE_OF_MOVIE})"),
    ),
    _sqlite_trigger(
        "search_movie_delete",
        "AFTER DELETE ON movie",
        None,
        "DELETE FROM search_document WHERE ref = old.id",
    ),
    # tv_show: its episodes carry its title and library
    _sqlite_trigger(
        "search_tv_show_insert",
        "AFTER INSERT ON tv_show",
        None,
        _sqlite_index("tvshow", "s.id = new.id"),
    ),
    _sqlite_trigger(
        "search_tv_show_update",
        "AFTER UPDATE ON tv_show",
        _changed([*_TITLE_COLUMNS, "library_id"]),
        "DELETE FROM search_document WHERE ref = new.id",
        _sqlite_index("tvshow", "s.id = new.id"),
    ),
    _sqlite_trigger(
        "search_tv_show_episodes_update",
        "AFTER UPDATE ON tv_show",
        _changed(["title", "library_id"]),
        _forget(_EPISODES_OF_SHOW),
        _sqlite_index("episode", "e.show_id = new.id"),
    ),
    _sqlite_trigger(
        "search_tv_show_library_update",
        "AFTER UPDATE ON tv_show",
        _changed(["library_id"]),
        _forget(_PEOPLE_OF_SHOW),
        _sqlite_index("person", f"p.id IN ({_PEOPLE_OF_SHOW})"),
    ),
    _sqlite_trigger(
        "search_tv_show_delete",
        "AFTER DELETE ON tv_show",
        None,
        "DELETE FROM search_document WHERE ref = old.id",
    ),
    # episode
    _sqlite_trigger(
        "search_episode_insert",
        "AFTER INSERT ON episode",
        None,
        _sqlite_index("episode", "e.id = new.id"),
    ),
    _sqlite_trigger(
        "search_episode_update",
        "AFTER UPDATE ON episode",
        _changed(["title", "show_id"]),
        "DELETE FROM search_document WHERE ref = new.id",
        _sqlite_index("episode", "e.id = new.id"),
    ),
    _sqlite_trigger(
        "search_episode_delete",
        "AFTER DELETE ON episode",
        None,
        "DELETE FROM search_document WHERE ref = old.id",
    ),
    # person: indexed while credited somewhere; its tags follow its credits
    _sqlite_trigger(
        "search_person_update",
        "AFTER UPDATE ON person",
        _changed(["name"]),
        "DELETE FROM search_document WHERE ref = new.id",
        _sqlite_index("person", "p.id = new.id"),
    ),
    _sqlite_trigger(
        "search_person_delete",
        "AFTER DELETE ON person",
        None,
        "DELETE FROM search_document WHERE ref = old.id",
    ),
    _sqlite_trigger(
        "search_credit_insert", "AFTER INSERT ON credit", None, *_reindex_person("new")
    ),
    _sqlite_trigger(
        "search_credit_update",
        "AFTER UPDATE ON credit",
        _changed(["person_id", "movie_id", "show_id"]),
        *_reindex_person("old"),
        *_reindex_person("new"),
    ),
    _sqlite_trigger(
        "search_credit_delete", "AFTER DELETE ON credit", None, *_reindex_person("old")
    ),
]
SQLITE_TRIGGER_NAMES = [statement.split()[2] for statement in SQLITE_TRIGGERS]

# ---------------------------------------------------------------- PostgreSQL


def _pg_title(table: str, alias: str, kind: str) -> str:
    return (
        f"SELECT '{kind}', {alias}.id, {alias}.library_id, search_fold({alias}.title), "
        f"search_fold(concat_ws(' ', {alias}.original_title, {alias}.year::text)), "
        f"{alias}.sort_title, '' FROM {table} {alias} WHERE {{where}}"
    )


PG_DOCUMENTS = {
    "movie": _pg_title("movie", "m", "movie"),
    "tvshow": _pg_title("tv_show", "s", "tvshow"),
    "episode": (
        "SELECT 'episode', e.id, s.library_id, search_fold(e.title), search_fold(s.title), "
        "search_fold(e.title), '' FROM episode e JOIN tv_show s ON s.id = e.show_id "
        "WHERE e.title IS NOT NULL AND trim(e.title) <> '' AND ({where})"
    ),
    "person": (
        "SELECT 'person', p.id, NULL::uuid, search_fold(p.name), '', search_fold(p.name), '' "
        "FROM person p WHERE {where}"
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


PG_FUNCTIONS = {
    "search_index_movie": _pg_function(
        "search_index_movie",
        ["DELETE FROM search_document WHERE ref = NEW.id", _pg_index("movie", "m.id = NEW.id")],
    ),
    "search_index_tv_show": _pg_function(
        "search_index_tv_show",
        [
            "DELETE FROM search_document WHERE ref = NEW.id",
            _pg_index("tvshow", "s.id = NEW.id"),
            "IF TG_OP = 'UPDATE' AND (" + _pg_changed(["title", "library_id"]) + ") THEN\n"
            f"    {_forget(_EPISODES_OF_SHOW.replace('new.', 'NEW.'))};\n"
            f"    {_pg_index('episode', 'e.show_id = NEW.id')};\n"
            "  END IF",
        ],
    ),
    "search_index_episode": _pg_function(
        "search_index_episode",
        [
            "DELETE FROM search_document WHERE ref = NEW.id",
            _pg_index("episode", "e.id = NEW.id"),
        ],
    ),
    "search_index_person": _pg_function(
        "search_index_person",
        ["DELETE FROM search_document WHERE ref = NEW.id", _pg_index("person", "p.id = NEW.id")],
    ),
}

PG_TRIGGERS = {
    "search_movie": ("movie", "search_index_movie", [*_TITLE_COLUMNS, "library_id"]),
    "search_tv_show": ("tv_show", "search_index_tv_show", [*_TITLE_COLUMNS, "library_id"]),
    "search_episode": ("episode", "search_index_episode", ["title", "show_id"]),
    "search_person": ("person", "search_index_person", ["name"]),
}


def _pg_triggers() -> list[str]:
    statements = []
    for name, (table, function, columns) in PG_TRIGGERS.items():
        statements.append(
            f"CREATE TRIGGER {name}_write AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
        statements.append(
            f"CREATE TRIGGER {name}_update AFTER UPDATE ON {table} "
            f"FOR EACH ROW WHEN ({_pg_changed(columns)}) EXECUTE FUNCTION {function}()"
        )
    return statements


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in PG_FUNCTIONS.values():
            op.execute(function)
        for statement in _pg_triggers():
            op.execute(statement)
        for kind in KINDS:
            op.execute(_pg_index(kind, "TRUE"))
        return
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)
    for kind in KINDS:
        op.execute(_sqlite_index(kind, "1 = 1"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, *_rest) in PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name}_write ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_update ON {table}")
        for function in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    kinds = ", ".join(f"'{kind}'" for kind in KINDS)
    op.execute(f"DELETE FROM search_document WHERE kind IN ({kinds})")
