"""Movie and TV show search with filters (`/search/movies`, `/search/tvshows`) and their facet
counts.

Matching `q` uses the search index (`cinesonic.search.service`: same words, prefix and tiers);
without `q` the filters browse. Filters combine with AND; the values of one repeatable filter
(`genre`, `resolution`) with OR. Facets count the titles matching every filter except the
facet's own (so a chosen genre still shows how many titles each other genre would add).

A title's resolution is its best present file's (a show's: its best episode file's), classed
by `Resolution`; titles without a file with known dimensions have none.
"""

# ruff: noqa: S608 — the FTS text here is assembled from this module's constants; values are bound.

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.errors import ValidationFailed
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.models.search import KIND_RANGES, KIND_SPAN, SearchDocument
from cinesonic.models.video import (
    Episode,
    MediaFile,
    Movie,
    MovieGenre,
    ShowGenre,
    TvShow,
    VideoFile,
    VideoGenre,
    WatchState,
)
from cinesonic.music.service import Scope
from cinesonic.search import service as search_service
from cinesonic.search.schemas import (
    DecadeFacet,
    Facets,
    GenreFacet,
    MovieResult,
    MovieResultPage,
    RatingFacet,
    Resolution,
    ResolutionFacet,
    SearchType,
    TvShowResult,
    TvShowResultPage,
)
from cinesonic.video import service as video_service

doc = SearchDocument.__table__

# Resolution classes by rank (higher is better), with the lines from which a file has them.
RANKS: dict[int, Resolution] = {
    1: Resolution.sd,
    2: Resolution.hd720,
    3: Resolution.hd1080,
    4: Resolution.uhd2160,
}
_FROM_LINES = {4: 2000, 3: 1000, 2: 700}
RELEVANCE = "relevance"  # a sort, with `q` only
RATING_BUCKETS = [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]


@dataclass(frozen=True)
class Filters:
    q: str | None = None
    genres: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    min_rating: float | None = None
    resolutions: tuple[Resolution, ...] = ()
    library_id: uuid.UUID | None = None
    watched: bool | None = None

    def describe(self, user_id: uuid.UUID) -> str:
        """Every value that shapes an answer (the caller's id when `watched` is given)."""
        return repr(self) + (f":{user_id}" if self.watched is not None else "")


@dataclass(frozen=True)
class Catalog:
    kind: SearchType
    model: Any  # Movie | TvShow
    genre_link: Any  # MovieGenre | ShowGenre
    genre_owner: Any
    sorts: dict[str, Any] = field(default_factory=dict)


CATALOGS = {
    SearchType.movie: Catalog(
        SearchType.movie, Movie, MovieGenre, MovieGenre.movie_id, video_service.MOVIE_SORTS
    ),
    SearchType.tvshow: Catalog(
        SearchType.tvshow, TvShow, ShowGenre, ShowGenre.show_id, video_service.SHOW_SORTS
    ),
}


def blank(name: str) -> ValidationFailed:
    return _invalid(name, "must not be blank")


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        details=[{"field": name, "location": "query", "message": message, "type": "value_error"}]
    )


def _rank_of_file() -> ColumnElement[int]:
    """A file's resolution rank: its height, or its width at 16:9 (1920×800 is 1080p)."""
    whens = [
        (or_(VideoFile.height >= lines, VideoFile.width * 9 >= lines * 16), rank)
        for rank, lines in sorted(_FROM_LINES.items(), reverse=True)
    ]
    return case(*whens, else_=1)


def best_rank(catalog: Catalog) -> ColumnElement[Any]:
    """The best present file's rank, per title (a correlated subquery; None without files)."""
    files = (
        select(func.max(_rank_of_file()))
        .select_from(MediaFile)
        .join(VideoFile, VideoFile.id == MediaFile.video_file_id)
        .where(VideoFile.removed_at.is_(None), VideoFile.height.is_not(None))
    )
    if catalog.kind == SearchType.movie:
        files = files.where(MediaFile.movie_id == Movie.id)
    else:
        files = files.join(Episode, Episode.id == MediaFile.episode_id).where(
            Episode.show_id == TvShow.id
        )
    return files.correlate(catalog.model).scalar_subquery()


def _watched(catalog: Catalog, user_id: uuid.UUID) -> ColumnElement[bool]:
    if catalog.kind == SearchType.movie:
        return exists().where(
            WatchState.user_id == user_id,
            WatchState.movie_id == Movie.id,
            WatchState.watched.is_(True),
        )
    seen = exists().where(
        WatchState.user_id == user_id,
        WatchState.episode_id == Episode.id,
        WatchState.watched.is_(True),
    )
    # A show is watched when it has episodes and every one of them is.
    return and_(
        exists().where(Episode.show_id == TvShow.id),
        not_(exists().where(Episode.show_id == TvShow.id, not_(seen))),
    )


def _genre_ids(values: Sequence[str]) -> Select[Any]:
    ids, names = [], []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            names.append(value.strip().lower())
    return select(VideoGenre.id).where(
        or_(VideoGenre.id.in_(ids), func.lower(VideoGenre.name).in_(names))
    )


def _fts(name: str, expression: str, kind: str) -> Any:
    base = KIND_RANGES[kind]
    return (
        text(
            f"SELECT rowid FROM search_fts WHERE search_fts MATCH :{name} "
            f"AND rowid > {base} AND rowid < {base + KIND_SPAN}"
        )
        .bindparams(**{name: expression})
        .columns(literal_column("rowid", Integer))
    )


def _matched(
    catalog: Catalog, query: search_service.ParsedQuery, postgres: bool
) -> ColumnElement[bool]:
    """Documents of the catalog's kind matching every word of `query` (the last as prefix)."""
    kind = catalog.kind.value
    if postgres:
        tsquery = func.to_tsquery(
            literal_column("'simple'::regconfig"), search_service.tsquery_text(query.words)
        )
        return and_(doc.c.kind == kind, literal_column("search_document.tsv").op("@@")(tsquery))
    every = _fts("match_every", search_service.fts_all_words(query), kind)
    return and_(doc.c.kind == kind, doc.c.id.in_(every))


def _score(
    catalog: Catalog, query: search_service.ParsedQuery, postgres: bool
) -> ColumnElement[Any]:
    if postgres:
        tsv: ColumnElement[Any] = literal_column("search_document.tsv")
        tsquery = func.to_tsquery(
            literal_column("'simple'::regconfig"), search_service.tsquery_text(query.words)
        )
        relevance = cast(func.ts_rank(tsv, tsquery), Float)
        return search_service.pg_tier(query) + relevance / (relevance + 1.0)
    prefix = search_service.fts_prefix_of_name(query)
    whens: list[Any] = [(doc.c.key.in_(query.names), search_service.EXACT)]
    if prefix is not None:
        starts = _fts("match_prefix", prefix, catalog.kind.value)
        whens.append((doc.c.id.in_(starts), search_service.PREFIX))
    return case(*whens, else_=search_service.OTHER)


def _conditions(
    catalog: Catalog,
    filters: Filters,
    libraries: list[uuid.UUID] | None,
    user_id: uuid.UUID,
    postgres: bool,
    *,
    skip: str | None = None,
) -> list[ColumnElement[bool]]:
    model = catalog.model
    conditions: list[ColumnElement[bool]] = []
    if libraries is not None:
        conditions.append(model.library_id.in_(libraries))
    query = _parsed(filters)
    if query is not None:
        conditions.append(model.id.in_(select(doc.c.ref).where(_matched(catalog, query, postgres))))
    if filters.genres and skip != "genre":
        tagged = select(catalog.genre_owner).where(
            catalog.genre_link.genre_id.in_(_genre_ids(filters.genres))
        )
        conditions.append(model.id.in_(tagged))
    if skip != "year":
        if filters.year_from is not None:
            conditions.append(model.year >= filters.year_from)
        if filters.year_to is not None:
            conditions.append(model.year <= filters.year_to)
    if filters.min_rating is not None and skip != "rating":
        conditions.append(model.rating >= filters.min_rating)
    if filters.resolutions and skip != "resolution":
        ranks = [rank for rank, name in RANKS.items() if name in filters.resolutions]
        conditions.append(best_rank(catalog).in_(ranks))
    if filters.watched is not None:
        watched = _watched(catalog, user_id)
        conditions.append(watched if filters.watched else not_(watched))
    return conditions


def _parsed(filters: Filters) -> search_service.ParsedQuery | None:
    if filters.q is None:
        return None
    query = search_service.parse_query(filters.q)
    return query if query.words else None


def validate(filters: Filters, params: PageParams | None = None) -> None:
    if filters.q is not None and not filters.q.strip():
        raise _invalid("q", "must not be blank")
    if (
        filters.year_from is not None
        and filters.year_to is not None
        and filters.year_from > filters.year_to
    ):
        raise _invalid("year_to", "must not be before year_from")
    if params is not None:
        for name, _descending in params.sort:
            if name == RELEVANCE and filters.q is None:
                raise _invalid("sort", "relevance needs a query (`q`)")


async def search_titles(
    session: AsyncSession,
    scope: Scope,
    catalog: Catalog,
    filters: Filters,
    params: PageParams,
    user_id: uuid.UUID,
) -> MovieResultPage | TvShowResultPage:
    """One page of the catalog's titles matching `filters`, ranked by relevance when `q` is
    given (then title), else in title order, unless `sort` says otherwise."""
    validate(filters, params)
    postgres = session.get_bind().dialect.name == "postgresql"
    model = catalog.model
    query = _parsed(filters)
    if scope.libraries == [] or (filters.q is not None and query is None):
        return _empty(catalog, params)
    conditions = _conditions(catalog, filters, scope.libraries, user_id, postgres)
    score: ColumnElement[Any] | None = None
    statement = select(model, best_rank(catalog).label("rank"))
    if query is not None:
        score = _score(catalog, query, postgres)
        statement = statement.add_columns(score.label("score")).join(
            doc, and_(doc.c.ref == model.id, doc.c.kind == catalog.kind.value)
        )
    sorts: dict[str, Any] = {**catalog.sorts}
    default: list[ColumnElement[Any]] = [model.sort_title.asc()]
    if score is not None:
        sorts[RELEVANCE] = score
        default = [score.desc(), model.sort_title.asc()]
    statement = apply_sort(statement.where(*conditions), params, sorts, default, model.id.asc())
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return await _drawn(session, catalog, rows, params, total)


async def _drawn(
    session: AsyncSession, catalog: Catalog, rows: Sequence[Any], params: PageParams, total: int
) -> MovieResultPage | TvShowResultPage:
    titles = [row[0] for row in rows]
    extra = [
        {
            "resolution": RANKS.get(row.rank) if row.rank is not None else None,
            "score": float(row.score) if "score" in row._fields else None,
        }
        for row in rows
    ]
    if catalog.kind == SearchType.movie:
        reads = await video_service.movie_reads(session, titles)
        movies = [
            MovieResult(**read.model_dump(exclude={"poster_url", "backdrop_url"}), **more)
            for read, more in zip(reads, extra, strict=True)
        ]
        return MovieResultPage(data=movies, pagination=params.meta(total))
    shows = await video_service.show_reads(session, titles)
    results = [
        TvShowResult(**read.model_dump(exclude={"poster_url", "backdrop_url"}), **more)
        for read, more in zip(shows, extra, strict=True)
    ]
    return TvShowResultPage(data=results, pagination=params.meta(total))


def _empty(catalog: Catalog, params: PageParams) -> MovieResultPage | TvShowResultPage:
    if catalog.kind == SearchType.movie:
        return MovieResultPage(data=[], pagination=params.meta(0))
    return TvShowResultPage(data=[], pagination=params.meta(0))


async def facets(
    session: AsyncSession,
    scope: Scope,
    catalog: Catalog,
    filters: Filters,
    user_id: uuid.UUID,
) -> Facets:
    """Counts of the titles matching the filters, by genre, decade, rating bucket and
    resolution; each facet ignores its own filter."""
    validate(filters)
    if scope.libraries == [] or (filters.q is not None and _parsed(filters) is None):
        return Facets(total=0, genres=[], decades=[], ratings=[], resolutions=[])
    postgres = session.get_bind().dialect.name == "postgresql"
    model = catalog.model

    def where(skip: str | None) -> list[ColumnElement[bool]]:
        return _conditions(catalog, filters, scope.libraries, user_id, postgres, skip=skip)

    total = int(
        await session.scalar(select(func.count()).select_from(model).where(*where(None))) or 0
    )
    genre_rows = await session.execute(
        select(VideoGenre.id, VideoGenre.name, func.count())
        .join(catalog.genre_link, catalog.genre_link.genre_id == VideoGenre.id)
        .join(model, model.id == catalog.genre_owner)
        .where(*where("genre"))
        .group_by(VideoGenre.id, VideoGenre.name)
        .order_by(func.count().desc(), VideoGenre.name)
    )
    decade = (model.year // 10) * 10
    decade_rows = await session.execute(
        select(decade.label("decade"), func.count())
        .where(*where("year"), model.year.is_not(None))
        .group_by(literal_column("decade"))
        .order_by(literal_column("decade"))
    )
    bucket = case(
        *((model.rating < high, low) for low, high in RATING_BUCKETS[:-1]),
        else_=RATING_BUCKETS[-1][0],
    )
    rating_rows: dict[int, int] = {
        int(low): int(count)
        for low, count in (
            await session.execute(
                select(bucket.label("bucket"), func.count())
                .where(*where("rating"), model.rating.is_not(None))
                .group_by(literal_column("bucket"))
            )
        )
    }
    rank = best_rank(catalog)
    resolution_rows: dict[int, int] = {
        int(best): int(count)
        for best, count in (
            await session.execute(
                select(rank.label("best"), func.count())
                .where(*where("resolution"), rank.is_not(None))
                .group_by(literal_column("best"))
            )
        )
    }
    return Facets(
        total=total,
        genres=[GenreFacet(id=row[0], name=row[1], count=row[2]) for row in genre_rows],
        decades=[DecadeFacet(decade=int(row[0]), count=row[1]) for row in decade_rows],
        ratings=[
            RatingFacet(bucket=f"{low}-{high}", min=low, max=high, count=rating_rows.get(low, 0))
            for low, high in RATING_BUCKETS
        ],
        resolutions=[
            ResolutionFacet(resolution=name, count=resolution_rows.get(rank_value, 0))
            for rank_value, name in RANKS.items()
        ],
    )
