"""Metadata look-ups at TMDb for the `/metadata` routes, provider artwork, and applying provider
details to library rows.

Look-ups run through one `TmdbClient` per call, built from the settings in force (the key and
language are runtime settings) over the app's shared HTTP client, with the request's session
as its cache (`metadata_cache`, written in the request's transaction). Nothing here needs the
provider to be configured until a look-up is asked for: scans never depend on it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.config import Settings
from cinesonic.db import lock_for_update
from cinesonic.errors import Conflict, ValidationFailed
from cinesonic.kit.ids import uuid7
from cinesonic.kit.text import sort_key
from cinesonic.kit.timeutil import utcnow
from cinesonic.library import service as library_service
from cinesonic.metadata.artwork import (
    MAX_ARTWORK_BYTES,
    ArtworkFile,
    ArtworkRequest,
    ArtworkStore,
    is_image_of_type,
)
from cinesonic.metadata.cache import DatabaseCache
from cinesonic.metadata.errors import (
    ArtworkNotFound,
    MetadataNotFound,
    ProviderError,
    ProviderUnavailable,
)
from cinesonic.metadata.schemas import (
    AddToLibrary,
    AddToLibraryKind,
    CastCredit,
    Credits,
    CrewCredit,
    EpisodeDetails,
    GenreRef,
    LibraryItemAdded,
    MovieDetails,
    MovieSearchPage,
    SeasonDetails,
    SeasonSummary,
    TvDetails,
    TvSearchPage,
)
from cinesonic.metadata.tmdb import PROVIDER, TmdbClient, TmdbConfig
from cinesonic.models.library import Library, LibraryKind
from cinesonic.models.video import (
    Collection,
    Credit,
    CreditKind,
    Episode,
    Movie,
    MovieGenre,
    Network,
    Person,
    Season,
    ShowGenre,
    ShowNetwork,
    TvShow,
    VideoGenre,
)
from cinesonic.state import AppState


@asynccontextmanager
async def tmdb_lookups(session: AsyncSession, state: AppState) -> AsyncIterator[TmdbClient]:
    """A TMDb client for a series of look-ups; what they fetched is cached once they are over
    (see `cache.DatabaseCache`: no write lock is held across calls to TMDb)."""
    async with provider_lookups(session, state.http, state.settings) as tmdb:
        yield tmdb


@asynccontextmanager
async def provider_lookups(
    session: AsyncSession, http: httpx.AsyncClient, settings: Settings
) -> AsyncIterator[TmdbClient]:
    """`tmdb_lookups` for callers without an `AppState` (jobs)."""
    cache = DatabaseCache(session)
    yield TmdbClient(http, TmdbConfig.from_settings(settings), cache)
    await cache.write_pending()


def is_provider_configured(settings: Settings) -> bool:
    return TmdbConfig.from_settings(settings).api_key is not None


async def fetch_show(tmdb: TmdbClient, tmdb_id: int) -> tuple[TvDetails, list[SeasonDetails]]:
    """A show's details with the details of every season TMDb serves (a season it lists but
    does not serve is left out: the show then lacks its episodes)."""
    show = await tmdb.tv(tmdb_id)
    seasons = []
    for summary in show.seasons:
        try:
            seasons.append(await tmdb.season(tmdb_id, summary.season_number))
        except MetadataNotFound:
            continue  # listed but not served: the show goes without its episodes
    return show, seasons


def artwork_store(state: AppState) -> ArtworkStore:
    return ArtworkStore(state.settings.data_dir / "images" / "provider")


async def search_movies(
    session: AsyncSession, state: AppState, query: str, *, year: int | None, page: int
) -> MovieSearchPage:
    async with tmdb_lookups(session, state) as tmdb:
        return await tmdb.search_movies(query, year=year, page=page)


async def search_tv(
    session: AsyncSession, state: AppState, query: str, *, year: int | None, page: int
) -> TvSearchPage:
    async with tmdb_lookups(session, state) as tmdb:
        return await tmdb.search_tv(query, year=year, page=page)


async def movie_details(session: AsyncSession, state: AppState, tmdb_id: int) -> MovieDetails:
    async with tmdb_lookups(session, state) as tmdb:
        return await tmdb.movie(tmdb_id)


async def tv_details(session: AsyncSession, state: AppState, tmdb_id: int) -> TvDetails:
    async with tmdb_lookups(session, state) as tmdb:
        return await tmdb.tv(tmdb_id)


async def season_details(
    session: AsyncSession, state: AppState, tmdb_id: int, season_number: int
) -> SeasonDetails:
    async with tmdb_lookups(session, state) as tmdb:
        return await tmdb.season(tmdb_id, season_number)


async def episode_details(
    session: AsyncSession,
    state: AppState,
    tmdb_id: int,
    season_number: int,
    episode_number: int,
) -> EpisodeDetails:
    async with tmdb_lookups(session, state) as tmdb:
        return await tmdb.episode(tmdb_id, season_number, episode_number)


# ---------------------------------------------------------------- provider artwork


async def open_artwork(
    session: AsyncSession, state: AppState, request: ArtworkRequest
) -> ArtworkFile:
    """The image on disk; fetched from TMDb's image server on first request. Once on disk it
    is answered without the provider (which may be down, or unconfigured by then)."""
    store = artwork_store(state)
    found = await store.find(request)
    if found is not None:
        return found
    async with tmdb_lookups(session, state) as tmdb:
        base = state.settings.tmdb_image_base_url
        if base is None:
            if not tmdb.is_configured:
                raise ProviderUnavailable(
                    "Provider images need a TMDb API key or `tmdb_image_base_url`.",
                    details={"provider": PROVIDER, "reason": "no_api_key"},
                )
            base = (await tmdb.configuration()).images.secure_base_url
        url = f"{base.rstrip('/')}/{request.size}/{request.file_name}"
        try:
            response = await tmdb.image(url)
        except MetadataNotFound:
            raise ArtworkNotFound(details={"provider": PROVIDER}) from None
    data = response.content
    if len(data) > MAX_ARTWORK_BYTES or not is_image_of_type(data, request.content_type):
        raise ProviderError(
            "TMDb's image server answered something that is not the image asked for.",
            details={"provider": PROVIDER},
        )
    return await store.put(request, data)


# ---------------------------------------------------------------- library rows from the provider


class LibraryKindMismatch(ValidationFailed):
    code = "library_kind_mismatch"
    message = "Movies go to a `movies` library and TV shows to a `tvshows` library."


class AlreadyInLibrary(Conflict):
    message = "This title is already in that library."


_LIBRARY_KIND = {
    AddToLibraryKind.movie: LibraryKind.movies,
    AddToLibraryKind.tv: LibraryKind.tvshows,
}


def _text(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


async def _ensure_rows(
    session: AsyncSession,
    model: type[Any],
    key: str,
    rows: Sequence[dict[str, Any]],
    refreshed: Sequence[str] = (),
) -> dict[Any, uuid.UUID]:
    """Insert the rows whose unique `key` is new, in one statement that a concurrent insert of
    the same key cannot break; existing rows keep their id and take the `refreshed` columns.
    Answers key → id for every row."""
    unique = {row[key]: row for row in rows}
    if not unique:
        return {}
    values = [{"id": uuid7(), **row} for row in unique.values()]
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(model).values(values)
        statement: Executable = (
            pg.on_conflict_do_update(
                index_elements=[key], set_={name: pg.excluded[name] for name in refreshed}
            )
            if refreshed
            else pg.on_conflict_do_nothing(index_elements=[key])
        )
    else:
        lite = sqlite.insert(model).values(values)
        statement = (
            lite.on_conflict_do_update(
                index_elements=[key], set_={name: lite.excluded[name] for name in refreshed}
            )
            if refreshed
            else lite.on_conflict_do_nothing(index_elements=[key])
        )
    await session.execute(statement)
    column = getattr(model, key)
    found = await session.execute(select(column, model.id).where(column.in_(list(unique))))
    return {row[0]: row[1] for row in found.all()}


async def _replace_genres(
    session: AsyncSession,
    link: type[MovieGenre] | type[ShowGenre],
    owner: dict[str, uuid.UUID],
    genres: Sequence[GenreRef],
) -> None:
    names = [{"name": name} for name in dict.fromkeys(g.name.strip()[:200] for g in genres) if name]
    ids = await _ensure_rows(session, VideoGenre, "name", names)
    ((column, owner_id),) = owner.items()
    await session.execute(delete(link).where(getattr(link, column) == owner_id))
    if ids:
        await session.execute(
            insert(link), [{column: owner_id, "genre_id": i} for i in ids.values()]
        )


async def _replace_credits(
    session: AsyncSession, owner: dict[str, uuid.UUID], credits: Credits
) -> None:
    now = utcnow()
    named: list[CastCredit | CrewCredit] = [*credits.cast, *credits.crew]
    people = [
        {"tmdb_id": person.tmdb_id, "name": person.name[:500], "updated_at": now}
        for person in named
    ]
    ids = await _ensure_rows(session, Person, "tmdb_id", people, refreshed=("name", "updated_at"))
    ((column, owner_id),) = owner.items()
    await session.execute(delete(Credit).where(getattr(Credit, column) == owner_id))
    rows = [
        {
            "id": uuid7(),
            "person_id": ids[cast.tmdb_id],
            "kind": CreditKind.cast,
            "character": _text(cast.character, 500),
            "job": None,
            "department": None,
            "order": cast.order,
            **owner,
        }
        for cast in credits.cast
    ] + [
        {
            "id": uuid7(),
            "person_id": ids[crew.tmdb_id],
            "kind": CreditKind.crew,
            "character": None,
            "job": _text(crew.job, 200),
            "department": _text(crew.department, 200),
            "order": None,
            **owner,
        }
        for crew in credits.crew
    ]
    if rows:
        await session.execute(insert(Credit), rows)


async def apply_movie_details(session: AsyncSession, movie: Movie, details: MovieDetails) -> None:
    """Make `movie` (new or existing) say what the provider says: its fields (similar titles
    by TMDb id and image paths too), collection, genres and credits (people created or
    renamed by their TMDb id). Flushes; never commits."""
    movie.title = details.title[:500]
    movie.sort_title = sort_key(details.title)[:500]
    movie.original_title = _text(details.original_title, 500)
    movie.year = details.year
    movie.overview = details.overview
    movie.tagline = details.tagline
    movie.runtime_minutes = details.runtime
    movie.rating = details.vote_average
    movie.vote_count = details.vote_count
    movie.release_date = details.release_date
    movie.tmdb_id = details.tmdb_id
    movie.imdb_id = _text(details.imdb_id, 16)
    movie.similar_tmdb_ids = [similar.tmdb_id for similar in details.similar]
    movie.poster_path = _text(details.poster_path, 200)
    movie.backdrop_path = _text(details.backdrop_path, 200)
    movie.metadata_refreshed_at = utcnow()
    movie.collection_id = None
    if details.collection is not None:
        collection = details.collection
        ids = await _ensure_rows(
            session,
            Collection,
            "tmdb_id",
            [
                {
                    "tmdb_id": collection.tmdb_id,
                    "name": collection.name[:500],
                    "updated_at": utcnow(),
                }
            ],
            refreshed=("name", "updated_at"),
        )
        movie.collection_id = ids[collection.tmdb_id]
    session.add(movie)
    await session.flush()
    await _replace_genres(session, MovieGenre, {"movie_id": movie.id}, details.genres)
    await _replace_credits(session, {"movie_id": movie.id}, details.credits)


async def apply_show_details(
    session: AsyncSession, show: TvShow, details: TvDetails, seasons: Sequence[SeasonDetails]
) -> None:
    """Make `show` (new or existing) say what the provider says: its fields (similar titles and
    image paths too), genres, networks, credits, and the seasons and episodes of `seasons`
    (the provider's season details).
    Seasons and episodes are matched by number and updated in place — files linked to them
    stay linked — and none is deleted. Flushes; never commits."""
    show.title = details.name[:500]
    show.sort_title = sort_key(details.name)[:500]
    show.original_title = _text(details.original_name, 500)
    show.year = details.year
    show.first_air_date = details.first_air_date
    show.status = _text(details.status, 32)
    show.overview = details.overview
    show.rating = details.vote_average
    show.vote_count = details.vote_count
    show.tmdb_id = details.tmdb_id
    show.similar_tmdb_ids = [similar.tmdb_id for similar in details.similar]
    show.poster_path = _text(details.poster_path, 200)
    show.backdrop_path = _text(details.backdrop_path, 200)
    show.metadata_refreshed_at = utcnow()
    session.add(show)
    await session.flush()
    owner = {"show_id": show.id}
    await _replace_genres(session, ShowGenre, owner, details.genres)
    await _replace_credits(session, owner, details.credits)
    networks = [
        {"tmdb_id": network.tmdb_id, "name": network.name[:200]} for network in details.networks
    ]
    network_ids = await _ensure_rows(session, Network, "tmdb_id", networks, refreshed=("name",))
    await session.execute(delete(ShowNetwork).where(ShowNetwork.show_id == show.id))
    if network_ids:
        await session.execute(
            insert(ShowNetwork),
            [{"show_id": show.id, "network_id": i} for i in network_ids.values()],
        )
    await _apply_seasons(session, show, details, seasons)


async def _apply_seasons(
    session: AsyncSession, show: TvShow, details: TvDetails, seasons: Sequence[SeasonDetails]
) -> None:
    known = {
        season.number: season
        for season in await session.scalars(select(Season).where(Season.show_id == show.id))
    }
    full = {season.season_number: season for season in seasons}
    summaries = {season.season_number: season for season in details.seasons}
    for number in sorted(summaries.keys() | full.keys()):
        source: SeasonSummary | SeasonDetails = full.get(number) or summaries[number]
        season = known.get(number)
        if season is None:
            season = known[number] = Season(show_id=show.id, number=number)
            session.add(season)
        season.title = _text(source.name, 500)
        season.overview = source.overview
        season.air_date = source.air_date
    await session.flush()
    episodes = {
        (episode.season_number, episode.episode_number): episode
        for episode in await session.scalars(select(Episode).where(Episode.show_id == show.id))
    }
    for season_details in seasons:
        season = known[season_details.season_number]
        for provided in season_details.episodes:
            key = (season.number, provided.episode_number)
            episode = episodes.get(key)
            if episode is None:
                episode = episodes[key] = Episode(
                    show_id=show.id,
                    season_id=season.id,
                    season_number=season.number,
                    episode_number=provided.episode_number,
                )
                session.add(episode)
            episode.title = _text(provided.name, 500)
            episode.overview = provided.overview
            episode.air_date = provided.air_date
            episode.runtime_minutes = provided.runtime
            episode.rating = provided.vote_average
            episode.tmdb_id = provided.tmdb_id
    await session.flush()


async def _target_library(session: AsyncSession, actor: Principal, body: AddToLibrary) -> Library:
    readable = await library_service.readable_library_ids(session, actor)
    if readable is not None and body.library_id not in readable:
        raise library_service.LibraryNotFound()
    library = await library_service.get_library(session, body.library_id)
    if library.kind != _LIBRARY_KIND[body.kind]:
        raise LibraryKindMismatch(
            details=[
                {
                    "field": "library_id",
                    "location": "body",
                    "message": f"a {body.kind.value} needs a "
                    f"'{_LIBRARY_KIND[body.kind].value}' library, not a '{library.kind.value}' one",
                    "type": "value_error",
                }
            ]
        )
    return library


async def _refuse_duplicate(
    session: AsyncSession, model: type[Movie] | type[TvShow], library: Library, tmdb_id: int
) -> None:
    existing = await session.scalar(
        select(model.id).where(model.library_id == library.id, model.tmdb_id == tmdb_id)
    )
    if existing is not None:
        raise AlreadyInLibrary(details={"id": existing, "tmdb_id": tmdb_id})


async def add_to_library(
    session: AsyncSession, state: AppState, actor: Principal, origin: Origin, body: AddToLibrary
) -> LibraryItemAdded:
    """Create a movie or a show (with its seasons and episodes) in a library of its kind from
    the provider's details [004]; 409 when that TMDb id is already there. The provider is
    asked first, then every row is written at once."""
    library = await _target_library(session, actor, body)
    model = Movie if body.kind is AddToLibraryKind.movie else TvShow
    await _refuse_duplicate(session, model, library, body.tmdb_id)
    async with tmdb_lookups(session, state) as tmdb:
        if body.kind is AddToLibraryKind.movie:
            movie_found = await tmdb.movie(body.tmdb_id)
        else:
            show_found, seasons = await fetch_show(tmdb, body.tmdb_id)
    # Only now, with every answer in hand (no write lock across calls to TMDb): the check
    # again, under the library's lock, so two adds of one title cannot both pass it.
    await lock_for_update(session, library_add_lock_key(library.id))
    await _refuse_duplicate(session, model, library, body.tmdb_id)
    if body.kind is AddToLibraryKind.movie:
        movie = Movie(library_id=library.id)
        await apply_movie_details(session, movie, movie_found)
        added = await _movie_added(session, movie, movie_found)
    else:
        show = TvShow(library_id=library.id)
        await apply_show_details(session, show, show_found, seasons)
        added = await _show_added(session, show, show_found)
    await activity_service.record_by(
        session,
        actor,
        action=f"{'movie' if body.kind is AddToLibraryKind.movie else 'tvshow'}.add",
        resource_type="movie" if body.kind is AddToLibraryKind.movie else "tv_show",
        resource_id=added.id,
        origin=origin,
        details={"library_id": str(library.id), "tmdb_id": body.tmdb_id, "title": added.title},
    )
    return added


def library_add_lock_key(library_id: uuid.UUID) -> int:
    """The advisory-lock key of adds and refreshes of one library (both give an item a TMDb
    id): 63 bits of its id, a purpose mixed in so it never equals the key another domain
    derives from the same id."""
    return (int.from_bytes(library_id.bytes[8:], "big") ^ 0x6D65_7461_6164_64) & (2**63 - 1)


async def _genre_names(
    session: AsyncSession, link: type[MovieGenre] | type[ShowGenre], owner: ColumnElement[bool]
) -> list[str]:
    rows = await session.scalars(
        select(VideoGenre.name)
        .join(link, link.genre_id == VideoGenre.id)
        .where(owner)
        .order_by(VideoGenre.name)
    )
    return list(rows)


async def _credit_counts(session: AsyncSession, condition: ColumnElement[bool]) -> dict[str, int]:
    rows = await session.execute(
        select(Credit.kind, func.count()).where(condition).group_by(Credit.kind)
    )
    return {str(kind): int(count) for kind, count in rows.all()}


async def _movie_added(
    session: AsyncSession, movie: Movie, details: MovieDetails
) -> LibraryItemAdded:
    counts = await _credit_counts(session, Credit.movie_id == movie.id)
    return LibraryItemAdded(
        kind=AddToLibraryKind.movie,
        id=movie.id,
        library_id=movie.library_id,
        tmdb_id=details.tmdb_id,
        title=movie.title,
        year=movie.year,
        genres=await _genre_names(session, MovieGenre, MovieGenre.movie_id == movie.id),
        collection=details.collection.name if details.collection else None,
        networks=[],
        cast_count=counts.get(CreditKind.cast.value, 0),
        crew_count=counts.get(CreditKind.crew.value, 0),
        season_count=0,
        episode_count=0,
    )


async def _show_added(session: AsyncSession, show: TvShow, details: TvDetails) -> LibraryItemAdded:
    counts = await _credit_counts(session, Credit.show_id == show.id)
    networks = await session.scalars(
        select(Network.name)
        .join(ShowNetwork, ShowNetwork.network_id == Network.id)
        .where(ShowNetwork.show_id == show.id)
        .order_by(Network.name)
    )
    season_count = await session.scalar(
        select(func.count()).select_from(Season).where(Season.show_id == show.id)
    )
    episode_count = await session.scalar(
        select(func.count()).select_from(Episode).where(Episode.show_id == show.id)
    )
    return LibraryItemAdded(
        kind=AddToLibraryKind.tv,
        id=show.id,
        library_id=show.library_id,
        tmdb_id=details.tmdb_id,
        title=show.title,
        year=show.year,
        genres=await _genre_names(session, ShowGenre, ShowGenre.show_id == show.id),
        collection=None,
        networks=list(networks),
        cast_count=counts.get(CreditKind.cast.value, 0),
        crew_count=counts.get(CreditKind.crew.value, 0),
        season_count=season_count or 0,
        episode_count=episode_count or 0,
    )
