"""The database questions of deciding where a file goes, asked one by one or for a batch.

`decide` (in `pipeline`) asks: is an album of this name open in staging? Is this content
already staged? Does a library hold this content, or this album's disc and track? Which tracks
does the open album hold? Which library takes this artist? `Lookups` answers each with a query
(a review action deciding one file); `BatchLookups` answers them for a batch of files from a
few queries made up front (`prefetch`), and adds what the batch itself has decided so far, so
two files of one batch meet each other as files of two runs would.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.importer import checks as file_checks
from cinesonic.kit.text import fold
from cinesonic.models.importer import ImportAlbum, ImportItem, ImportStatus, LibraryImportRule
from cinesonic.models.library import Library, LibraryKind, LibraryRoot
from cinesonic.models.music import Album, Artist, Song

STAGED_OPEN = (ImportStatus.ok, ImportStatus.needs_review)
STAGED_LIVE = (ImportStatus.ok, ImportStatus.needs_review, ImportStatus.approved)
NO_ITEM = uuid.UUID(int=0)

SongRef = tuple[uuid.UUID, str]  # a library song's id and path
Track = tuple[int, int]  # (disc, track)


def group_key(album_artist: str, album: str, year: int | None) -> str:
    return f"{fold(album_artist)}\x1f{fold(album)}\x1f{year or ''}"[:1100]


# ---------------------------------------------------------------- target library


async def choose_library(session: AsyncSession, album_artist: str) -> uuid.UUID | None:
    """The enabled music library whose enabled import rule matches the album artist: highest
    priority first, then the most free space on its roots."""
    rows = await session.execute(
        select(LibraryImportRule, Library.id)
        .join(Library, Library.id == LibraryImportRule.library_id)
        .where(
            LibraryImportRule.is_enabled.is_(True),
            Library.is_enabled.is_(True),
            Library.kind == LibraryKind.music,
        )
    )
    matching = [
        (rule.priority, library_id)
        for rule, library_id in rows
        if file_checks.range_matches(rule.artist_range, album_artist)
    ]
    if not matching:
        return None
    best = max(priority for priority, _ in matching)
    candidates = [library_id for priority, library_id in matching if priority == best]
    if len(candidates) == 1:
        return candidates[0]
    roots = await library_roots(session, candidates)
    spaces = await asyncio.to_thread(
        lambda: {
            lid: max((free_space(p) for p in roots.get(lid, [])), default=-1) for lid in candidates
        }
    )
    return max(candidates, key=lambda library_id: (spaces[library_id], str(library_id)))


async def library_roots(
    session: AsyncSession, library_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {}
    rows = await session.execute(
        select(LibraryRoot.library_id, LibraryRoot.path)
        .where(LibraryRoot.library_id.in_(list(library_ids)))
        .order_by(LibraryRoot.path)
    )
    for library_id, path in rows:
        found.setdefault(library_id, []).append(path)
    return found


def free_space(path: str) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return -1


# ---------------------------------------------------------------- one question, one query


class Lookups:
    """Each question answered by a query in `session` (`exclude_item`: the staged item being
    decided again, which must not meet itself)."""

    def __init__(self, session: AsyncSession, exclude_item: uuid.UUID | None = None) -> None:
        self.session = session
        self.exclude_item = exclude_item or NO_ITEM

    async def open_album(self, key: str) -> uuid.UUID | None:
        """The oldest open staged album of this group."""
        return await self.session.scalar(
            select(ImportAlbum.id)
            .where(ImportAlbum.group_key == key, ImportAlbum.status.in_(STAGED_OPEN))
            .order_by(ImportAlbum.created_at)
            .limit(1)
        )

    async def staged_copy(self, sha256: str) -> str | None:
        """The original path of a staged file with this content."""
        return await self.session.scalar(
            select(ImportItem.original_path)
            .where(
                ImportItem.sha256 == sha256,
                ImportItem.status.in_(STAGED_LIVE),
                ImportItem.id != self.exclude_item,
            )
            .limit(1)
        )

    async def library_copy(self, fingerprint: str, size: int) -> SongRef | None:
        """A present library song with this content (the scanner's fingerprint and size)."""
        row = await self.session.execute(
            select(Song.id, Song.path)
            .where(
                Song.removed_at.is_(None), Song.fingerprint == fingerprint, Song.size_bytes == size
            )
            .limit(1)
        )
        found = row.first()
        return (found[0], found[1]) if found is not None else None

    async def library_track(self, album_artist: str, album: str, track: Track) -> SongRef | None:
        """A present library song at this disc and track of this album artist's album."""
        row = await self.session.execute(
            select(Song.id, Song.path)
            .join(Album, Album.id == Song.album_id)
            .join(Artist, Artist.id == Album.artist_id)
            .where(
                Song.removed_at.is_(None),
                Album.title_key == fold(album),
                Artist.name_key == fold(album_artist),
                Song.track_number == track[1],
                func.coalesce(Song.disc_number, 1) == track[0],
            )
            .limit(1)
        )
        found = row.first()
        return (found[0], found[1]) if found is not None else None

    async def staged_track(self, album_id: uuid.UUID, key: str, track: Track) -> str | None:
        """The original path of a file of this open album already at this disc and track."""
        siblings = await self.session.execute(
            select(ImportItem.original_path, ImportItem.tags).where(
                ImportItem.album_id == album_id,
                ImportItem.status.in_(STAGED_LIVE),
                ImportItem.id != self.exclude_item,
            )
        )
        return next((path for path, tags in siblings if _track_of(tags) == track), None)

    async def batch_track(self, key: str, track: Track) -> str | None:
        """A file of the same batch at this disc and track of this group (none here)."""
        return None

    async def library_for(self, album_artist: str) -> uuid.UUID | None:
        return await choose_library(self.session, album_artist)


def _track_of(tags: dict[str, object]) -> Track | None:
    track = tags.get("track")
    if not isinstance(track, int):
        return None
    disc = tags.get("disc")
    return (disc if isinstance(disc, int) and disc else 1, track)


# ---------------------------------------------------------------- a batch


@dataclass(frozen=True)
class Wanted:
    """What deciding one file of a batch will ask about."""

    key: str
    album_artist: str
    album: str
    sha256: str
    fingerprint: str | None
    size: int
    track: Track | None


class BatchLookups(Lookups):
    """The answers for a batch of files from one query per question (`prefetch`), and what
    the batch has decided so far (`remember`)."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._albums: dict[str, uuid.UUID] = {}
        self._staged: dict[str, str] = {}
        self._by_content: dict[tuple[str, int], SongRef] = {}
        self._by_track: dict[tuple[str, str, Track], SongRef] = {}
        self._album_tracks: dict[uuid.UUID, dict[Track, str]] = {}
        self._libraries: dict[str, uuid.UUID | None] = {}
        self._batch_staged: dict[str, str] = {}  # sha256 → original path
        self._batch_tracks: dict[str, dict[Track, str]] = {}  # group key → tracks

    async def prefetch(self, wanted: Iterable[Wanted]) -> None:
        files = list(wanted)
        session = self.session
        keys = {file.key for file in files}
        for key, album_id in await session.execute(
            select(ImportAlbum.group_key, ImportAlbum.id)
            .where(ImportAlbum.group_key.in_(keys), ImportAlbum.status.in_(STAGED_OPEN))
            .order_by(ImportAlbum.created_at.desc())  # the oldest is written last: it wins
        ):
            self._albums[key] = album_id
        for sha256, path in await session.execute(
            select(ImportItem.sha256, ImportItem.original_path).where(
                ImportItem.sha256.in_({file.sha256 for file in files}),
                ImportItem.status.in_(STAGED_LIVE),
            )
        ):
            self._staged.setdefault(sha256, path)
        contents = {(file.fingerprint, file.size) for file in files if file.fingerprint}
        if contents:
            for fingerprint, size, song_id, path in await session.execute(
                select(Song.fingerprint, Song.size_bytes, Song.id, Song.path).where(
                    Song.removed_at.is_(None),
                    Song.fingerprint.in_({fingerprint for fingerprint, _ in contents}),
                    tuple_(Song.fingerprint, Song.size_bytes).in_(list(contents)),
                )
            ):
                self._by_content.setdefault((fingerprint, size), (song_id, path))
        titles = {fold(file.album) for file in files if file.track is not None}
        if titles:
            for artist, title, disc, number, song_id, path in await session.execute(
                select(
                    Artist.name_key,
                    Album.title_key,
                    func.coalesce(Song.disc_number, 1),
                    Song.track_number,
                    Song.id,
                    Song.path,
                )
                .join(Album, Album.id == Song.album_id)
                .join(Artist, Artist.id == Album.artist_id)
                .where(Song.removed_at.is_(None), Album.title_key.in_(titles))
            ):
                if number is not None:
                    self._by_track.setdefault((artist, title, (disc, number)), (song_id, path))
        if self._albums:
            for album_id, path, tags in await session.execute(
                select(ImportItem.album_id, ImportItem.original_path, ImportItem.tags).where(
                    ImportItem.album_id.in_(set(self._albums.values())),
                    ImportItem.status.in_(STAGED_LIVE),
                )
            ):
                held = _track_of(tags)
                if held is not None:
                    self._album_tracks.setdefault(album_id, {}).setdefault(held, path)

    def remember(self, key: str, sha256: str, track: Track | None, original_path: str) -> None:
        """A file of the batch goes to staging."""
        self._batch_staged.setdefault(sha256, original_path)
        if track is not None:
            self._batch_tracks.setdefault(key, {}).setdefault(track, original_path)

    async def open_album(self, key: str) -> uuid.UUID | None:
        return self._albums.get(key)

    async def staged_copy(self, sha256: str) -> str | None:
        return self._batch_staged.get(sha256) or self._staged.get(sha256)

    async def library_copy(self, fingerprint: str, size: int) -> SongRef | None:
        return self._by_content.get((fingerprint, size))

    async def library_track(self, album_artist: str, album: str, track: Track) -> SongRef | None:
        return self._by_track.get((fold(album_artist), fold(album), track))

    async def staged_track(self, album_id: uuid.UUID, key: str, track: Track) -> str | None:
        return self._album_tracks.get(album_id, {}).get(track)

    async def batch_track(self, key: str, track: Track) -> str | None:
        return self._batch_tracks.get(key, {}).get(track)

    async def library_for(self, album_artist: str) -> uuid.UUID | None:
        if album_artist not in self._libraries:
            self._libraries[album_artist] = await choose_library(self.session, album_artist)
        return self._libraries[album_artist]
