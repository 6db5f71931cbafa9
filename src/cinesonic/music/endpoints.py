"""Routes of music browsing [000] [002]: artists, albums, songs, genres. Read-only: edits to
songs, artists and albums are moderated and come with the moderation issue.

Every route needs `music.read` (403 without it) and shows only what lies in libraries the
caller may read (404 for anything else, as if it did not exist). Lists answer
`{data, pagination}` through `cinesonic.kit.pagination`; their filters are query parameters
(`library_id`, `artist_id`/`artist_ids`, `genre`/`genre_id`, `year_from`/`year_to`, `format`)
and their sorts `sort=field` / `sort=-field`.

`/songs/latest` is declared before `/songs/{song_id}` so the literal path wins.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.deps import DbSession, State, get_principal, get_state, require, require_permission
from cinesonic.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidToken,
    ValidationFailed,
    error_responses,
)
from cinesonic.kit import fastquery
from cinesonic.kit.pagination import PAGE_ARGUMENTS, PAGE_QUERY, PaginationDep, page_params_of
from cinesonic.kit.responses import json_response
from cinesonic.music import service as music_service
from cinesonic.music.schemas import (
    AlbumDetail,
    AlbumPage,
    ArtistFull,
    ArtistPage,
    ArtistRead,
    GenrePage,
    SongFull,
    SongPage,
    SongRead,
)
from cinesonic.music.service import Filters

router = APIRouter(tags=["music"])

MusicReader = Annotated[Principal, Depends(require("music.read"))]

SIGNED_IN = (
    AuthenticationRequired,
    InvalidToken,
    auth_service.AccountSuspended,
    auth_service.AccountInactive,
)
LIST_ERRORS = (*SIGNED_IN, Forbidden, music_service.LibraryNotFound, ValidationFailed)

MAX_ARTIST_IDS = 100
_FORMAT = re.compile(r"^[a-z0-9]{1,16}$")


# ---------------------------------------------------------------- filters (query parsing)

LibraryQuery = Annotated[
    uuid.UUID | None,
    Query(description="Only this library (404 if you may not read it)."),
]
GenreQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="Genre name; case and accents do not matter.",
    ),
]
GenreIdQuery = Annotated[uuid.UUID | None, Query(description="Genre id.")]
ArtistIdQuery = Annotated[uuid.UUID | None, Query(description="One artist's id.")]
ArtistIdsQuery = Annotated[
    list[str] | None,
    Query(
        description="Artist ids, comma-separated or repeated [002]; with `artist_id`, any of "
        f"them (at most {MAX_ARTIST_IDS}).",
    ),
]
YearFromQuery = Annotated[int | None, Query(ge=0, le=9999, description="Year, inclusive.")]
YearToQuery = Annotated[int | None, Query(ge=0, le=9999, description="Year, inclusive.")]
FormatQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="File formats, comma-separated: mp3, flac, ogg, opus, m4a, wav, aiff, wma.",
    ),
]


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        details=[{"field": field, "location": "query", "message": message, "type": "value_error"}]
    )


def _artist_ids(artist_id: uuid.UUID | None, raw: list[str] | None) -> tuple[uuid.UUID, ...]:
    ids: list[uuid.UUID] = [] if artist_id is None else [artist_id]
    for part in (piece.strip() for value in raw or () for piece in value.split(",")):
        if not part:
            continue
        try:
            ids.append(uuid.UUID(part))
        except ValueError:
            raise _invalid("artist_ids", f"'{part[:64]}' is not an id") from None
    if len(ids) > MAX_ARTIST_IDS:
        raise _invalid("artist_ids", f"at most {MAX_ARTIST_IDS} artists")
    return tuple(dict.fromkeys(ids))


def _formats(raw: str | None) -> tuple[str, ...]:
    formats = [part.strip().lower() for part in (raw or "").split(",") if part.strip()]
    for value in formats:
        if not _FORMAT.match(value):
            raise _invalid("format", f"'{value[:32]}' is not a format name")
    return tuple(dict.fromkeys(formats))


def _years(year_from: int | None, year_to: int | None) -> None:
    if year_from is not None and year_to is not None and year_from > year_to:
        raise _invalid("year_from", "must not be after year_to")


async def library_filters(library_id: LibraryQuery = None) -> Filters:
    return Filters(library_id=library_id)


async def artist_filters(
    library_id: LibraryQuery = None, genre: GenreQuery = None, genre_id: GenreIdQuery = None
) -> Filters:
    return Filters(library_id=library_id, genre=genre, genre_id=genre_id)


async def album_filters(
    library_id: LibraryQuery = None,
    artist_id: ArtistIdQuery = None,
    artist_ids: ArtistIdsQuery = None,
    genre: GenreQuery = None,
    genre_id: GenreIdQuery = None,
    year_from: YearFromQuery = None,
    year_to: YearToQuery = None,
    format: FormatQuery = None,
) -> Filters:
    _years(year_from, year_to)
    return Filters(
        library_id=library_id,
        artist_ids=_artist_ids(artist_id, artist_ids),
        genre=genre,
        genre_id=genre_id,
        year_from=year_from,
        year_to=year_to,
        formats=_formats(format),
    )


async def discography_filters(
    library_id: LibraryQuery = None,
    genre: GenreQuery = None,
    genre_id: GenreIdQuery = None,
    year_from: YearFromQuery = None,
    year_to: YearToQuery = None,
    format: FormatQuery = None,
) -> Filters:
    """`album_filters` without the artist ones: the artist is in the path."""
    _years(year_from, year_to)
    return Filters(
        library_id=library_id,
        genre=genre,
        genre_id=genre_id,
        year_from=year_from,
        year_to=year_to,
        formats=_formats(format),
    )


async def song_filters(
    album_filter: Annotated[Filters, Depends(album_filters)],
    album_id: Annotated[uuid.UUID | None, Query(description="Only this album.")] = None,
) -> Filters:
    return dataclasses.replace(album_filter, album_id=album_id)


AlbumFilters = Annotated[Filters, Depends(album_filters)]
DiscographyFilters = Annotated[Filters, Depends(discography_filters)]
SongFilters = Annotated[Filters, Depends(song_filters)]
ArtistFilters = Annotated[Filters, Depends(artist_filters)]
LibraryFilter = Annotated[Filters, Depends(library_filters)]


# ---------------------------------------------------------------- artists


@router.get(
    "/artists",
    response_model=ArtistPage,
    summary="List artists",
    description="Artists with songs or albums in the libraries you may read, with their album "
    "and song counts there and their albums [002]. Filters: `library_id`, `genre`/`genre_id` "
    "(artists with songs of the genre). Sorts: `name` (default), `added`, `album_count`, "
    "`song_count`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_artists(
    principal: MusicReader, session: DbSession, paging: PaginationDep, filters: ArtistFilters
) -> Response:
    items, total = await music_service.list_artists(session, principal, paging, filters)
    return json_response(ArtistPage(data=items, pagination=paging.meta(total)))


@router.get(
    "/artists/{artist_id}",
    response_model=ArtistRead,
    summary="One artist, with counts and albums",
    responses=error_responses(*SIGNED_IN, Forbidden, music_service.ArtistNotFound),
)
async def read_artist(
    artist_id: uuid.UUID, principal: MusicReader, session: DbSession
) -> ArtistRead:
    return await music_service.read_artist(session, principal, artist_id)


@router.get(
    "/artists/{artist_id}/albums",
    response_model=AlbumPage,
    summary="An artist's albums",
    description="Albums the artist is the album artist of or has songs on [002]. Filters "
    "(`library_id`, `genre`/`genre_id`, `year_from`/`year_to`, `format`) and sorts as "
    "`/albums`; oldest first by default.",
    responses=error_responses(*LIST_ERRORS, music_service.ArtistNotFound),
)
async def list_artist_albums(
    artist_id: uuid.UUID,
    principal: MusicReader,
    session: DbSession,
    paging: PaginationDep,
    filters: DiscographyFilters,
) -> Response:
    items, total = await music_service.artist_albums(session, principal, artist_id, paging, filters)
    return json_response(AlbumPage(data=items, pagination=paging.meta(total)))


@router.get(
    "/artists/{artist_id}/full",
    response_model=ArtistFull,
    summary="An artist's page: albums, appearances, top songs, genres",
    responses=error_responses(*SIGNED_IN, Forbidden, music_service.ArtistNotFound),
)
async def read_artist_full(
    artist_id: uuid.UUID, principal: MusicReader, session: DbSession
) -> ArtistFull:
    return await music_service.read_artist_full(session, principal, artist_id)


# ---------------------------------------------------------------- albums


@router.get(
    "/albums",
    response_model=AlbumPage,
    summary="List albums",
    description="Albums with songs in the libraries you may read, each with its artist "
    "object and cover. Filters: `library_id`, `artist_id`/`artist_ids` (albums of the artists "
    "or with their songs [002]), `genre`/`genre_id`, `year_from`/`year_to`, `format`. Sorts: "
    "`title` (default; also `name`), `artist`, `year`, `added`, `play_count`, `duration`, "
    "`song_count`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_albums(
    principal: MusicReader, state: State, paging: PaginationDep, filters: AlbumFilters
) -> Response:
    body = await music_service.album_page(state.db, principal, paging, filters)
    return Response(body, media_type="application/json")


# `GET /albums` without FastAPI's parameter solving (see `cinesonic.kit.fastquery`): the same
# parameters as `page_params` and `album_filters`, the same checks in the same order.
ALBUM_QUERY: dict[str, fastquery.Param] = {
    **PAGE_QUERY,
    "library_id": fastquery.Param("library_id", fastquery.identifier),
    "artist_id": fastquery.Param("artist_id", fastquery.identifier),
    "artist_ids": fastquery.Param("artist_ids", fastquery.string(), many=True),
    "genre": fastquery.Param("genre", fastquery.string(1, 200)),
    "genre_id": fastquery.Param("genre_id", fastquery.identifier),
    "year_from": fastquery.Param("year_from", fastquery.integer(0, 9999)),
    "year_to": fastquery.Param("year_to", fastquery.integer(0, 9999)),
    "format": fastquery.Param("format", fastquery.string(0, 200)),
}
_ALBUM_FILTER_ARGUMENTS = frozenset(ALBUM_QUERY) - PAGE_ARGUMENTS


async def _fast_albums(request: Request, arguments: dict[str, Any]) -> Response:
    state = await get_state(request)
    principal = await require_permission(await get_principal(request, state), "music.read")
    paging = await page_params_of(arguments)
    filters = await album_filters(
        **{k: v for k, v in arguments.items() if k in _ALBUM_FILTER_ARGUMENTS}
    )
    body = await music_service.album_page(state.db, principal, paging, filters)
    return Response(body, media_type="application/json")


def fast_routes(prefix: str) -> list[fastquery.FastQueryRoute]:
    """Routes to place ahead of this router's (`app.py`)."""
    return [fastquery.FastQueryRoute(f"{prefix}/albums", ALBUM_QUERY, _fast_albums)]


@router.get(
    "/albums/{album_id}",
    response_model=AlbumDetail,
    summary="One album, with its genres and track artists",
    responses=error_responses(*SIGNED_IN, Forbidden, music_service.AlbumNotFound),
)
async def read_album(
    album_id: uuid.UUID, principal: MusicReader, session: DbSession
) -> AlbumDetail:
    return await music_service.read_album(session, principal, album_id)


@router.get(
    "/albums/{album_id}/tracks",
    response_model=SongPage,
    summary="An album's songs",
    description="In disc and track order by default; sorts as `/songs`. Removed files are "
    "left out.",
    responses=error_responses(*SIGNED_IN, Forbidden, music_service.AlbumNotFound, ValidationFailed),
)
async def list_album_tracks(
    album_id: uuid.UUID, principal: MusicReader, session: DbSession, paging: PaginationDep
) -> Response:
    items, total = await music_service.album_tracks(session, principal, album_id, paging)
    return json_response(SongPage(data=items, pagination=paging.meta(total)))


# ---------------------------------------------------------------- songs


@router.get(
    "/songs",
    response_model=SongPage,
    summary="List songs",
    description="Songs whose files are present, in the libraries you may read, each with its "
    "artists, primary `artist`, album and `albums` [002] and genres. Filters: `library_id`, "
    "`artist_id`/`artist_ids`, `album_id`, `genre`/`genre_id`, `year_from`/`year_to`, "
    "`format`. Sorts: `title` (default; also `name`), `artist`, `year`, `added`, "
    "`play_count`, `last_played`, `duration`, `track`, `format`, `bit_rate`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_songs(
    principal: MusicReader, session: DbSession, paging: PaginationDep, filters: SongFilters
) -> Response:
    items, total = await music_service.list_songs(session, principal, paging, filters)
    return json_response(SongPage(data=items, pagination=paging.meta(total)))


@router.get(
    "/songs/latest",
    response_model=SongPage,
    summary="Recently added songs",
    description="The songs most recently added to the libraries you may read, newest first "
    '(files present only). Filters as `/songs`. [002]\'s "latest" — the song last touched by '
    "an applied moderation — belongs to the moderation issue.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_latest_songs(
    principal: MusicReader, session: DbSession, paging: PaginationDep, filters: SongFilters
) -> Response:
    items, total = await music_service.latest_songs(session, principal, paging, filters)
    return json_response(SongPage(data=items, pagination=paging.meta(total)))


@router.get(
    "/songs/{song_id}",
    response_model=SongRead,
    summary="One song",
    description="A song whose file was removed is still answered, with `is_available` false "
    "(playlists and history link to it); it cannot be streamed, and lists and search leave it "
    "out.",
    responses=error_responses(*SIGNED_IN, Forbidden, music_service.SongNotFound),
)
async def read_song(song_id: uuid.UUID, principal: MusicReader, session: DbSession) -> SongRead:
    return await music_service.read_song(session, principal, song_id)


@router.get(
    "/songs/{song_id}/full",
    response_model=SongFull,
    summary="One song with its album and lyrics",
    description="The song, its whole album and the lyrics found with its file (embedded or "
    "an `.lrc` beside it; synced ones first).",
    responses=error_responses(*SIGNED_IN, Forbidden, music_service.SongNotFound),
)
async def read_song_full(
    song_id: uuid.UUID, principal: MusicReader, session: DbSession
) -> SongFull:
    return await music_service.read_song_full(session, principal, song_id)


# ---------------------------------------------------------------- genres


@router.get(
    "/genres",
    response_model=GenrePage,
    summary="List genres with song and album counts",
    description="Genres of songs you may see, counted in the libraries you may read. Filter: "
    "`library_id`. Sorts: `name` (default), `song_count`, `album_count`.",
    responses=error_responses(*LIST_ERRORS),
)
async def list_genres(
    principal: MusicReader, session: DbSession, paging: PaginationDep, filters: LibraryFilter
) -> Response:
    items, total = await music_service.list_genres(session, principal, paging, filters)
    return json_response(GenrePage(data=items, pagination=paging.meta(total)))
