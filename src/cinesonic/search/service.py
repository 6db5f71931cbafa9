"""Search rules: parse a query, find and order the matching documents, draw the hits.

The index (`search_document`, see `cinesonic.models.search`) is written by database triggers in
the transaction of every write to artists, albums and songs; this module only reads it, except
`rebuild_index`, the reindex job's work.

Matching: the query is folded like the index (case, accents, "ø"→"o", apostrophes dropped) and
cut into words; every word must match a word of the thing — for a song, of its title, artists
or album — and the last one may be the start of a word ("sigur r" finds "Sigur Rós").

Order, in three tiers: names equal to the query (articles aside: "beatles" is "The Beatles"),
then names starting with it, then the other matches; within a tier, artists, then albums, then
songs. On SQLite a tier is then in the order things entered the index (FTS5 rowid order, which
costs the page and not the matches: typing one letter must not rank 50,000 songs); PostgreSQL
orders a tier by ts_rank and adds it to the score as a fraction. `pagination.total` counts
matches up to `MAX_TOTAL`. When PostgreSQL finds nothing for a one-word query and `pg_trgm` is
installed, names similar by trigrams are offered instead (typos: "beyonse" → "Beyoncé"), scored
below 1.

Movies, TV shows, episodes and people are indexed too (migration 0016), needing `video.read`;
people are shared like artists and visible when credited on a title the user may read.

Visibility: what lies in libraries the user may read (`search_scope`). Removed songs,
albums without songs and (SQLite) artists without songs or albums are not in the index at all.
"""

# ruff: noqa: S608 — SQL text here is assembled from this module's constants; values are bound.

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Float,
    Select,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import BindParameter

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.db import Database
from cinesonic.errors import Forbidden
from cinesonic.kit.pagination import PageParams
from cinesonic.kit.text import ARTICLES, fold, sort_key
from cinesonic.library import service as library_service
from cinesonic.models.job import Job
from cinesonic.models.library import Library
from cinesonic.models.music import Album, Artist, LibraryArtist, Song, SongArtist
from cinesonic.models.search import KIND_RANGES, KIND_SPAN, SearchDocument
from cinesonic.models.video import Credit, Episode, Movie, Person, TvShow
from cinesonic.music import service as music_service
from cinesonic.music.service import Scope
from cinesonic.search.schemas import (
    AlbumHit,
    ArtistHit,
    EpisodeHit,
    MovieHit,
    PersonHit,
    ReindexStarted,
    SearchPage,
    SearchType,
    SongHit,
    TvShowHit,
)
from cinesonic.worker import queue

log = structlog.get_logger("cinesonic.search")

MAX_WORDS = 12
MAX_TOTAL = 1000
# Names equal to the query, at most this many (they come first on every page).
MAX_EXACT = 50
EXACT, PREFIX, OTHER = 3.0, 2.0, 1.0
# On PostgreSQL, a one-word query that matches nothing is matched by similarity instead, when it
# has this many characters: shorter words share too few trigrams to mean anything.
FUZZY_MIN_LENGTH = 3
TRIGRAM_INDEX = "ix_search_document_key_trgm"
REINDEX_JOB = "search.reindex"

_APOSTROPHES = str.maketrans("", "", "'’ʼ")
_WORD = re.compile(r"[^\W_]+")
_ARTICLE_WORDS = tuple(article.strip() for article in ARTICLES)

doc = SearchDocument.__table__


class SearchForbidden(Forbidden):
    message = "You may not search for this type."


Hit = ArtistHit | AlbumHit | SongHit | MovieHit | TvShowHit | EpisodeHit | PersonHit


@dataclass(frozen=True)
class Source:
    """A searchable type: the permission it needs and its place among equal matches."""

    permission: str
    order: int


SOURCES: dict[SearchType, Source] = {
    SearchType.artist: Source("music.read", 0),
    SearchType.album: Source("music.read", 1),
    SearchType.song: Source("music.read", 2),
    SearchType.movie: Source("video.read", 3),
    SearchType.tvshow: Source("video.read", 4),
    SearchType.episode: Source("video.read", 5),
    SearchType.person: Source("video.read", 6),
}
MUSIC_KINDS = frozenset({SearchType.artist, SearchType.album, SearchType.song})
VIDEO_KINDS = frozenset(
    {SearchType.movie, SearchType.tvshow, SearchType.episode, SearchType.person}
)
# What the video documents are drawn from (see `search_scope` for the cache of answers).
VIDEO_TABLES = (
    "movie",
    "tv_show",
    "season",
    "episode",
    "media_file",
    "video_file",
    "person",
    "credit",
    "video_genre",
    "movie_genre",
    "show_genre",
)
SEARCH_TABLES = (*music_service.MUSIC_TABLES, *VIDEO_TABLES)


@dataclass(frozen=True)
class ParsedQuery:
    words: tuple[str, ...]
    folded: str  # the whole query, folded: compared with a name's key
    without_article: str  # the same without a leading article ("the beatles" → "beatles")

    @property
    def names(self) -> list[str]:
        """The keys a name equal to the query may have: as typed, without its article, or
        with any article (a song's key is its sort title, which has none)."""
        forms = {self.folded, self.without_article}
        forms |= {f"{article} {self.without_article}" for article in _ARTICLE_WORDS}
        forms.discard("")
        return sorted(forms)


def parse_query(raw: str) -> ParsedQuery:
    folded = fold(raw)
    words = tuple(_WORD.findall(folded.translate(_APOSTROPHES)))[:MAX_WORDS]
    return ParsedQuery(words=words, folded=folded, without_article=sort_key(raw))


def searchable_types(
    principal: Principal, requested: Sequence[SearchType] | None
) -> list[SearchType]:
    """The requested types (all the principal may read when none is named); 403 for a type
    named without its permission, or when nothing at all may be searched."""
    if requested:
        refused = [kind for kind in requested if not principal.can(SOURCES[kind].permission)]
        if refused:
            raise SearchForbidden(
                f"You may not search for {', '.join(refused)}.",
                details={"types": [str(kind) for kind in refused]},
            )
        return list(dict.fromkeys(requested))
    allowed = [kind for kind in SOURCES if principal.can(SOURCES[kind].permission)]
    if not allowed:
        raise SearchForbidden("You may not search anything.")
    return allowed


@dataclass(frozen=True)
class Ranked:
    rows: list[tuple[int, float]]  # (search_document id, score), best first
    total: int


def _tie_order() -> ColumnElement[int]:
    return case(
        *((doc.c.kind == kind.value, source.order) for kind, source in SOURCES.items()),
        else_=len(SOURCES),
    )


def _credited(libraries: list[uuid.UUID] | None) -> Select[Any] | CompoundSelect[Any]:
    """People credited on a title of `libraries` (any library when None)."""
    if libraries is None:
        return select(Credit.person_id)
    on_movies = (
        select(Credit.person_id)
        .join(Movie, Movie.id == Credit.movie_id)
        .where(Movie.library_id.in_(libraries))
    )
    on_shows = (
        select(Credit.person_id)
        .join(TvShow, TvShow.id == Credit.show_id)
        .where(TvShow.library_id.in_(libraries))
    )
    return on_movies.union(on_shows)


def _visible(libraries: list[uuid.UUID] | None) -> ColumnElement[bool]:
    """Row by row: albums, songs and video by their library, artists by their songs and
    albums, people by their credits."""
    present = or_(LibraryArtist.song_count > 0, LibraryArtist.album_count > 0)
    artists = select(LibraryArtist.artist_id).where(present)
    people = and_(doc.c.kind == SearchType.person.value, doc.c.ref.in_(_credited(libraries)))
    if libraries is None:
        return or_(
            doc.c.library_id.is_not(None),
            and_(doc.c.kind == SearchType.artist.value, doc.c.ref.in_(artists)),
            people,
        )
    return or_(
        doc.c.library_id.in_(libraries),
        and_(
            doc.c.kind == SearchType.artist.value,
            doc.c.ref.in_(artists.where(LibraryArtist.library_id.in_(libraries))),
        ),
        people,
    )


# ---------------------------------------------------------------- scope and cached answers


def _scope_key(principal: Principal, library_id: uuid.UUID | None) -> str:
    # The permissions are in the key: a principal whose roles change is a new principal.
    manage, read = principal.can("library.manage"), principal.can("library.read")
    return f"search.scope:{principal.id}:{manage:d}{read:d}:{library_id}"


async def search_scope(
    session: AsyncSession, principal: Principal, library_id: uuid.UUID | None = None
) -> Scope:
    """The libraries (of every kind) whose things a search may show, narrowed to `library_id`
    when given (404 when it is not readable); None when every library is readable, the common
    case where queries need no library condition. Kept in `Database.results` while the
    libraries and their grants are unchanged."""
    db = Database.of(session)
    versions = db.table_versions(music_service.SCOPE_TABLES)
    key = _scope_key(principal, library_id)
    scope = db.results.get(key, versions)
    if isinstance(scope, Scope):
        return scope
    readable = await library_service.readable_library_ids(session, principal)
    if library_id is not None:
        if readable is None:
            await library_service.get_library(session, library_id)
        elif library_id not in readable:
            raise library_service.LibraryNotFound()
        scope = Scope([library_id])
    elif readable is None or not readable:
        scope = Scope(readable)
    elif set(await session.scalars(select(Library.id))) <= set(readable):
        scope = Scope(None)
    else:
        scope = Scope(readable)
    db.results.set(key, versions, scope)
    return scope


async def cached_answer(
    db: Database,
    principal: Principal,
    library_id: uuid.UUID | None,
    what: str,
    tables: tuple[str, ...],
    build: Callable[[AsyncSession, Scope], Awaitable[bytes]],
) -> bytes:
    """A serialized answer, reused while none of `tables` has been written since it was built
    (the `music_service.cached_page` pattern): shared by readers of the same libraries, so
    `what` names every parameter that shapes it (and the user, for per-user answers). A hit
    opens no database session when the scope is known."""
    versions = db.table_versions(tables)
    scope = db.results.get(
        _scope_key(principal, library_id), db.table_versions(music_service.SCOPE_TABLES)
    )
    if not isinstance(scope, Scope):
        async with db.session() as session:
            scope = await search_scope(session, principal, library_id)
    known = scope

    async def build_answer() -> bytes:
        async with db.session() as session:
            return await build(session, known)

    libraries = "all" if scope.libraries is None else ",".join(sorted(map(str, scope.libraries)))
    body = await db.results.get_or_build(f"search:{libraries}:{what}", versions, build_answer)
    assert isinstance(body, bytes)
    return body


# ---------------------------------------------------------------- SQLite: FTS5


def fts_prefix_of_name(query: ParsedQuery) -> str | None:
    """The name starts with the query's words, the last one as a prefix. The indexed name is
    the sort form, without its article; so is the query here. None for a lone article ("the"):
    no sort form starts with one, and looking costs a scan of every "the…" word."""
    words = query.words
    if words[0] in _ARTICLE_WORDS:
        words = words[1:]
    if not words:
        return None
    return 'name : ^"' + " ".join(words) + '"*'


def fts_all_words(query: ParsedQuery) -> str:
    words = [f'"{word}"' for word in query.words]
    words[-1] += "*"
    return "{name context} : (" + " ".join(words) + ")"


def _sqlite_kinds(kinds: Sequence[str]) -> str:
    """A rowid condition for the requested kinds (rowids come in one range per kind)."""
    if set(kinds) >= set(KIND_RANGES):
        return "1 = 1"
    return " OR ".join(
        f"(rowid > {KIND_RANGES[kind]} AND rowid < {KIND_RANGES[kind] + KIND_SPAN})"
        for kind in kinds
    )


def _rank_sqlite(
    session: Session,
    query: ParsedQuery,
    kinds: Sequence[str],
    scope: Scope,
    params: PageParams,
) -> Ranked:
    """One statement: the names equal to the query (by `key`), a page's worth of each other
    tier in rowid order, and the matches counted up to MAX_TOTAL — all without touching the
    matches beyond what a page needs."""
    prefix, every = fts_prefix_of_name(query), fts_all_words(query)
    if scope.libraries is None:
        library_filter, exact_visible = "", "1 = 1"
    else:
        tags = " OR ".join(f"l{library.hex}" for library in scope.libraries)
        library_filter = f" AND (tags : ({tags}))"
        exact_visible = (
            "(d.library_id IN :libraries OR (d.kind = 'artist' AND EXISTS (SELECT 1 FROM "
            "library_artist la WHERE la.artist_id = d.ref AND la.library_id IN :libraries "
            "AND (la.song_count > 0 OR la.album_count > 0))) OR (d.kind = 'person' AND EXISTS "
            "(SELECT 1 FROM credit c LEFT JOIN movie m ON m.id = c.movie_id "
            "LEFT JOIN tv_show s ON s.id = c.show_id WHERE c.person_id = d.ref "
            "AND coalesce(m.library_id, s.library_id) IN :libraries)))"
        )
    in_kinds = _sqlite_kinds(kinds)

    def branch(number: int, name: str) -> str:
        return (
            f"UNION ALL SELECT {number}, rowid FROM (SELECT rowid FROM search_fts WHERE "
            f"search_fts MATCH :{name} AND ({in_kinds}) ORDER BY rowid LIMIT :wanted) "
        )

    values: dict[str, Any] = {
        "exact_limit": MAX_EXACT,
        "others": f"({every}){library_filter}",
        "every": f"({every}){library_filter}",
        "wanted": params.offset + params.page_size + MAX_EXACT,
        "count_limit": MAX_TOTAL + 1,
    }
    if prefix is not None:
        values["prefix"] = f"({prefix}){library_filter}"
        values["others"] = f"(({every}) NOT ({prefix})){library_filter}"
    statement = text(
        "SELECT 0 AS tier, id FROM (SELECT d.id AS id FROM search_document d "
        f"WHERE d.key IN :names AND d.kind IN :kinds AND {exact_visible} "
        "ORDER BY d.id LIMIT :exact_limit) "
        + (branch(1, "prefix") if prefix is not None else "")
        + branch(2, "others")
        + "UNION ALL SELECT 3, count(*) FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH "
        f":every AND ({in_kinds}) LIMIT :count_limit)"
    ).bindparams(
        bindparam("names", query.names, expanding=True),
        bindparam("kinds", list(kinds), expanding=True),
    )
    if scope.libraries is not None:
        statement = statement.bindparams(
            bindparam("libraries", [library.hex for library in scope.libraries], expanding=True)
        )
    tiers: dict[int, list[int]] = {0: [], 1: [], 2: []}
    counted = 0
    for tier, value in session.execute(statement, values):
        if tier == 3:
            counted = int(value)
        else:
            tiers[tier].append(int(value))
    seen: set[int] = set()
    ordered: list[tuple[int, float]] = []
    for tier, score in ((0, EXACT), (1, PREFIX), (2, OTHER)):
        for document_id in tiers[tier]:
            if document_id not in seen:
                seen.add(document_id)
                ordered.append((document_id, score))
    total = min(max(counted, len(tiers[0])), MAX_TOTAL)
    return Ranked(ordered[params.offset : params.offset + params.page_size], total)


# ---------------------------------------------------------------- PostgreSQL: tsvector


def tsquery_text(words: Sequence[str]) -> str:
    return " & ".join(f"'{word}'" for word in words) + ":*"


def pg_tier(query: ParsedQuery) -> ColumnElement[float]:
    names = query.names
    by_length: dict[int, list[str]] = {}
    for name in names:
        by_length.setdefault(len(name), []).append(name)
    starts = [func.substr(doc.c.key, 1, length).in_(group) for length, group in by_length.items()]
    return case((doc.c.key.in_(names), EXACT), (or_(*starts), PREFIX), else_=OTHER)


async def _page(
    session: AsyncSession,
    matched: ColumnElement[bool],
    score: ColumnElement[float],
    conditions: list[ColumnElement[bool]],
    params: PageParams,
) -> Ranked:
    capped = select(doc.c.id).where(matched, *conditions).limit(MAX_TOTAL + 1).subquery()
    total = min(int(await session.scalar(select(func.count()).select_from(capped)) or 0), MAX_TOTAL)
    if params.offset >= total:
        return Ranked([], total)
    page = await session.execute(
        select(doc.c.id, score.label("score"))
        .where(matched, *conditions)
        .order_by(score.desc(), _tie_order(), doc.c.key, doc.c.ref)
        .offset(params.offset)
        .limit(min(params.page_size, total - params.offset))
    )
    return Ranked([(row.id, float(row.score)) for row in page], total)


async def _rank_postgres(
    session: AsyncSession,
    query: ParsedQuery,
    kinds: Sequence[str],
    scope: Scope,
    params: PageParams,
) -> Ranked:
    conditions = [doc.c.kind.in_(list(kinds)), _visible(scope.libraries)]
    tsv: ColumnElement[Any] = literal_column("search_document.tsv")
    tsquery = func.to_tsquery(
        literal_column("'simple'::regconfig"), bindparam("tsquery", tsquery_text(query.words))
    )
    relevance = cast(func.ts_rank(tsv, tsquery), Float)
    score = pg_tier(query) + relevance / (relevance + 1.0)
    ranked = await _page(session, tsv.op("@@")(tsquery), score, conditions, params)
    # Typos are forgiven in one-word queries only: for several words, "every word matches" is
    # what the user asked for, and a whole name similar to them all is rarely what they meant.
    if ranked.total or len(query.words) != 1 or len(query.words[0]) < FUZZY_MIN_LENGTH:
        return ranked
    if not await has_trigram_index(session):
        return ranked
    typed: BindParameter[str] = bindparam("fuzzy", query.folded)
    similarity = cast(func.similarity(doc.c.key, typed), Float)
    return await _page(session, doc.c.key.op("%")(typed), similarity * 0.5, conditions, params)


async def has_trigram_index(session: AsyncSession) -> bool:
    """Whether migration 0008 could build the trigram index (pg_trgm may be missing); asked
    once per pooled connection."""
    connection = await session.connection()
    known = connection.info.get(TRIGRAM_INDEX)
    if known is None:
        known = bool(
            await session.scalar(
                text("SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = :name)"),
                {"name": TRIGRAM_INDEX},
            )
        )
        connection.info[TRIGRAM_INDEX] = known
        if not known:
            log.info("search_without_trigrams", hint="pg_trgm is not installed; no typo matching")
    return bool(known)


# ---------------------------------------------------------------- hits


def _draw_statement(all_libraries: bool) -> Select[Any]:
    """What a page of hits shows, for the documents `:documents`; artists' counts in the
    libraries `:libraries` (unless `all_libraries`). Built once per shape: aliases made per
    call would cost SQLAlchemy a new statement, and a compilation, every time."""
    artist, album_artist, primary = (aliased(Artist) for _ in range(3))
    album = aliased(Album)
    first_artist = (
        select(SongArtist.artist_id)
        .where(SongArtist.song_id == Song.id)
        .order_by(SongArtist.position, SongArtist.artist_id)
        .limit(1)
        .scalar_subquery()
    )
    in_libraries = (
        []
        if all_libraries
        else [LibraryArtist.library_id.in_(bindparam("libraries", expanding=True))]
    )

    def readable_sum(column: Any) -> Any:
        return (
            select(func.coalesce(func.sum(column), 0))
            .where(LibraryArtist.artist_id == artist.id, *in_libraries)
            .scalar_subquery()
        )

    return (
        select(
            doc.c.id.label("document_id"),
            doc.c.kind,
            doc.c.ref,
            artist.name.label("artist_name"),
            artist.image_id.label("artist_image_id"),
            readable_sum(LibraryArtist.album_count).label("artist_albums"),
            readable_sum(LibraryArtist.song_count).label("artist_songs"),
            album.id.label("album_id"),
            album.title.label("album_title"),
            album.year.label("album_year"),
            album.cover_image_id.label("album_cover"),
            album.song_count.label("album_songs"),
            album.duration.label("album_duration"),
            album_artist.id.label("album_artist_id"),
            album_artist.name.label("album_artist_name"),
            Song.title.label("song_title"),
            Song.artist_display,
            Song.track_number,
            Song.disc_number,
            Song.year.label("song_year"),
            Song.duration.label("song_duration"),
            Song.format,
            primary.id.label("primary_id"),
            primary.name.label("primary_name"),
        )
        .select_from(doc)
        .outerjoin(artist, and_(doc.c.kind == SearchType.artist.value, artist.id == doc.c.ref))
        .outerjoin(Song, and_(doc.c.kind == SearchType.song.value, Song.id == doc.c.ref))
        .outerjoin(
            album,
            album.id
            == case((doc.c.kind == SearchType.album.value, doc.c.ref), else_=Song.album_id),
        )
        .outerjoin(album_artist, album_artist.id == album.artist_id)
        .outerjoin(primary, primary.id == first_artist)
        .where(doc.c.id.in_(bindparam("documents", expanding=True)))
    )


_DRAW = {all_libraries: _draw_statement(all_libraries) for all_libraries in (True, False)}


def _draw_video_statement() -> Select[Any]:
    """What a page of movie, show, episode and person hits shows (`:documents`)."""
    show = aliased(TvShow)
    return (
        select(
            doc.c.id.label("document_id"),
            doc.c.kind,
            doc.c.ref,
            Movie.title.label("movie_title"),
            Movie.library_id.label("movie_library"),
            Movie.year.label("movie_year"),
            Movie.rating.label("movie_rating"),
            Movie.poster_image_id.label("movie_poster"),
            show.id.label("show_id"),
            show.title.label("show_title"),
            show.library_id.label("show_library"),
            show.year.label("show_year"),
            show.rating.label("show_rating"),
            show.poster_image_id.label("show_poster"),
            Episode.title.label("episode_title"),
            Episode.season_number,
            Episode.episode_number,
            Episode.air_date,
            Person.name.label("person_name"),
            Person.profile_image_id,
        )
        .select_from(doc)
        .outerjoin(Movie, and_(doc.c.kind == SearchType.movie.value, Movie.id == doc.c.ref))
        .outerjoin(Episode, and_(doc.c.kind == SearchType.episode.value, Episode.id == doc.c.ref))
        .outerjoin(
            show,
            show.id
            == case((doc.c.kind == SearchType.tvshow.value, doc.c.ref), else_=Episode.show_id),
        )
        .outerjoin(Person, and_(doc.c.kind == SearchType.person.value, Person.id == doc.c.ref))
        .where(doc.c.id.in_(bindparam("documents", expanding=True)))
    )


_DRAW_VIDEO = _draw_video_statement()


def _draw(
    session: Session, ranked: list[tuple[int, float]], scope: Scope, kinds: Sequence[str]
) -> list[Hit]:
    """The hits of a page, in its order, from one statement per family of `kinds` (music,
    video) over the page's documents (each leaves the other family's documents out)."""
    if not ranked:
        return []
    documents = [document_id for document_id, _score in ranked]
    hits: dict[int, Hit] = {}
    scores = dict(ranked)
    if MUSIC_KINDS.intersection(kinds):
        values: dict[str, Any] = {"documents": documents}
        if scope.libraries is not None:
            values["libraries"] = scope.libraries
        for row in session.execute(_DRAW[scope.libraries is None], values):
            hit = _hit(row, scores[row.document_id])
            if hit is not None:
                hits[row.document_id] = hit
    if VIDEO_KINDS.intersection(kinds):
        for row in session.execute(_DRAW_VIDEO, {"documents": documents}):
            found = _video_hit(row, scores[row.document_id])
            if found is not None:
                hits[row.document_id] = found
    # A thing changed since it was ranked (another transaction) is left out.
    return [hits[document_id] for document_id, _score in ranked if document_id in hits]


def _hit(row: Any, score: float) -> Hit | None:
    album_artist = (
        {"id": row.album_artist_id, "name": row.album_artist_name}
        if row.album_artist_id is not None
        else None
    )
    if row.kind == SearchType.artist.value and row.artist_name is not None:
        return ArtistHit(
            id=row.ref,
            name=row.artist_name,
            score=score,
            image_id=row.artist_image_id,
            album_count=row.artist_albums,
            song_count=row.artist_songs,
        )
    if row.kind == SearchType.album.value and row.album_id is not None and album_artist:
        return AlbumHit.model_validate(
            {
                "id": row.ref,
                "name": row.album_title,
                "title": row.album_title,
                "score": score,
                "artist": album_artist,
                "year": row.album_year,
                "cover_image_id": row.album_cover,
                "song_count": row.album_songs,
                "duration": row.album_duration,
            }
        )
    if row.kind == SearchType.song.value and row.song_title is not None:
        album = None
        if row.album_id is not None:
            album = {
                "id": row.album_id,
                "title": row.album_title,
                "year": row.album_year,
                "cover_image_id": row.album_cover,
                "artist": album_artist,
            }
        first = {"id": row.primary_id, "name": row.primary_name} if row.primary_id else None
        return SongHit.model_validate(
            {
                "id": row.ref,
                "name": row.song_title,
                "title": row.song_title,
                "score": score,
                "artist": first,
                "artist_display": row.artist_display,
                "album": album,
                "track_number": row.track_number,
                "disc_number": row.disc_number,
                "year": row.song_year,
                "duration": row.song_duration,
                "format": row.format,
            }
        )
    return None


def _video_hit(row: Any, score: float) -> Hit | None:
    kind = row.kind
    if kind == SearchType.movie.value and row.movie_title is not None:
        return MovieHit(
            id=row.ref,
            name=row.movie_title,
            title=row.movie_title,
            score=score,
            library_id=row.movie_library,
            year=row.movie_year,
            rating=row.movie_rating,
            poster_image_id=row.movie_poster,
        )
    if kind == SearchType.tvshow.value and row.show_title is not None:
        return TvShowHit(
            id=row.ref,
            name=row.show_title,
            title=row.show_title,
            score=score,
            library_id=row.show_library,
            year=row.show_year,
            rating=row.show_rating,
            poster_image_id=row.show_poster,
        )
    if kind == SearchType.episode.value and row.episode_title and row.show_title is not None:
        return EpisodeHit.model_validate(
            {
                "id": row.ref,
                "name": row.episode_title,
                "title": row.episode_title,
                "score": score,
                "show": {"id": row.show_id, "title": row.show_title},
                "season_number": row.season_number,
                "episode_number": row.episode_number,
                "air_date": row.air_date,
            }
        )
    if kind == SearchType.person.value and row.person_name is not None:
        return PersonHit(
            id=row.ref, name=row.person_name, score=score, profile_image_id=row.profile_image_id
        )
    return None


async def search(
    session: AsyncSession,
    principal: Principal,
    raw_query: str,
    requested: Sequence[SearchType] | None,
    params: PageParams,
) -> tuple[list[Hit], int]:
    types = searchable_types(principal, requested)
    query = parse_query(raw_query)
    if not query.words:
        return [], 0
    scope = await search_scope(session, principal)
    return await search_in(session, scope, query, types, params)


async def search_page(
    db: Database,
    principal: Principal,
    raw_query: str,
    requested: Sequence[SearchType] | None,
    params: PageParams,
) -> bytes:
    """`GET /search` serialized. Answers are kept as browse pages are
    (`music_service.cached_page`): people type the same prefixes, and a library changes
    seldom."""
    types = searchable_types(principal, requested)
    query = parse_query(raw_query)

    async def build(session: AsyncSession, scope: Scope) -> bytes:
        hits, total = await search_in(session, scope, query, types, params, db)
        page = SearchPage(data=hits, pagination=params.meta(total))
        return page.__pydantic_serializer__.to_json(page)

    what = f"search:{query.words}:{query.names}:{[kind.value for kind in types]}:{params}"
    return await cached_answer(db, principal, None, what, SEARCH_TABLES, build)


async def search_in(
    session: AsyncSession,
    scope: Scope,
    query: ParsedQuery,
    types: Sequence[SearchType],
    params: PageParams,
    db: Database | None = None,
) -> tuple[list[Hit], int]:
    """The page's hits and the total. On SQLite, ranking and drawing are one synchronous unit:
    through `db.read` (a reader thread, committed data) when given, else in `session`."""
    if not query.words or scope.libraries == []:
        return [], 0
    kinds = [kind.value for kind in types]
    if session.get_bind().dialect.name == "postgresql":
        ranked = await _rank_postgres(session, query, kinds, scope, params)
        hits = await session.run_sync(lambda sync: _draw(sync, ranked.rows, scope, kinds))
        return hits, ranked.total

    def rank_and_draw(sync: Session) -> tuple[list[Hit], int]:
        found = _rank_sqlite(sync, query, kinds, scope, params)
        return _draw(sync, found.rows, scope, kinds), found.total

    if db is None:
        return await session.run_sync(rank_and_draw)
    return await db.read(session, rank_and_draw)


# ---------------------------------------------------------------- rebuilding


async def start_reindex(
    session: AsyncSession, actor: Principal, origin: Origin | None
) -> ReindexStarted:
    """Queue the rebuild; a rebuild already queued or running is answered instead."""
    try:
        job = await queue.enqueue(
            session, REINDEX_JOB, queue="maintenance", unique_key=REINDEX_JOB, owner_id=actor.id
        )
    except queue.DuplicateJob as duplicate:
        existing = await session.get(Job, uuid.UUID(duplicate.details["job_id"]))
        if existing is None:  # finished between the two reads: queue a new one
            return await start_reindex(session, actor, origin)
        return ReindexStarted(job_id=existing.id, status=existing.status, is_new=False)
    await activity_service.record_by(
        session,
        actor,
        action="search.reindex",
        resource_type="job",
        resource_id=job.id,
        origin=origin,
    )
    return ReindexStarted(job_id=job.id, status=job.status, is_new=True)


# The documents as the triggers of migration 0008 write them (a later migration that changes
# them changes these too; tests compare the two).
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


def _sqlite_words(expression: str) -> str:
    for mark in ("''", "’", "ʼ"):
        expression = f"replace({expression}, '{mark}', '')"
    return expression


def _sqlite_fold(expression: str) -> str:
    for letter, spelled in _SQLITE_SPELLED:
        expression = f"replace({expression}, '{letter}', '{spelled}')"
    return _sqlite_words(expression)


def _next_id(kind: str) -> str:
    base = KIND_RANGES[kind]
    return (
        f"(SELECT coalesce(max(id), {base}) FROM search_document "
        f"WHERE id > {base} AND id < {base + KIND_SPAN}) + row_number() OVER ()"
    )


_ARTIST_PRESENT = "la.artist_id = a.id AND (la.song_count > 0 OR la.album_count > 0)"
SQLITE_INSERT = "INSERT INTO search_document (id, kind, ref, library_id, name, context, key, tags) "
SQLITE_DOCUMENTS = [
    f"SELECT {_next_id('artist')}, 'artist', a.id, NULL, {_sqlite_fold('a.sort_name')}, "
    f"{_sqlite_words('a.name_key')}, "
    "a.name_key, (SELECT group_concat('l' || la.library_id, ' ') FROM library_artist la "
    f"WHERE {_ARTIST_PRESENT}) FROM artist a "
    f"WHERE EXISTS (SELECT 1 FROM library_artist la WHERE {_ARTIST_PRESENT})",
    f"SELECT {_next_id('album')}, 'album', al.id, al.library_id, "
    f"{_sqlite_fold('al.sort_title')}, {_sqlite_words('al.title_key')} || ' ' || "
    f"{_sqlite_words('ar.name_key')}, al.title_key, "
    "'l' || al.library_id FROM album al JOIN artist ar ON ar.id = al.artist_id "
    "WHERE al.song_count > 0",
    f"SELECT {_next_id('song')}, 'song', s.id, s.library_id, {_sqlite_fold('s.sort_title')}, "
    f"{_sqlite_fold('s.title')} || ' ' || "
    f"{_sqlite_fold('s.artist_display')} || ' ' || coalesce(CASE WHEN s.artist_display <> '' "
    f"OR al.is_compilation THEN '' ELSE {_sqlite_words('ar.name_key')} END, '') || ' ' || "
    f"coalesce({_sqlite_words('al.title_key')}, ''), s.sort_title, 'l' || s.library_id "
    "FROM song s LEFT JOIN album al ON al.id = s.album_id "
    "LEFT JOIN artist ar ON ar.id = al.artist_id WHERE s.removed_at IS NULL",
]
POSTGRES_INSERT = "INSERT INTO search_document (kind, ref, library_id, name, context, key, tags) "
POSTGRES_DOCUMENTS = [
    "SELECT 'artist', a.id, NULL::uuid, search_fold(a.name), '', a.name_key, '' FROM artist a",
    "SELECT 'album', al.id, al.library_id, search_fold(al.title), search_fold(ar.name), "
    "al.title_key, '' FROM album al JOIN artist ar ON ar.id = al.artist_id "
    "WHERE al.song_count > 0",
    "SELECT 'song', s.id, s.library_id, search_fold(s.title), "
    "search_fold(concat_ws(' ', s.artist_display, CASE WHEN s.artist_display <> '' "
    "OR al.is_compilation THEN NULL ELSE ar.name END, al.title)), s.sort_title, '' "
    "FROM song s LEFT JOIN album al ON al.id = s.album_id "
    "LEFT JOIN artist ar ON ar.id = al.artist_id WHERE s.removed_at IS NULL",
]


# Video documents, as the triggers of migration 0016 write them.
_VIDEO_ARTICLES = tuple(article.strip() for article in ARTICLES)


def _sqlite_key(expression: str) -> str:
    for letter, spelled in _SQLITE_SPELLED:
        expression = f"replace({expression}, '{letter}', '{spelled}')"
    return f"trim(lower({expression}))"


def _sqlite_sort_form(key: str) -> str:
    cases = " ".join(
        f"WHEN {key} LIKE '{article} _%' THEN substr({key}, {len(article) + 2})"
        for article in _VIDEO_ARTICLES
    )
    return f"CASE {cases} ELSE {key} END"


def _sqlite_title(table: str, alias: str, kind: str) -> str:
    return (
        f"SELECT {_next_id(kind)}, '{kind}', {alias}.id, {alias}.library_id, "
        f"{_sqlite_words(f'{alias}.sort_title')}, "
        f"{_sqlite_fold(f'{alias}.title')} || ' ' || "
        f"coalesce({_sqlite_fold(f'{alias}.original_title')}, '') || ' ' || "
        f"coalesce({alias}.year, ''), {alias}.sort_title, 'l' || {alias}.library_id "
        f"FROM {table} {alias}"
    )


def _pg_title(table: str, alias: str, kind: str) -> str:
    return (
        f"SELECT '{kind}', {alias}.id, {alias}.library_id, search_fold({alias}.title), "
        f"search_fold(concat_ws(' ', {alias}.original_title, {alias}.year::text)), "
        f"{alias}.sort_title, '' FROM {table} {alias}"
    )


_PERSON_LIBRARIES = (
    "SELECT coalesce(m.library_id, s.library_id) AS library_id FROM credit c "
    "LEFT JOIN movie m ON m.id = c.movie_id LEFT JOIN tv_show s ON s.id = c.show_id "
    "WHERE c.person_id = p.id"
)
SQLITE_DOCUMENTS += [
    _sqlite_title("movie", "m", "movie"),
    _sqlite_title("tv_show", "s", "tvshow"),
    f"SELECT {_next_id('episode')}, 'episode', e.id, s.library_id, "
    f"{_sqlite_words(_sqlite_sort_form(_sqlite_key('e.title')))}, "
    f"{_sqlite_fold('e.title')} || ' ' || {_sqlite_fold('s.title')}, "
    f"{_sqlite_key('e.title')}, 'l' || s.library_id "
    "FROM episode e JOIN tv_show s ON s.id = e.show_id "
    "WHERE e.title IS NOT NULL AND trim(e.title) <> ''",
    f"SELECT {_next_id('person')}, 'person', p.id, NULL, "
    f"{_sqlite_words(_sqlite_key('p.name'))}, {_sqlite_fold('p.name')}, "
    f"{_sqlite_key('p.name')}, (SELECT group_concat('l' || library_id, ' ') FROM "
    f"(SELECT DISTINCT library_id FROM ({_PERSON_LIBRARIES}) WHERE library_id IS NOT NULL)) "
    "FROM person p WHERE EXISTS (SELECT 1 FROM credit c WHERE c.person_id = p.id)",
]
POSTGRES_DOCUMENTS += [
    _pg_title("movie", "m", "movie"),
    _pg_title("tv_show", "s", "tvshow"),
    "SELECT 'episode', e.id, s.library_id, search_fold(e.title), search_fold(s.title), "
    "search_fold(e.title), '' FROM episode e JOIN tv_show s ON s.id = e.show_id "
    "WHERE e.title IS NOT NULL AND trim(e.title) <> ''",
    "SELECT 'person', p.id, NULL::uuid, search_fold(p.name), '', search_fold(p.name), '' "
    "FROM person p",
]


async def rebuild_index(session: AsyncSession) -> dict[str, int]:
    """Write every document again from the music and video tables (after a restore, or to repair an
    index a tool writing around the triggers left wrong). One transaction: searches see the
    old index until it commits. Returns the documents written per kind."""
    postgres = session.get_bind().dialect.name == "postgresql"
    Database.note_written(session, "search_document")
    await session.execute(text("DELETE FROM search_document"))
    if postgres:
        for statement in POSTGRES_DOCUMENTS:
            await session.execute(text(POSTGRES_INSERT + statement))
        await session.execute(text("ANALYZE search_document"))
    else:
        for statement in SQLITE_DOCUMENTS:
            await session.execute(text(SQLITE_INSERT + statement))
        # Merge the index's segments into one: the fastest shape to query.
        await session.execute(text("INSERT INTO search_fts (search_fts) VALUES ('optimize')"))
    counts = await session.execute(
        select(doc.c.kind, func.count()).group_by(doc.c.kind).order_by(doc.c.kind)
    )
    return {kind: int(count) for kind, count in counts}
