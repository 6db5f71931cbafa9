"""People, credits, genres, collections and networks of movies and shows, as a user may see
them; similar movies; and the full detail views that gather them.

The metadata providers fill these rows; this module only reads them. A person or a collection
is seen through the titles it belongs to: with none in a library the user may read it is a 404,
and a filmography lists only readable titles.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.auth.principal import Principal
from cinesonic.errors import NotFound
from cinesonic.kit.pagination import PageParams, apply_sort, paginate_rows
from cinesonic.models.video import (
    Collection,
    Credit,
    CreditKind,
    Movie,
    MovieGenre,
    Network,
    Person,
    ShowGenre,
    ShowNetwork,
    TvShow,
    VideoGenre,
)
from cinesonic.video import service as video_service
from cinesonic.video import watch
from cinesonic.video.schemas import (
    CastRead,
    CollectionRead,
    CrewRead,
    FilmographyEntry,
    GenreRead,
    MovieDetail,
    MovieRead,
    NetworkRead,
    PersonDetail,
    TvShowDetail,
)

# How many credits of each kind a detail view carries (the full lists are paged routes).
DETAIL_CREDITS = 20
CAST_SORTS: video_service.Sortable = {
    "order": func.coalesce(Credit.order, 1_000_000),
    "name": Person.name,
}
CREW_SORTS: video_service.Sortable = {
    "name": Person.name,
    "job": Credit.job,
    "department": Credit.department,
}
COLLECTION_MOVIE_ORDER: list[ColumnElement[Any]] = [
    func.coalesce(Movie.year, 0).asc(),
    Movie.sort_title.asc(),
]


class PersonNotFound(NotFound):
    message = "No such person."


class CollectionNotFound(NotFound):
    message = "No such collection."


class NoCollection(NotFound):
    code, message = "no_collection", "This movie belongs to no collection."


# ---------------------------------------------------------------- credits


def _credits(kind: CreditKind, owner: ColumnElement[bool]) -> Select[Any]:
    return cast(
        "Select[Any]",
        select(Credit, Person)
        .join(Person, Person.id == Credit.person_id)
        .where(Credit.kind == kind, owner),
    )


def _cast_read(row: Any) -> CastRead:
    credit, person = row
    return CastRead(
        person_id=person.id,
        name=person.name,
        character=credit.character,
        order=credit.order,
        profile_image_id=person.profile_image_id,
    )


def _crew_read(row: Any) -> CrewRead:
    credit, person = row
    return CrewRead(
        person_id=person.id,
        name=person.name,
        job=credit.job,
        department=credit.department,
        profile_image_id=person.profile_image_id,
    )


_CAST_ORDER: list[ColumnElement[Any]] = [
    func.coalesce(Credit.order, 1_000_000).asc(),
    Person.name.asc(),
]
_CREW_ORDER: list[ColumnElement[Any]] = [
    Credit.department.asc(),
    Credit.job.asc(),
    Person.name.asc(),
]


async def _cast_page(
    session: AsyncSession, owner: ColumnElement[bool], params: PageParams
) -> tuple[list[CastRead], int]:
    statement = apply_sort(
        _credits(CreditKind.cast, owner), params, CAST_SORTS, _CAST_ORDER, Credit.id.asc()
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [_cast_read(row) for row in rows], total


async def _crew_page(
    session: AsyncSession, owner: ColumnElement[bool], params: PageParams
) -> tuple[list[CrewRead], int]:
    statement = apply_sort(
        _credits(CreditKind.crew, owner), params, CREW_SORTS, _CREW_ORDER, Credit.id.asc()
    )
    rows, total = await paginate_rows(session, statement, params, scalars=False)
    return [_crew_read(row) for row in rows], total


async def _detail_credits(
    session: AsyncSession, owner: ColumnElement[bool]
) -> tuple[list[CastRead], list[CrewRead]]:
    cast_rows = await session.execute(
        _credits(CreditKind.cast, owner).order_by(*_CAST_ORDER).limit(DETAIL_CREDITS)
    )
    crew_rows = await session.execute(
        _credits(CreditKind.crew, owner).order_by(*_CREW_ORDER).limit(DETAIL_CREDITS)
    )
    return [_cast_read(row) for row in cast_rows], [_crew_read(row) for row in crew_rows]


async def movie_cast(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID, params: PageParams
) -> tuple[list[CastRead], int]:
    movie = await video_service.visible_movie(session, principal, movie_id)
    return await _cast_page(session, Credit.movie_id == movie.id, params)


async def movie_crew(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID, params: PageParams
) -> tuple[list[CrewRead], int]:
    movie = await video_service.visible_movie(session, principal, movie_id)
    return await _crew_page(session, Credit.movie_id == movie.id, params)


async def show_cast(
    session: AsyncSession, principal: Principal, show_id: uuid.UUID, params: PageParams
) -> tuple[list[CastRead], int]:
    show = await video_service.visible_show(session, principal, show_id)
    return await _cast_page(session, Credit.show_id == show.id, params)


async def show_crew(
    session: AsyncSession, principal: Principal, show_id: uuid.UUID, params: PageParams
) -> tuple[list[CrewRead], int]:
    show = await video_service.visible_show(session, principal, show_id)
    return await _crew_page(session, Credit.show_id == show.id, params)


# ---------------------------------------------------------------- genres and networks


async def _genre_page(
    session: AsyncSession, owner: ColumnElement[bool], link: Any, params: PageParams
) -> tuple[list[GenreRead], int]:
    statement = apply_sort(
        cast(
            "Select[Any]",
            select(VideoGenre).join(link, link.genre_id == VideoGenre.id).where(owner),
        ),
        params,
        {"name": VideoGenre.name},
        [VideoGenre.name.asc()],
        VideoGenre.id.asc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return [GenreRead.model_validate(row) for row in rows], total


async def movie_genres(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID, params: PageParams
) -> tuple[list[GenreRead], int]:
    movie = await video_service.visible_movie(session, principal, movie_id)
    return await _genre_page(session, MovieGenre.movie_id == movie.id, MovieGenre, params)


async def show_genres(
    session: AsyncSession, principal: Principal, show_id: uuid.UUID, params: PageParams
) -> tuple[list[GenreRead], int]:
    show = await video_service.visible_show(session, principal, show_id)
    return await _genre_page(session, ShowGenre.show_id == show.id, ShowGenre, params)


def _networks_of(show_id: uuid.UUID) -> Select[Any]:
    return cast(
        "Select[Any]",
        select(Network)
        .join(ShowNetwork, ShowNetwork.network_id == Network.id)
        .where(ShowNetwork.show_id == show_id),
    )


async def show_networks(
    session: AsyncSession, principal: Principal, show_id: uuid.UUID, params: PageParams
) -> tuple[list[NetworkRead], int]:
    show = await video_service.visible_show(session, principal, show_id)
    statement = apply_sort(
        _networks_of(show.id),
        params,
        {"name": Network.name},
        [Network.name.asc()],
        Network.id.asc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return [NetworkRead.model_validate(row) for row in rows], total


# ---------------------------------------------------------------- collections


async def _collection_read(
    session: AsyncSession, collection: Collection, readable: list[uuid.UUID] | None
) -> CollectionRead:
    count = await session.scalar(
        video_service.visible(
            select(func.count()).select_from(Movie).where(Movie.collection_id == collection.id),
            Movie.library_id,
            readable,
        )
    )
    return CollectionRead.model_validate(collection).model_copy(
        update={"movie_count": int(count or 0)}
    )


async def get_collection(
    session: AsyncSession, principal: Principal, collection_id: uuid.UUID
) -> CollectionRead:
    collection = await session.get(Collection, collection_id)
    if collection is None:
        raise CollectionNotFound()
    read = await _collection_read(
        session, collection, await video_service.readable(session, principal)
    )
    if read.movie_count == 0 and not principal.can("library.manage"):
        raise CollectionNotFound()  # seen only through a movie the user may see
    return read


async def collection_movies(
    session: AsyncSession, principal: Principal, collection_id: uuid.UUID, params: PageParams
) -> tuple[list[MovieRead], int]:
    collection = await get_collection(session, principal, collection_id)
    readable = await video_service.readable(session, principal)
    statement = apply_sort(
        video_service.visible(
            select(Movie).where(Movie.collection_id == collection.id), Movie.library_id, readable
        ),
        params,
        video_service.MOVIE_SORTS,
        COLLECTION_MOVIE_ORDER,
        Movie.id.asc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return await video_service.movie_reads(session, list(rows)), total


async def movie_collection(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID
) -> CollectionRead:
    movie = await video_service.visible_movie(session, principal, movie_id)
    collection = (
        None if movie.collection_id is None else await session.get(Collection, movie.collection_id)
    )
    if collection is None:
        raise NoCollection()
    return await _collection_read(
        session, collection, await video_service.readable(session, principal)
    )


# ---------------------------------------------------------------- similar movies


async def similar_movies(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID, params: PageParams
) -> tuple[list[MovieRead], int]:
    """The provider's similar titles that are in the user's libraries, in the provider's order;
    when it named none of them, movies sharing genres or the collection, most shared first."""
    movie = await video_service.visible_movie(session, principal, movie_id)
    readable = await video_service.readable(session, principal)
    others = video_service.visible(select(Movie), Movie.library_id, readable).where(
        Movie.id != movie.id
    )
    provider = [int(tmdb_id) for tmdb_id in movie.similar_tmdb_ids or []]
    if provider and params.sort == ():
        found = list(await session.scalars(others.where(Movie.tmdb_id.in_(provider))))
        if found:
            rank = {tmdb_id: index for index, tmdb_id in enumerate(provider)}
            found.sort(key=lambda m: (rank.get(m.tmdb_id or 0, len(rank)), m.sort_title))
            unique = list({m.tmdb_id: m for m in reversed(found)}.values())[::-1]
            page = unique[params.offset : params.offset + params.page_size]
            return await video_service.movie_reads(session, page), len(unique)
    genres = select(MovieGenre.genre_id).where(MovieGenre.movie_id == movie.id)
    shared = (
        select(MovieGenre.movie_id, func.count().label("shared"))
        .where(MovieGenre.genre_id.in_(genres))
        .group_by(MovieGenre.movie_id)
        .subquery()
    )
    related: ColumnElement[bool] = shared.c.movie_id.is_not(None)
    score: ColumnElement[Any] = func.coalesce(shared.c.shared, 0)
    if movie.collection_id is not None:
        in_collection = Movie.collection_id == movie.collection_id
        related = or_(related, in_collection)
        score = score + case((in_collection, 2), else_=0)  # a sequel outranks one genre
    statement = others.outerjoin(shared, shared.c.movie_id == Movie.id).where(related)
    statement = apply_sort(
        statement,
        params,
        {**video_service.MOVIE_SORTS, "score": score},
        [score.desc(), func.coalesce(Movie.rating, -1.0).desc(), Movie.sort_title.asc()],
        Movie.id.asc(),
    )
    rows, total = await paginate_rows(session, statement, params)
    return await video_service.movie_reads(session, list(rows)), total


# ---------------------------------------------------------------- people


async def get_person(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID
) -> PersonDetail:
    person = await session.get(Person, person_id)
    if person is None:
        raise PersonNotFound()
    readable = await video_service.readable(session, principal)
    rows = list(
        await session.execute(
            select(Credit, Movie, TvShow)
            .outerjoin(Movie, Movie.id == Credit.movie_id)
            .outerjoin(TvShow, TvShow.id == Credit.show_id)
            .where(Credit.person_id == person.id)
        )
    )
    visible = [
        (credit, movie, show)
        for credit, movie, show in rows
        if video_service.allows(readable, (movie or show).library_id)
    ]
    if not visible and not principal.can("library.manage"):
        raise PersonNotFound()  # known only through titles the user may see
    movies = {
        m.id: m
        for m in await video_service.movie_reads(
            session, list({movie.id: movie for _, movie, _ in visible if movie}.values())
        )
    }
    shows = {
        s.id: s
        for s in await video_service.show_reads(
            session, list({show.id: show for _, _, show in visible if show}.values())
        )
    }
    entries = [
        FilmographyEntry(
            kind=credit.kind,
            character=credit.character,
            job=credit.job,
            department=credit.department,
            movie=movies.get(credit.movie_id) if credit.movie_id else None,
            show=shows.get(credit.show_id) if credit.show_id else None,
        )
        for credit, _, _ in visible
    ]
    entries.sort(
        key=lambda e: (
            -((e.movie.year if e.movie else e.show.year if e.show else None) or 0),
            (e.movie.sort_title if e.movie else e.show.sort_title if e.show else ""),
            e.kind,
        )
    )
    return PersonDetail.model_validate(person).model_copy(update={"filmography": entries})


# ---------------------------------------------------------------- full detail views


async def movie_detail(
    session: AsyncSession, principal: Principal, movie_id: uuid.UUID
) -> MovieDetail:
    """A movie with its files, cast, crew, genres, collection and the user's watch state."""
    detail = await video_service.get_movie(session, principal, movie_id)
    cast_list, crew = await _detail_credits(session, Credit.movie_id == detail.id)
    collection = (
        None
        if detail.collection_id is None
        else await session.get(Collection, detail.collection_id)
    )
    states = await watch.states_of(session, principal, "movie_id", [detail.id])
    return detail.model_copy(
        update={
            "cast": cast_list,
            "crew": crew,
            "collection": None
            if collection is None
            else await _collection_read(
                session, collection, await video_service.readable(session, principal)
            ),
            "watch_state": states.get(detail.id),
        }
    )


async def show_detail(
    session: AsyncSession, principal: Principal, show_id: uuid.UUID
) -> TvShowDetail:
    """A show with its seasons, cast, crew, genres and networks."""
    detail = await video_service.get_show(session, principal, show_id)
    cast_list, crew = await _detail_credits(session, Credit.show_id == detail.id)
    networks = await session.scalars(_networks_of(detail.id).order_by(Network.name))
    return detail.model_copy(
        update={
            "cast": cast_list,
            "crew": crew,
            "networks": [NetworkRead.model_validate(network) for network in networks],
        }
    )
