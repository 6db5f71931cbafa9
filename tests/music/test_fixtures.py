"""The music factories write consistent rows and playable files."""

from __future__ import annotations

from sqlalchemy import func, select

from cinesonic.models.music import Album, LibraryArtist, Song
from cinesonic.state import AppState
from tests.fixtures.music import create_library, create_song


async def test_create_song_reuses_album_and_artist_and_writes_a_file(state: AppState) -> None:
    library = await create_library(state)
    first = await create_song(state, library, "One", write_file=True, fmt="flac")
    await create_song(state, library, "Two", track_number=2, genres=["Rock"])
    async with state.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Album)) == 1
        album = await session.scalar(select(Album))
        assert album is not None and album.song_count == 2
        link = await session.scalar(select(LibraryArtist))
        assert link is not None and link.song_count == 2
        song = await session.get(Song, first.id)
        assert song is not None and song.size_bytes > 1000
