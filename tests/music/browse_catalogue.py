"""A small music catalogue for the browsing and search tests, and the users who look at it.

Two libraries: "Music" (open to every reader) and "Private" (restricted; nobody granted). Beyoncé
has songs in both, so she must show to a plain user with counts from "Music" only. Rows are
written by `tests.fixtures.music` (no scan); `settle` then does what the scanner does after
writing songs: per-library artist counts, album totals without removed songs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import and_, func, or_, select, update

from cinesonic.auth import service as auth_service
from cinesonic.auth.principal import Principal
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.library import Library
from cinesonic.models.music import Album, Artist, LibraryArtist, Song, SongArtist
from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn, create_and_login, create_role, create_user, login

API = "/api/v1"


@dataclass
class Catalogue:
    music: Library
    private: Library
    songs: dict[str, Song] = field(default_factory=dict)

    def song(self, title: str) -> Song:
        return self.songs[title]


# title, artists, album, album artist, year, genres, format, seconds, track
OPEN_SONGS: list[tuple[str, list[str], str, str | None, int, list[str], str, float, int]] = [
    ("Formation", ["Beyoncé"], "Lemonade", None, 2016, ["R&B"], "flac", 200.0, 12),
    ("Hold Up", ["Beyoncé"], "Lemonade", None, 2016, ["R&B", "Pop"], "mp3", 220.0, 2),
    ("Svefn-g-englar", ["Sigur Rós"], "Ágætis byrjun", None, 1999, ["Post-Rock"], "ogg", 600.0, 2),
    ("Come Together", ["The Beatles"], "Abbey Road", None, 1969, ["Rock"], "mp3", 259.0, 1),
    ("Something", ["The Beatles"], "Abbey Road", None, 1969, ["Rock"], "mp3", 182.0, 2),
    ("The End", ["The Beatles"], "Abbey Road", None, 1969, ["Rock"], "flac", 140.0, 16),
    (
        "Eple",
        ["Röyksopp"],
        "Now Electronic",
        "Various Artists",
        2002,
        ["Electronic"],
        "mp3",
        220.0,
        1,
    ),
    (
        "Crazy in Love",
        ["Beyoncé", "Jay-Z"],
        "Now Electronic",
        "Various Artists",
        2002,
        ["Pop"],
        "mp3",
        236.0,
        2,
    ),
    ("Don't Stop Me Now", ["Queen"], "Jazz", None, 1978, ["Rock"], "m4a", 209.0, 12),
]
PRIVATE_SONGS: list[tuple[str, list[str], str, str | None, int, list[str], str, float, int]] = [
    ("Hidden Track", ["Beyoncé"], "Secret Sessions", None, 2020, ["Jazz"], "flac", 100.0, 1),
    ("Classified", ["Agent Nine"], "Files", None, 2021, ["Jazz"], "wav", 90.0, 1),
]


async def build_catalogue(state: AppState) -> Catalogue:
    music = await create_library(state, "Music")
    private = await create_library(state, "Private", is_restricted=True)
    catalogue = Catalogue(music=music, private=private)
    for library, songs in ((music, OPEN_SONGS), (private, PRIVATE_SONGS)):
        for title, artists, album, owner, year, genres, fmt, seconds, track in songs:
            catalogue.songs[title] = await create_song(
                state,
                library,
                title,
                artists=artists,
                album=album,
                album_artist=owner,
                year=year,
                genres=genres,
                fmt=fmt,
                seconds=seconds,
                track_number=track,
            )
    async with state.db.session() as session:
        await session.execute(
            update(Album).where(Album.title == "Now Electronic").values(is_compilation=True)
        )
    await settle(state)
    return catalogue


async def settle(state: AppState) -> None:
    """Recount as the scanner does: album totals over present songs; per library and artist,
    albums they are the album artist of and songs they are an artist (or album artist) of."""
    async with state.db.session() as session:
        present = and_(Song.album_id == Album.id, Song.removed_at.is_(None))
        await session.execute(
            update(Album).values(
                song_count=select(func.count()).where(present).scalar_subquery(),
                duration=select(func.coalesce(func.sum(Song.duration), 0.0))
                .where(present)
                .scalar_subquery(),
            )
        )
        links = (await session.execute(select(LibraryArtist))).scalars().all()
        for link in links:
            link.album_count = int(
                await session.scalar(
                    select(func.count()).where(
                        Album.library_id == link.library_id,
                        Album.artist_id == link.artist_id,
                        Album.song_count > 0,
                    )
                )
                or 0
            )
            link.song_count = int(
                await session.scalar(
                    select(func.count(Song.id.distinct()))
                    .outerjoin(SongArtist, SongArtist.song_id == Song.id)
                    .outerjoin(Album, Album.id == Song.album_id)
                    .where(
                        Song.library_id == link.library_id,
                        Song.removed_at.is_(None),
                        or_(
                            SongArtist.artist_id == link.artist_id,
                            Album.artist_id == link.artist_id,
                        ),
                    )
                )
                or 0
            )


async def remove_song(state: AppState, song_id: uuid.UUID) -> None:
    """The file is gone: the row stays, marked removed (as the scanner marks it)."""
    async with state.db.session() as session:
        await session.execute(update(Song).where(Song.id == song_id).values(removed_at=utcnow()))
    await settle(state)


@dataclass
class Viewers:
    admin: SignedIn
    user: SignedIn
    guest: SignedIn
    outsider: SignedIn  # signed in, without music.read
    insider: SignedIn  # a user granted the private library


async def create_viewers(
    state: AppState, client: httpx.AsyncClient, catalogue: Catalogue
) -> Viewers:
    admin = await create_and_login(state, client, "root", role="admin")
    user = await create_and_login(state, client, "ada")
    guest = await create_and_login(state, client, "gus", role="guest")
    await create_role(client, admin, "lurker", ["library.read"])
    await create_user(state, "olga", role="lurker")
    outsider = await login(client, "olga")
    insider = await create_and_login(state, client, "ivy")
    response = await client.put(
        f"{API}/libraries/{catalogue.private.id}/permissions/{insider.user_id}",
        headers=admin.headers,
    )
    assert response.status_code in (200, 201), response.text
    return Viewers(admin=admin, user=user, guest=guest, outsider=outsider, insider=insider)


async def get(
    client: httpx.AsyncClient, viewer: SignedIn, path: str, **params: Any
) -> httpx.Response:
    return await client.get(f"{API}{path}", headers=viewer.headers, params=params)


async def get_ok(client: httpx.AsyncClient, viewer: SignedIn, path: str, **params: Any) -> Any:
    response = await get(client, viewer, path, **params)
    assert response.status_code == 200, response.text
    return response.json()


def names(items: list[dict[str, Any]], key: str = "title") -> list[str]:
    return [item[key] for item in items]


async def principal_of(state: AppState, viewer: SignedIn) -> Principal:
    """The principal a request with the viewer's token would have (for service-level tests)."""
    credentials = auth_service.Credentials(method="GET", bearer=viewer.access_token)
    principal = await auth_service.authenticate(state, credentials)
    assert principal is not None
    return principal


async def artist_id(state: AppState, name: str) -> uuid.UUID:
    async with state.db.session() as session:
        found = await session.scalar(select(Artist.id).where(Artist.name == name))
    assert found is not None
    return found


async def album_id(state: AppState, title: str) -> uuid.UUID:
    async with state.db.session() as session:
        found = await session.scalar(select(Album.id).where(Album.title == title))
    assert found is not None
    return found
