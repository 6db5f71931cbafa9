"""The music scanner: one scan of one library, as small named stages.

    walk (roots → folders of files, in a thread) → diff (against the songs of the library, one
    dictionary lookup per file) → read (tags of new and changed files, in a thread pool) →
    group (album artists per folder) → match (moved files, by content fingerprint) → cover
    (album art into the image store) → write (one transaction per batch) → finish (files gone
    are marked removed; counts refreshed)

Rules it keeps:
- An unchanged file — same path, size and mtime — is never reopened (unless the scan is
  `full`); a rescan of an unchanged library costs one `stat` per file.
- A file at a new path whose fingerprint matches a song whose file is gone keeps that song's id
  (and with it playlists, plays and shares): it is a move.
- Batches of `scan_batch_size` files commit one by one, together with the scan's counters; a
  scan killed half-way leaves those batches in place and the next scan skips them as unchanged.
- Files are marked removed only after a complete walk, never under a folder that could not be
  listed, and never when a root has disappeared: a root gone missing (an unmounted disk) fails
  the scan with a message and leaves every song as it was.
- A file that cannot be read is an error row (`library_scan_error`) and a `failed` count; it
  never stops the scan.

It reads files and writes the database; it never writes, moves or deletes a media file.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import ctypes
import gc
import multiprocessing
import os
import stat
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from sqlalchemy import String, delete, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.errors import AppError
from cinesonic.events.bus import EventBus
from cinesonic.image import service as image_service
from cinesonic.kit.ids import uuid7
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.image import ImageKind
from cinesonic.models.library import (
    Library,
    LibraryKind,
    LibraryPermission,
    LibraryRoot,
    LibraryScan,
    LibraryScanError,
    ScanStatus,
)
from cinesonic.models.music import Album, Artist, Song, SongArtist
from cinesonic.music import tags
from cinesonic.music.indexer import (
    VARIOUS_ARTISTS,
    ArtistName,
    Indexer,
    PlannedSong,
    album_artist_of,
    chunks,
    cover_key,
    delete_orphans,
    track_artists,
)
from cinesonic.music.tags import ReadRequest, TrackInfo, fold, read_many
from cinesonic.worker.runner import JobCancelled

log = structlog.get_logger("cinesonic.scanner")

LIBRARY_CHANNEL = "library"
COVER_NAMES = ("cover", "folder", "front")  # in order of preference
COVER_EXTENSIONS = (".jpg", ".jpeg", ".png")
MAX_COVER_BYTES = 20 * 1024 * 1024
EVENT_INTERVAL_SECONDS = 1.0
EXISTING_PARTITION = 5000

_T = TypeVar("_T")
# (id, size, mtime_ns, is_removed) of a song row, by path
# The id as the driver gives it (a hex string on SQLite): converting 100,000 ids to UUIDs
# would cost more than the rest of an unchanged rescan; `_uuid` converts the few used.
Existing = tuple[Any, int, int, bool]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


class RootUnavailable(Exception):
    """A library root is missing or is no longer a folder."""

    def __init__(self, root: str) -> None:
        super().__init__(
            f"The library folder {root} is missing or not a folder (an unmounted disk?); "
            "the scan stopped and no song was marked removed."
        )
        self.root = root


class ScanAbandoned(Exception):
    """The scan's library or scan row was deleted while it ran: nothing is left to record."""


# ---------------------------------------------------------------- walk


@dataclass(slots=True)
class FileEntry:
    path: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class Folder:
    path: str
    root: str
    files: list[FileEntry] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (path, code, message)
    listing_error: str | None = None  # the folder itself could not be listed
    cover_file: str | None = None
    sidecars: dict[str, str] = field(default_factory=dict)  # audio file stem → .lrc path


class Walker:
    """Depth-first, sorted, resumable by chunks; follows symbolic links but visits each
    folder (device, inode) once, so a link loop ends; skips hidden files and folders."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = roots
        self._stack: list[tuple[str, str]] = [(root, root) for root in reversed(roots)]
        self._visited: set[tuple[int, int]] = set()
        self.unlisted: list[str] = []  # folders that could not be read: keep their songs

    @property
    def done(self) -> bool:
        return not self._stack

    def check_roots(self) -> None:
        for root in self.roots:
            if not os.path.isdir(root):
                raise RootUnavailable(root)

    def next_chunk(self, max_files: int) -> list[Folder]:
        folders: list[Folder] = []
        budget = max_files
        while self._stack and budget > 0:
            path, root = self._stack.pop()
            folder = self._list(path, root)
            if folder is not None:
                folders.append(folder)
                budget -= 1 + len(folder.files) + len(folder.problems)
        return folders

    def _vanished(self, root: str) -> None:
        if not os.path.isdir(root):
            raise RootUnavailable(root)

    def _list(self, path: str, root: str) -> Folder | None:
        try:
            info = os.stat(path)
            if path == root and not stat.S_ISDIR(info.st_mode):
                raise RootUnavailable(root)
            key = (info.st_dev, info.st_ino)
            if key in self._visited:
                return None  # a link back to a folder already walked
            self._visited.add(key)
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            if path == root:
                raise RootUnavailable(root) from None
            self._vanished(root)
            return None  # the folder went away during the walk
        except OSError as exc:
            self._vanished(root)
            self.unlisted.append(path)
            reason = exc.strerror or str(exc)
            return Folder(path, root, listing_error=f"Cannot list the folder: {reason}.")
        folder = Folder(path, root)
        subfolders: list[str] = []
        covers: dict[str, str] = {}
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            if is_folder:
                subfolders.append(entry.path)
                continue
            stem, extension = os.path.splitext(name)
            extension = extension.lower()
            if extension in tags.AUDIO_EXTENSIONS:
                self._add_audio(folder, entry)
            elif extension == ".lrc":
                folder.sidecars[stem] = entry.path
            elif extension in COVER_EXTENSIONS and stem.lower() in COVER_NAMES:
                covers.setdefault(stem.lower(), entry.path)
        folder.cover_file = next((covers[n] for n in COVER_NAMES if n in covers), None)
        self._stack.extend((sub, root) for sub in reversed(subfolders))
        return folder

    @staticmethod
    def _add_audio(folder: Folder, entry: os.DirEntry[str]) -> None:
        try:
            info = entry.stat()
        except OSError as exc:
            broken = entry.is_symlink()
            message = "A broken symbolic link." if broken else f"Cannot stat: {exc.strerror}."
            folder.problems.append((entry.path, "unreadable", message))
            return
        if not stat.S_ISREG(info.st_mode):
            message = "Not a regular file (a FIFO, device or socket)."
            folder.problems.append((entry.path, "unreadable", message))
        elif info.st_size == 0:
            folder.problems.append((entry.path, "empty", "The file is empty (0 bytes)."))
        else:
            folder.files.append(FileEntry(entry.path, info.st_size, info.st_mtime_ns))


# ---------------------------------------------------------------- counters and progress


@dataclass
class Counters:
    files_seen: int = 0
    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    bytes_seen: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "files_seen": self.files_seen,
            "added": self.added,
            "updated": self.updated,
            "moved": self.moved,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "bytes_seen": self.bytes_seen,
        }


@dataclass(frozen=True)
class Progress:
    percent: float | None
    message: str
    counters: dict[str, int]


ProgressHook = Callable[[Progress], Awaitable[None]]


# ---------------------------------------------------------------- one folder's work


@dataclass(slots=True)
class FileWork:
    entry: FileEntry
    row: Existing | None
    changed: bool  # its own path, size or mtime differ from the row (or no row)


@dataclass(slots=True)
class FolderWork:
    folder: Folder
    files: list[FileWork]  # files to read
    siblings: list[uuid.UUID]  # unchanged songs of the folder (not reopened)


@dataclass(slots=True)
class Sibling:
    """An unchanged song of a folder being regrouped, as the database knows it."""

    song_id: uuid.UUID
    title_key: str
    album_artist_id: uuid.UUID
    album_is_compilation: bool
    primary_artist_id: uuid.UUID | None
    primary_artist_key: str | None

    @property
    def is_plain(self) -> bool:
        """Its album artist is simply its own first artist (no album artist tag decided)."""
        return not self.album_is_compilation and self.album_artist_id == self.primary_artist_id


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_COVER_BYTES + 1)
    except OSError:
        return None
    return data if 0 < len(data) <= MAX_COVER_BYTES else None


def _parent_cover(folder: str) -> str | None:
    """A cover beside `CD 1`/`Disc 2` folders, in the album folder above them."""
    if tags.DISC_FOLDER.match(os.path.basename(folder)) is None:
        return None
    parent = os.path.dirname(folder)
    try:
        names = {name.lower(): name for name in os.listdir(parent)}
    except OSError:
        return None
    for stem in COVER_NAMES:
        for extension in COVER_EXTENSIONS:
            found = names.get(stem + extension)
            if found is not None:
                return os.path.join(parent, found)
    return None


# ---------------------------------------------------------------- the scan


class ScanLifecycle(abc.ABC):
    """The life of one scan, the same for music and video: begin, check the roots, walk and
    write, check the roots again, finish; a root gone missing, a cancellation or an error ends
    the scan recorded as such. Subclasses say how each step is done."""

    FINISHED = "library_scanned"  # the log event of a scan that ended
    scan_id: uuid.UUID
    counters: Counters
    executor: Executor
    _own_executor: bool
    _readers: Executor | None

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    def _walker(self) -> Any: ...

    @abc.abstractmethod
    async def _walk_and_write(self, walker: Any) -> None: ...

    @abc.abstractmethod
    async def _finish(self, walker: Any) -> None: ...

    @abc.abstractmethod
    async def _end(self, status: ScanStatus, message: str | None) -> None: ...

    @abc.abstractmethod
    def _release_memory(self) -> None: ...

    async def _in_io(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run blocking file-system work on the scan's I/O threads."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            await self._begin()
            walker = self._walker()
            await self._in_io(walker.check_roots)
            await self._walk_and_write(walker)
            await self._in_io(walker.check_roots)
            await self._finish(walker)
        except RootUnavailable as exc:
            await self._end(ScanStatus.failed, str(exc))
            raise
        except ScanAbandoned:
            raise
        except (asyncio.CancelledError, JobCancelled):
            with contextlib.suppress(Exception):
                await asyncio.shield(self._end(ScanStatus.cancelled, "The scan was stopped."))
            raise
        except Exception as exc:
            with contextlib.suppress(Exception):
                await self._end(ScanStatus.failed, f"{type(exc).__name__}: {exc}"[:2000])
            raise
        finally:
            self._release_memory()
            if self._own_executor:
                self.executor.shutdown(wait=False, cancel_futures=True)
                if self._readers is not None and self._readers is not self.executor:
                    self._readers.shutdown(wait=False, cancel_futures=True)
        seconds = round(time.perf_counter() - started, 3)
        counters = self.counters.as_dict()
        log.info(self.FINISHED, scan_id=str(self.scan_id), seconds=seconds, **counters)
        return {"scan_id": str(self.scan_id), "seconds": seconds, **counters}


class Scanner(ScanLifecycle):
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        settings: Settings,
        scan_id: uuid.UUID,
        *,
        job_id: uuid.UUID | None = None,
        progress: ProgressHook | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.scan_id = scan_id
        self.job_id = job_id
        self.progress_hook = progress
        # Threads for file I/O; tags are read by `readers`: the given executor, these threads,
        # or (`scan_processes`) a pool of processes — mutagen is pure Python, so only processes
        # use a second core, but on a busy machine their round trips cost more than they give
        # (benchmarks/README.md).
        self.executor: Executor = executor or ThreadPoolExecutor(
            max_workers=settings.scan_threads, thread_name_prefix="scan"
        )
        self._own_executor = executor is None
        self._readers: Executor | None = executor
        self.counters = Counters()
        self.library_id: uuid.UUID | None = None
        self.full = False
        self.roots: list[str] = []
        self.audience: list[str] | None = None
        self.indexer: Indexer | None = None
        self.existing: dict[str, Existing] = {}
        self.claimed: set[uuid.UUID] = set()
        self.covers_tried: set[tuple[str, str]] = set()
        self.artists_touched: set[uuid.UUID] = set()
        self.known_songs = 0
        self._last_event = 0.0
        self._store = image_service.image_store(settings.data_dir)

    # ------------------------------------------------------------------ lifecycle

    def _walker(self) -> Walker:
        return Walker(self.roots)

    def _release_memory(self) -> None:
        """Drop what a large scan held (the rows by path, the name caches) and hand the freed
        heap back to the system: a server otherwise keeps its peak size after a scan."""
        self.existing = {}
        self.indexer = None
        self.claimed.clear()
        tags.fold.cache_clear()
        tags.sort_key.cache_clear()
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc only; elsewhere a no-op

    async def _begin(self) -> None:
        """Mark the scan running (again, for a retried attempt) and load what it compares
        against: the library's songs by path, and the indexer's name caches."""
        async with self.db.session() as session:
            scan = await session.get(LibraryScan, self.scan_id)
            library = await session.get(Library, scan.library_id) if scan else None
            if scan is None or library is None:
                raise ScanAbandoned()
            if library.kind != LibraryKind.music:
                # The API refuses these; a job enqueued by other means ends here, recorded.
                scan.status, scan.finished_at = ScanStatus.failed, utcnow()
                scan.message = f"Libraries of kind {library.kind.value} cannot be scanned yet."
                unsupported = True
            else:
                unsupported = False
                await self._start(session, scan, library)
        if unsupported:
            raise ScanAbandoned()
        async with self.db.sessionmaker() as session:
            # Streamed in partitions: the rows never sit in memory beside the dictionary.
            rows = await session.stream(
                select(
                    Song.path,
                    type_coerce(Song.id, String),  # see `Existing`
                    Song.size_bytes,
                    Song.mtime_ns,
                    Song.removed_at.is_not(None),
                )
                .where(Song.library_id == self.library_id)
                .execution_options(yield_per=EXISTING_PARTITION)
            )
            async for partition in rows.partitions():
                for path, song_id, size, mtime_ns, removed in partition:
                    self.existing[path] = (song_id, size, mtime_ns, bool(removed))
            self.known_songs = sum(1 for row in self.existing.values() if not row[3])
            self.indexer = Indexer(library.id)
            await self.indexer.load(session)
        await self._event("library.scan.started", force=True)

    async def _start(self, session: Any, scan: LibraryScan, library: Library) -> None:
        self.library_id = library.id
        self.full = scan.is_full
        self.roots = list(
            await session.scalars(
                select(LibraryRoot.path)
                .where(LibraryRoot.library_id == library.id)
                .order_by(LibraryRoot.path)
            )
        )
        if library.is_restricted:
            granted = await session.scalars(
                select(LibraryPermission.user_id).where(LibraryPermission.library_id == library.id)
            )
            self.audience = [str(user_id) for user_id in granted]
        # A retried attempt keeps what earlier attempts committed (added, updated, moved)
        # and counts the rest again from scratch.
        self.counters.added, self.counters.updated = scan.added, scan.updated
        self.counters.moved = scan.moved
        await session.execute(delete(LibraryScanError).where(LibraryScanError.scan_id == scan.id))
        scan.status = ScanStatus.running
        scan.started_at = scan.started_at or utcnow()
        scan.finished_at = None
        scan.message = None
        scan.job_id = self.job_id or scan.job_id
        self._store_counters(scan)

    def _store_counters(self, scan: LibraryScan) -> None:
        for name, value in self.counters.as_dict().items():
            setattr(scan, name, value)

    async def _end(self, status: ScanStatus, message: str | None) -> None:
        async with self.db.session() as session:
            scan = await session.get(LibraryScan, self.scan_id)
            if scan is None:
                return
            scan.status = status
            scan.message = message
            scan.finished_at = utcnow()
        await self._event(f"library.scan.{status.value}", force=True, status=status.value)

    # ------------------------------------------------------------------ walk, read, write

    async def _walk_and_write(self, walker: Walker) -> None:
        batch_size = self.settings.scan_batch_size
        pending: list[FolderWork] = []
        pending_files = 0
        readings: list[asyncio.Task[list[TrackInfo | Exception]]] = []
        in_flight: tuple[list[FolderWork], asyncio.Task[list[TrackInfo | Exception]]] | None = None

        async def hand_over(batch: list[FolderWork]) -> None:
            """Start reading `batch`, then write the batch read before it (reads of one batch
            overlap the database writes of the previous one)."""
            nonlocal in_flight
            reading = asyncio.create_task(self._read(batch))
            readings.append(reading)
            previous, in_flight = in_flight, (batch, reading)
            if previous is not None:
                await self._write(*previous)

        try:
            while not walker.done:
                folders = await self._in_io(walker.next_chunk, batch_size)
                for folder in folders:
                    work = await self._diff(folder)
                    if work is None:
                        continue
                    pending.append(work)
                    pending_files += len(work.files)
                    if pending_files >= batch_size:
                        batch, pending, pending_files = pending, [], 0
                        await hand_over(batch)
                await self._report()
            if pending:
                await hand_over(pending)
            if in_flight is not None:
                last, in_flight = in_flight, None
                await self._write(*last)
        finally:
            for reading in readings:
                if not reading.done():
                    reading.cancel()
                elif not reading.cancelled():
                    reading.exception()  # retrieved: a failed read of a dropped batch is moot

    async def _diff(self, folder: Folder) -> FolderWork | None:
        """What of this folder must be read; counts the rest as unchanged."""
        counters = self.counters
        if folder.problems or folder.listing_error:
            await self._record_problems(folder)
        work: list[FileWork] = []
        unchanged: list[tuple[FileEntry, Existing]] = []
        for entry in folder.files:
            counters.files_seen += 1
            counters.bytes_seen += entry.size
            row = self.existing.pop(entry.path, None)
            if row is None:
                work.append(FileWork(entry, None, True))
            elif row[3] or row[1] != entry.size or row[2] != entry.mtime_ns:
                work.append(FileWork(entry, row, True))
            elif self.full:
                work.append(FileWork(entry, row, False))
            else:
                unchanged.append((entry, row))
        counters.unchanged += len(unchanged)
        if not work:
            return None
        return FolderWork(folder, work, [_uuid(row[0]) for _, row in unchanged])

    async def _record_problems(self, folder: Folder) -> None:
        """Files the walk could not take (broken links, FIFOs, empty files) and a folder that
        could not be listed; only the files count as failed."""
        problems = list(folder.problems)
        if folder.listing_error:
            problems.append((folder.path, "unreadable", folder.listing_error))
        async with self.db.session() as session:
            await self._insert_errors(session, problems)
        self.counters.failed += len(folder.problems)
        self.counters.files_seen += len(folder.problems)

    async def _insert_errors(self, session: Any, problems: list[tuple[str, str, str]]) -> None:
        if not problems:
            return
        now = utcnow()
        await session.execute(
            insert(LibraryScanError),
            [
                {
                    "id": uuid7(),
                    "scan_id": self.scan_id,
                    "path": path[:4096],
                    "code": code,
                    "message": message[:2000],
                    "created_at": now,
                }
                for path, code, message in problems
            ],
        )

    @property
    def readers(self) -> Executor:
        """Made on first use: a scan with nothing to read starts no process."""
        if self._readers is None:
            processes = self.settings.scan_processes
            if processes > 0:
                self._readers = ProcessPoolExecutor(
                    max_workers=processes, mp_context=multiprocessing.get_context("spawn")
                )
            else:
                self._readers = self.executor
        return self._readers

    async def _read(self, batch: list[FolderWork]) -> list[TrackInfo | Exception]:
        requests: list[ReadRequest] = [
            (
                work.entry.path,
                work.entry.size,
                folder.folder.root,
                folder.folder.sidecars.get(os.path.splitext(os.path.basename(work.entry.path))[0]),
            )
            for folder in batch
            for work in folder.files
        ]
        loop = asyncio.get_running_loop()
        size = max(1, min(32, len(requests) // (4 * max(1, self.settings.scan_processes)) or 1))
        parts = [requests[start : start + size] for start in range(0, len(requests), size)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self.readers, read_many, part) for part in parts)
        )
        return [result for part in results for result in part]

    async def _write(
        self, batch: list[FolderWork], reading: asyncio.Task[list[TrackInfo | Exception]]
    ) -> None:
        results = iter(await reading)
        indexer = self.indexer
        assert indexer is not None
        problems: list[tuple[str, str, str]] = []
        planned: list[PlannedSong] = []
        regroups: list[tuple[list[uuid.UUID], str]] = []
        for folder_work in batch:
            read: list[tuple[FileWork, TrackInfo]] = []
            for work in folder_work.files:
                result = next(results)
                if isinstance(result, TrackInfo):
                    read.append((work, result))
                else:
                    code = getattr(result, "code", "corrupt")
                    problems.append((work.entry.path, code, str(result)))
            songs, regroup = await self._group(folder_work, read)
            planned.extend(songs)
            if regroup:
                regroups.append(regroup)
        self.counters.failed += len(problems)
        await self._match_moves(planned)
        covers = await self._covers(batch, planned)
        try:
            async with self.db.session() as session:
                await indexer.write(session, planned, covers)
                for song_ids, title in regroups:
                    await self._regroup(session, song_ids, title)
                await self._insert_errors(session, problems)
                self.artists_touched.update(indexer.touched.artists)
                await indexer.refresh_touched(session)
                await self._save_counters(session)
        except IntegrityError:
            await self._check_still_wanted()
            raise
        await self._report(force=True)

    async def _check_still_wanted(self) -> None:
        async with self.db.sessionmaker() as session:
            if await session.get(LibraryScan, self.scan_id) is None:
                raise ScanAbandoned()

    async def _save_counters(self, session: Any) -> None:
        await session.execute(
            update(LibraryScan)
            .where(LibraryScan.id == self.scan_id)
            .values(**self.counters.as_dict())
            .execution_options(synchronize_session=False)
        )

    # ------------------------------------------------------------------ group

    async def _group(
        self, work: FolderWork, read: list[tuple[FileWork, TrackInfo]]
    ) -> tuple[list[PlannedSong], tuple[list[uuid.UUID], str] | None]:
        """Decide each file's album artist. Files without an album artist tag (and not flagged
        compilations) that share an album title in one folder but not a first artist make
        that album a "Various Artists" compilation — counting the folder's unchanged songs
        from the database, which then move to the compilation too."""
        plain_titles: dict[str, set[str]] = {}
        for _, info in read:
            if not info.album_artist and not info.is_compilation:
                plain_titles.setdefault(fold(info.album), set()).add(fold(info.artists[0]))
        siblings: list[Sibling] = []
        if plain_titles and work.siblings:
            siblings = await self._siblings(work.siblings)
        compilation_titles = {s.title_key for s in siblings if s.album_is_compilation}
        for sibling in siblings:
            if (
                sibling.is_plain
                and sibling.title_key in plain_titles
                and sibling.primary_artist_key
            ):
                plain_titles[sibling.title_key].add(sibling.primary_artist_key)
        various = {
            title
            for title, artists in plain_titles.items()
            if len(artists) > 1 or title in compilation_titles
        }
        planned: list[PlannedSong] = []
        for file_work, info in read:
            artists = track_artists(info)
            album_artist = album_artist_of(artists, info)
            compilation = bool(info.is_compilation) or fold(album_artist.name) == fold(
                VARIOUS_ARTISTS
            )
            if not info.album_artist and not info.is_compilation and fold(info.album) in various:
                album_artist, compilation = ArtistName(VARIOUS_ARTISTS), True
            row = file_work.row
            counters = self.counters
            if row is None:
                song_id, is_new = uuid7(), True  # added or moved: `_match_moves` decides
            else:
                song_id, is_new = _uuid(row[0]), False
                self.claimed.add(song_id)
                if row[3]:
                    counters.added += 1  # a file that had gone is back
                elif file_work.changed:
                    counters.updated += 1
                else:
                    counters.unchanged += 1
            planned.append(
                PlannedSong(
                    info=info,
                    mtime_ns=file_work.entry.mtime_ns,
                    song_id=song_id,
                    is_new=is_new,
                    album_artist=album_artist,
                    is_compilation=compilation,
                    artists=artists,
                )
            )
        regroup_ids = [
            s.song_id
            for s in siblings
            if s.is_plain and s.title_key in various and s.title_key not in compilation_titles
        ]
        if regroup_ids:
            title = next(info.album for _, info in read if fold(info.album) in various)
            return planned, (regroup_ids, title)
        return planned, None

    async def _siblings(self, song_ids: list[uuid.UUID]) -> list[Sibling]:
        found: list[Sibling] = []
        async with self.db.sessionmaker() as session:
            for part in chunks(song_ids):
                primary = (
                    select(SongArtist.artist_id)
                    .where(SongArtist.song_id == Song.id, SongArtist.position == 0)
                    .limit(1)
                    .scalar_subquery()
                )
                rows = await session.execute(
                    select(
                        Song.id,
                        Album.title_key,
                        Album.artist_id,
                        Album.is_compilation,
                        primary.label("primary_id"),
                    )
                    .join(Album, Album.id == Song.album_id)
                    .where(Song.id.in_(part))
                )
                pairs = list(rows)
                primaries = {r.primary_id for r in pairs if r.primary_id}
                keys: dict[uuid.UUID, str] = {
                    artist_id: name_key
                    for artist_id, name_key in await session.execute(
                        select(Artist.id, Artist.name_key).where(Artist.id.in_(primaries))
                    )
                }
                found.extend(
                    Sibling(r[0], r[1], r[2], r[3], r[4], keys.get(r[4]) if r[4] else None)
                    for r in pairs
                )
        return found

    async def _regroup(self, session: Any, song_ids: list[uuid.UUID], title: str) -> None:
        """Move unchanged songs of a folder onto its "Various Artists" album."""
        indexer = self.indexer
        assert indexer is not None
        album = indexer.find_album(ArtistName(VARIOUS_ARTISTS), title, None)
        if album is None:
            return
        old = await session.scalars(select(Song.album_id).where(Song.id.in_(song_ids)))
        indexer.touched.albums.update(a for a in old if a is not None)
        indexer.touched.albums.add(album.id)
        await session.execute(
            update(Song)
            .where(Song.id.in_(song_ids))
            .values(album_id=album.id, is_compilation=True, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    # ------------------------------------------------------------------ match moves

    async def _match_moves(self, planned: list[PlannedSong]) -> None:
        """New paths whose content matches a song whose file is gone take over that song."""
        fresh = [song for song in planned if song.is_new]
        if not fresh:
            return
        candidates: dict[str, list[tuple[uuid.UUID, str]]] = {}
        if self.existing:  # a library never scanned has nothing to move
            async with self.db.sessionmaker() as session:
                prints = sorted({song.info.fingerprint for song in fresh})
                for part in chunks(prints):
                    rows = await session.execute(
                        select(Song.fingerprint, Song.id, Song.path).where(
                            Song.library_id == self.library_id, Song.fingerprint.in_(part)
                        )
                    )
                    for fingerprint, song_id, path in rows:
                        candidates.setdefault(fingerprint, []).append((song_id, path))
        gone: set[str] = set()
        if candidates:
            paths = [path for found in candidates.values() for _, path in found]
            exists = await self._in_io(lambda: [os.path.exists(p) for p in paths])
            gone = {path for path, present in zip(paths, exists, strict=True) if not present}
        for song in fresh:
            match = next(
                (
                    (song_id, path)
                    for song_id, path in candidates.get(song.info.fingerprint, [])
                    if path in gone and song_id not in self.claimed
                ),
                None,
            )
            if match is None:
                self.counters.added += 1
                continue
            song.song_id, song.is_new = match[0], False
            self.claimed.add(match[0])
            self.existing.pop(match[1], None)
            self.counters.moved += 1

    # ------------------------------------------------------------------ covers

    async def _covers(
        self, batch: list[FolderWork], planned: list[PlannedSong]
    ) -> dict[tuple[str, str], uuid.UUID]:
        """Album art for albums that have none yet (every album once in a full scan): the
        folder's cover/folder/front image, else a picture embedded in one of its files."""
        indexer = self.indexer
        assert indexer is not None
        by_folder: dict[str, list[PlannedSong]] = {}
        for song in planned:
            by_folder.setdefault(os.path.dirname(song.info.path), []).append(song)
        folder_files = {work.folder.path: work.folder.cover_file for work in batch}
        wanted: list[tuple[tuple[str, str], str | None, list[PlannedSong]]] = []
        for folder, songs in by_folder.items():
            keys: dict[tuple[str, str], list[PlannedSong]] = {}
            for song in songs:
                keys.setdefault(cover_key(song), []).append(song)
            for key, members in keys.items():
                if key in self.covers_tried:
                    continue
                first = members[0]
                ref = indexer.find_album(
                    first.album_artist, first.info.album, first.info.mbz_album_id
                )
                if ref is not None and ref.cover_image_id is not None and not self.full:
                    continue
                self.covers_tried.add(key)
                cover_file = folder_files.get(folder)
                possible = (
                    cover_file is not None
                    or tags.DISC_FOLDER.match(os.path.basename(folder)) is not None
                    or any(member.info.has_picture for member in members)
                )
                if possible:  # most folders without art need no look at all
                    wanted.append((key, cover_file, members))
        if not wanted:
            return {}
        limit = asyncio.Semaphore(max(1, self.settings.scan_threads))

        async def one(
            key: tuple[str, str], cover_file: str | None, members: list[PlannedSong]
        ) -> tuple[tuple[str, str], uuid.UUID | None]:
            async with limit:
                return key, await self._store_cover(cover_file, members)

        found = await asyncio.gather(*(one(*item) for item in wanted))
        return {key: image_id for key, image_id in found if image_id is not None}

    async def _store_cover(
        self, cover_file: str | None, members: list[PlannedSong]
    ) -> uuid.UUID | None:
        loop = asyncio.get_running_loop()
        folder = os.path.dirname(members[0].info.path)
        source = cover_file or await loop.run_in_executor(self.executor, _parent_cover, folder)
        data = await loop.run_in_executor(self.executor, _read_file, source) if source else None
        if data is None:
            source = next((s.info.path for s in members if s.info.has_picture), None)
            if source is not None:
                data = await loop.run_in_executor(self.executor, tags.read_embedded_picture, source)
        if data is None or source is None:
            return None
        try:
            async with self.db.session() as session:
                image = await image_service.store_image(
                    session,
                    self._store,
                    data,
                    kind=ImageKind.cover,
                    owner_id=None,
                    max_side=self.settings.scan_cover_max_side,
                )
                return image.id
        except AppError as exc:
            # A broken picture is noted, not counted as a failed file.
            async with self.db.session() as session:
                await self._insert_errors(session, [(source, "bad_cover", exc.message)])
            return None

    # ------------------------------------------------------------------ finish

    async def _finish(self, walker: Walker) -> None:
        indexer = self.indexer
        assert indexer is not None
        unlisted = tuple(path.rstrip(os.sep) + os.sep for path in walker.unlisted)
        gone = [
            _uuid(row[0])
            for path, row in self.existing.items()
            if not row[3] and not (unlisted and path.startswith(unlisted))
        ]
        self.counters.removed = len(gone)
        now = utcnow()
        async with self.db.session() as session:
            await indexer.mark_removed(session, gone, now)
            self.artists_touched.update(indexer.touched.artists)
            await indexer.refresh_touched(session)
            await delete_orphans(session, self.library_id, sorted(self.artists_touched))
            await self._save_counters(session)
            await session.execute(
                update(LibraryScan)
                .where(LibraryScan.id == self.scan_id)
                .values(status=ScanStatus.succeeded, finished_at=now, message=None)
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                update(Library)
                .where(Library.id == self.library_id)
                .values(last_scanned_at=now)
                .execution_options(synchronize_session=False)
            )
        await self._event("library.scan.succeeded", force=True, status="succeeded")

    # ------------------------------------------------------------------ progress and events

    async def _report(self, *, force: bool = False) -> None:
        counters = self.counters
        done = counters.files_seen
        percent = min(99.0, 100.0 * done / self.known_songs) if self.known_songs else None
        message = f"{done} files seen, {counters.added} added, {counters.failed} failed"
        if self.progress_hook is not None:
            await self.progress_hook(Progress(percent, message, counters.as_dict()))
        await self._event("library.scan.progress", force=force)

    async def _event(self, event: str, *, force: bool = False, status: str | None = None) -> None:
        now = time.monotonic()
        if not force and now - self._last_event < EVENT_INTERVAL_SECONDS:
            return
        self._last_event = now
        data: dict[str, Any] = {
            "event": event,
            "library_id": str(self.library_id) if self.library_id else None,
            "scan_id": str(self.scan_id),
            "job_id": str(self.job_id) if self.job_id else None,
            "status": status or "running",
            "counters": self.counters.as_dict(),
        }
        if self.audience is not None:
            data["audience"] = self.audience  # a restricted library: its readers only
        with contextlib.suppress(Exception):
            await self.bus.publish(LIBRARY_CHANNEL, data)
