"""The search index is kept by database triggers: in the writing transaction, for ORM and bulk
core writes alike, through renames, moves, removals and deletions; a rebuild writes the same
documents the triggers do."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.auth.principal import Principal
from cinesonic.kit.pagination import PageParams
from cinesonic.kit.text import fold, sort_key
from cinesonic.models.library import Library
from cinesonic.models.music import Album, Artist, LibraryArtist, Song
from cinesonic.models.search import SearchDocument
from cinesonic.search import service as search_service
from cinesonic.state import AppState
from tests.conftest import PG_URL
from tests.music.browse_catalogue import (
    Catalogue,
    album_id,
    build_catalogue,
    create_viewers,
    principal_of,
)

PAGE = PageParams(offset=0, page_size=50, sort=())


async def found(session: AsyncSession, principal: Principal, query: str) -> list[tuple[str, str]]:
    hits, _total = await search_service.search(session, principal, query, None, PAGE)
    return [(hit.type, hit.name) for hit in hits]


async def admin(state: AppState, client: httpx.AsyncClient, catalogue: Catalogue) -> Principal:
    viewers = await create_viewers(state, client, catalogue)
    return await principal_of(state, viewers.admin)


def song_row(library: Library, album: uuid.UUID, title: str, **values: Any) -> dict[str, Any]:
    path = f"/music/{uuid.uuid4()}.mp3"
    return {
        "id": uuid.uuid4(),
        "library_id": library.id,
        "path": path,
        "size_bytes": 1000,
        "mtime_ns": 0,
        "fingerprint": hashlib.sha256(path.encode()).hexdigest(),
        "title": title,
        "sort_title": sort_key(title),
        "album_id": album,
        "artist_display": values.pop("artist_display", "Mø"),
        "format": "mp3",
        "content_type": "audio/mpeg",
        "duration": 180.0,
        **values,
    }


async def test_writes_are_searchable_inside_their_own_transaction(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    principal = await admin(state, client, catalogue)
    async with state.db.sessionmaker() as session:
        artist = Artist(name="Mø", sort_name=sort_key("Mø"), name_key=fold("Mø"))
        session.add(artist)
        await session.flush()
        session.add(LibraryArtist(library_id=catalogue.music.id, artist_id=artist.id, song_count=2))
        album = Album(
            library_id=catalogue.music.id,
            title="Forever Neverland",
            sort_title=sort_key("Forever Neverland"),
            title_key=fold("Forever Neverland"),
            artist_id=artist.id,
            song_count=2,
        )
        session.add(album)
        await session.flush()
        # The scanner's way: one bulk core insert.
        await session.execute(
            insert(Song),
            [
                song_row(catalogue.music, album.id, "Final Song"),
                song_row(catalogue.music, album.id, "Kamikaze"),
            ],
        )
        assert (await found(session, principal, "mo"))[0] == ("artist", "Mø")
        assert await found(session, principal, "mø kamik") == [("song", "Kamikaze")]
        assert ("album", "Forever Neverland") in await found(session, principal, "neverl")
        await session.rollback()
    async with state.db.sessionmaker() as session:
        assert await found(session, principal, "kamikaze") == []
        assert await found(session, principal, "mo") == []


async def test_renames_moves_and_removals_follow(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    principal = await admin(state, client, catalogue)
    abbey, jazz = await album_id(state, "Abbey Road"), await album_id(state, "Jazz")
    async with state.db.session() as session:
        end = catalogue.song("The End").id
        await session.execute(
            update(Song).where(Song.id == end).values(title="The Finale", sort_title="finale")
        )
        assert await found(session, principal, "finale") == [("song", "The Finale")]
        assert ("song", "The End") not in await found(session, principal, "end")
        # The album's title is part of its songs' documents.
        await session.execute(
            update(Album)
            .where(Album.id == abbey)
            .values(title="Highway", sort_title="highway", title_key="highway")
        )
        assert await found(session, principal, "highway finale") == [("song", "The Finale")]
        assert await found(session, principal, "abbey") == []
        # An artist's name is part of their albums' documents.
        await session.execute(
            update(Artist)
            .where(Artist.name == "The Beatles")
            .values(name="Los Escarabajos", sort_name="escarabajos", name_key="los escarabajos")
        )
        assert ("album", "Highway") in await found(session, principal, "escarabajos")
        # A song without an artists tag is found by its album artist.
        await session.execute(update(Song).where(Song.id == end).values(artist_display=""))
        assert ("song", "The Finale") in await found(session, principal, "escarabajos finale")
        # Moving a song to another album.
        await session.execute(update(Song).where(Song.id == end).values(album_id=jazz))
        assert await found(session, principal, "jazz finale") == [("song", "The Finale")]
        # Removal and return of the file.
        await session.execute(
            update(Song).where(Song.id == end).values(removed_at=text("CURRENT_TIMESTAMP"))
        )
        assert await found(session, principal, "finale") == []
        await session.execute(update(Song).where(Song.id == end).values(removed_at=None))
        assert await found(session, principal, "finale") == [("song", "The Finale")]
        # An album whose last song went away.
        await session.execute(update(Album).where(Album.id == jazz).values(song_count=0))
        assert ("album", "Jazz") not in await found(session, principal, "jazz")
        await session.execute(update(Album).where(Album.id == jazz).values(song_count=2))
        assert ("album", "Jazz") in await found(session, principal, "jazz")
    await assert_index_consistent(state)


async def test_deleting_a_library_deletes_its_documents(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    principal = await admin(state, client, catalogue)
    async with state.db.session() as session:
        assert await found(session, principal, "hidden") == [("song", "Hidden Track")]
        await session.execute(delete(Library).where(Library.id == catalogue.private.id))
    async with state.db.session() as session:
        assert await found(session, principal, "hidden") == []
        assert await found(session, principal, "secret sessions") == []
        left = await session.scalar(
            select(SearchDocument.id).where(SearchDocument.library_id == catalogue.private.id)
        )
        assert left is None
        # Agent Nine's row stays (artists are shared) but nobody can see them any more.
        assert await found(session, principal, "agent") == []
    await assert_index_consistent(state)


async def documents(session: AsyncSession) -> list[tuple[Any, ...]]:
    rows = await session.execute(
        select(
            SearchDocument.kind,
            SearchDocument.ref,
            SearchDocument.library_id,
            SearchDocument.name,
            SearchDocument.context,
            SearchDocument.key,
        ).order_by(SearchDocument.ref)
    )
    return [tuple(row) for row in rows]


async def assert_index_consistent(state: AppState) -> None:
    if PG_URL is None:
        async with state.db.session() as session:
            # FTS5 checks its index against the content table; raises when they disagree.
            await session.execute(
                text("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')")
            )


async def test_rebuild_writes_what_the_triggers_write(
    state: AppState, client: httpx.AsyncClient
) -> None:
    catalogue = await build_catalogue(state)
    principal = await admin(state, client, catalogue)
    async with state.db.session() as session:
        await session.execute(update(Song).where(Song.title == "Eple").values(artist_display=""))
        by_triggers = await documents(session)
        await session.execute(delete(SearchDocument))
        assert await found(session, principal, "beyonce") == []
        counts = await search_service.rebuild_index(session)
        assert await documents(session) == by_triggers
        assert counts == {"album": 7, "artist": 8, "song": 11}
        assert (await found(session, principal, "beyonce"))[0] == ("artist", "Beyoncé")
    await assert_index_consistent(state)


async def test_the_triggers_exist(state: AppState) -> None:
    async with state.db.session() as session:
        if PG_URL is None:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'search%'"
        else:
            query = "SELECT DISTINCT tgname FROM pg_trigger WHERE tgname LIKE 'search%'"
        names = set((await session.execute(text(query))).scalars())
    tables = {"artist", "album", "song"}
    for table in tables:
        assert any(table in name for name in names), (table, names)
