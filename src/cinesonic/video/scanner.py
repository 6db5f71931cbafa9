"""The video scanner: one scan of one `movies` or `tvshows` library, in the music scanner's
stages and with its guarantees (`cinesonic.library.scanner`).

    walk (roots → folders of videos, subtitles and artwork; extras skipped) → diff (against
    the library's files, one dictionary lookup per file) → read (fingerprint, streams, name, in
    a reader pool) → match (moved files, by fingerprint) → resolve (movie, or show / season /
    episodes, from the name) → artwork (poster / fanart of the item's folder into the image
    store) → write (one transaction per batch) → finish (files gone are marked removed)

Rules it keeps:
- An unchanged file — same path, size and mtime — is never reopened (unless the scan is
  `full`); a rescan of an unchanged library costs one `stat` per file.
- A file at a new path whose fingerprint matches a file that is gone keeps that file's id and
  with it its associations (and so what was watched): it is a move.
- Batches of `scan_batch_size` files commit one by one with the scan's counters; a scan killed
  half-way leaves them in place and the next one skips them as unchanged.
- Files are marked removed only after a complete walk, never under a folder that could not be
  listed, and never when a root has disappeared (the scan fails, nothing is marked).
- A file that cannot be read (a corrupt MKV) is a `library_scan_error` row and a `failed`
  count; it never stops the scan.
- A file gets the associations its name says (`media_file`, source `scan`) only while it has
  none: a file linked by hand, or already linked, keeps what it has.
- A scan that made movies or shows enqueues `metadata.refresh` of the library in its last
  transaction, when a TMDb key is configured (without one the library stays as the names say).

It reads files and writes the database; it never writes, moves or deletes a media file.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import stat
import time
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
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
from cinesonic.kit.text import fold, sort_key
from cinesonic.kit.timeutil import utcnow
from cinesonic.library.scanner import (
    LIBRARY_CHANNEL,
    Counters,
    FileEntry,
    Progress,
    ProgressHook,
    RootUnavailable,
    ScanAbandoned,
    ScanLifecycle,
)
from cinesonic.metadata import refresh as metadata_refresh
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
from cinesonic.models.video import (
    Episode,
    MediaFile,
    MediaFileSource,
    Movie,
    Season,
    TvShow,
    VideoFile,
)
from cinesonic.video import naming
from cinesonic.video.probe import ReadRequest, VideoInfo, read_many

log = structlog.get_logger("cinesonic.video.scanner")

VIDEO_KINDS = (LibraryKind.movies, LibraryKind.tvshows)
MAX_ARTWORK_BYTES = 20 * 1024 * 1024
EVENT_INTERVAL_SECONDS = 1.0
EXISTING_PARTITION = 5000
CHUNK = 500  # ids per IN (...) list

_T = TypeVar("_T")
# (id as the driver gives it, size, mtime_ns, is_removed) of a file row, by path
Existing = tuple[Any, int, int, bool]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _chunks(items: list[_T]) -> list[list[_T]]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]


# ---------------------------------------------------------------- walk


@dataclass(slots=True)
class Folder:
    path: str
    root: str
    files: list[FileEntry] = field(default_factory=list)
    subtitles: list[str] = field(default_factory=list)  # file names
    artwork: dict[str, str] = field(default_factory=dict)  # poster | backdrop → path
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (path, code, message)
    listing_error: str | None = None


class Walker:
    """Depth-first, sorted, resumable by chunks; follows symbolic links but visits each folder
    once; skips hidden entries and extras (`Extras/`, `Trailers/`, `*-sample.mkv`, …)."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = roots
        self._stack: list[tuple[str, str]] = [(root, root) for root in reversed(roots)]
        self._visited: set[tuple[int, int]] = set()
        self.unlisted: list[str] = []

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

    def _list(self, path: str, root: str) -> Folder | None:
        try:
            info = os.stat(path)
            if path == root and not stat.S_ISDIR(info.st_mode):
                raise RootUnavailable(root)
            key = (info.st_dev, info.st_ino)
            if key in self._visited:
                return None
            self._visited.add(key)
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            if path == root or not os.path.isdir(root):
                raise RootUnavailable(root) from None
            return None
        except OSError as exc:
            if not os.path.isdir(root):
                raise RootUnavailable(root) from None
            self.unlisted.append(path)
            reason = exc.strerror or str(exc)
            return Folder(path, root, listing_error=f"Cannot list the folder: {reason}.")
        folder = Folder(path, root)
        subfolders: list[str] = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            if is_folder:
                if name.lower() not in naming.EXTRA_FOLDERS:
                    subfolders.append(entry.path)
                continue
            extension = os.path.splitext(name)[1].lower()
            if extension in naming.VIDEO_EXTENSIONS:
                if not naming.is_extra(name):
                    self._add_video(folder, entry)
            elif extension in naming.SUBTITLE_EXTENSIONS:
                folder.subtitles.append(name)
            elif (kind := naming.artwork_kind(name)) is not None:
                folder.artwork.setdefault(kind, entry.path)
        self._stack.extend((sub, root) for sub in reversed(subfolders))
        return folder

    @staticmethod
    def _add_video(folder: Folder, entry: os.DirEntry[str]) -> None:
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


# ---------------------------------------------------------------- work of a batch


@dataclass(slots=True)
class FileWork:
    entry: FileEntry
    folder: Folder
    row: Existing | None
    changed: bool


@dataclass(slots=True)
class Planned:
    """One read file, about to be written."""

    work: FileWork
    info: VideoInfo
    file_id: uuid.UUID
    is_new: bool  # no row yet (after move matching: a moved file has one)
    sidecars: list[dict[str, Any]]
    items: list[tuple[str, uuid.UUID]] = field(default_factory=list)  # (movie|episode, id)


@dataclass(slots=True)
class ItemRef:
    id: uuid.UUID
    has_poster: bool = False
    has_backdrop: bool = False


INSERT_ORDER: list[type[Any]] = [Movie, TvShow, Season, Episode]


@dataclass
class Catalogue:
    """The library's movies, shows, seasons and episodes by what a file name can say; new ones
    are created in memory first and inserted with the batch that made them."""

    movies: dict[tuple[str, int | None], ItemRef] = field(default_factory=dict)
    shows: dict[str, ItemRef] = field(default_factory=dict)
    seasons: dict[tuple[uuid.UUID, int], ItemRef] = field(default_factory=dict)
    episodes: dict[tuple[uuid.UUID, int, int], uuid.UUID] = field(default_factory=dict)
    dated: dict[tuple[uuid.UUID, date], uuid.UUID] = field(default_factory=dict)
    new_rows: dict[type[Any], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: type[Any], row: dict[str, Any]) -> None:
        self.new_rows.setdefault(model, []).append(row)

    def take_new(self) -> list[tuple[type[Any], list[dict[str, Any]]]]:
        """The new rows by model, parents first (a batch can add a season of a show made
        earlier before it adds a new show and its seasons)."""
        rows, self.new_rows = self.new_rows, {}
        return sorted(rows.items(), key=lambda entry: INSERT_ORDER.index(entry[0]))


def _sidecars(folder: Folder, video_path: str) -> list[dict[str, Any]]:
    stem = os.path.splitext(os.path.basename(video_path))[0]
    found = []
    for name in folder.subtitles:
        sidecar = naming.sidecar_of(stem, name)
        if sidecar is not None:
            found.append({"path": os.path.join(folder.path, name), **sidecar})
    return found


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ARTWORK_BYTES + 1)
    except OSError:
        return None
    return data if 0 < len(data) <= MAX_ARTWORK_BYTES else None


# ---------------------------------------------------------------- the scan


class VideoScanner(ScanLifecycle):
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
        self.executor: Executor = executor or ThreadPoolExecutor(
            max_workers=settings.scan_threads, thread_name_prefix="video-scan"
        )
        self._own_executor = executor is None
        self._readers: Executor | None = executor
        self.counters = Counters()
        self.library_id: uuid.UUID | None = None
        self.kind = LibraryKind.movies
        self.full = False
        self.roots: list[str] = []
        self.audience: list[str] | None = None
        self.existing: dict[str, Existing] = {}
        self.claimed: set[uuid.UUID] = set()
        self.catalogue = Catalogue()
        self.art_tried: set[tuple[str, uuid.UUID]] = set()
        self.known_files = 0
        self.started_at: datetime | None = None
        self._last_event = 0.0
        self._store = image_service.image_store(settings.data_dir)

    FINISHED = "video_library_scanned"

    def _walker(self) -> Walker:
        return Walker(self.roots)

    def _release_memory(self) -> None:
        self.existing = {}
        self.catalogue = Catalogue()

    # ------------------------------------------------------------------ begin and end

    async def _begin(self) -> None:
        async with self.db.session() as session:
            scan = await session.get(LibraryScan, self.scan_id)
            library = await session.get(Library, scan.library_id) if scan else None
            if scan is None or library is None:
                raise ScanAbandoned()
            unsupported = library.kind not in VIDEO_KINDS
            if unsupported:
                scan.status, scan.finished_at = ScanStatus.failed, utcnow()
                scan.message = f"The video scanner does not scan {library.kind.value} libraries."
            else:
                await self._start(session, scan, library)
        if unsupported:
            raise ScanAbandoned()
        async with self.db.sessionmaker() as session:
            rows = await session.stream(
                select(
                    VideoFile.path,
                    type_coerce(VideoFile.id, String),
                    VideoFile.size_bytes,
                    VideoFile.mtime_ns,
                    VideoFile.removed_at.is_not(None),
                )
                .where(VideoFile.library_id == self.library_id)
                .execution_options(yield_per=EXISTING_PARTITION)
            )
            async for partition in rows.partitions():
                for path, file_id, size, mtime_ns, removed in partition:
                    self.existing[path] = (file_id, size, mtime_ns, bool(removed))
            self.known_files = sum(1 for row in self.existing.values() if not row[3])
            await self._load_catalogue(session)
        await self._event("library.scan.started", force=True)

    async def _start(self, session: Any, scan: LibraryScan, library: Library) -> None:
        self.library_id = library.id
        self.kind = library.kind
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
        # A retried attempt keeps what earlier attempts committed and counts the rest again.
        self.counters.added, self.counters.updated = scan.added, scan.updated
        self.counters.moved = scan.moved
        await session.execute(delete(LibraryScanError).where(LibraryScanError.scan_id == scan.id))
        scan.status = ScanStatus.running
        scan.started_at = scan.started_at or utcnow()
        self.started_at = scan.started_at
        scan.finished_at = None
        scan.message = None
        scan.job_id = self.job_id or scan.job_id
        for name, value in self.counters.as_dict().items():
            setattr(scan, name, value)

    async def _load_catalogue(self, session: Any) -> None:
        catalogue = self.catalogue
        if self.kind == LibraryKind.movies:
            rows = await session.execute(
                select(
                    Movie.id,
                    Movie.title,
                    Movie.year,
                    Movie.poster_image_id.is_not(None),
                    Movie.backdrop_image_id.is_not(None),
                ).where(Movie.library_id == self.library_id)
            )
            for movie_id, title, year, poster, backdrop in rows:
                catalogue.movies.setdefault(
                    (fold(title), year), ItemRef(movie_id, bool(poster), bool(backdrop))
                )
            return
        shows = await session.execute(
            select(
                TvShow.id,
                TvShow.title,
                TvShow.poster_image_id.is_not(None),
                TvShow.backdrop_image_id.is_not(None),
            ).where(TvShow.library_id == self.library_id)
        )
        for show_id, title, poster, backdrop in shows:
            catalogue.shows.setdefault(fold(title), ItemRef(show_id, bool(poster), bool(backdrop)))
        in_library = select(TvShow.id).where(TvShow.library_id == self.library_id)
        seasons = await session.execute(
            select(
                Season.id, Season.show_id, Season.number, Season.poster_image_id.is_not(None)
            ).where(Season.show_id.in_(in_library))
        )
        for season_id, show_id, number, poster in seasons:
            catalogue.seasons[(show_id, number)] = ItemRef(season_id, bool(poster))
        episodes = await session.execute(
            select(
                Episode.id,
                Episode.show_id,
                Episode.season_number,
                Episode.episode_number,
                Episode.air_date,
            ).where(Episode.show_id.in_(in_library))
        )
        for episode_id, show_id, season, number, air_date in episodes:
            if number is not None:
                catalogue.episodes.setdefault((show_id, season, number), episode_id)
            elif air_date is not None:
                catalogue.dated.setdefault((show_id, air_date), episode_id)

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
        pending: list[FileWork] = []
        readings: list[asyncio.Task[list[VideoInfo | Exception]]] = []
        in_flight: tuple[list[FileWork], asyncio.Task[list[VideoInfo | Exception]]] | None = None

        async def hand_over(batch: list[FileWork]) -> None:
            """Start reading `batch`, then write the batch read before it."""
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
                    pending.extend(await self._diff(folder))
                    if len(pending) >= batch_size:
                        batch, pending = pending, []
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
                    reading.exception()

    async def _diff(self, folder: Folder) -> list[FileWork]:
        counters = self.counters
        if folder.problems or folder.listing_error:
            problems = list(folder.problems)
            if folder.listing_error:
                problems.append((folder.path, "unreadable", folder.listing_error))
            async with self.db.session() as session:
                await self._insert_errors(session, problems)
            counters.failed += len(folder.problems)
            counters.files_seen += len(folder.problems)
        work: list[FileWork] = []
        for entry in folder.files:
            counters.files_seen += 1
            counters.bytes_seen += entry.size
            row = self.existing.pop(entry.path, None)
            if row is None:
                work.append(FileWork(entry, folder, None, True))
            elif row[3] or row[1] != entry.size or row[2] != entry.mtime_ns:
                work.append(FileWork(entry, folder, row, True))
            elif self.full:
                work.append(FileWork(entry, folder, row, False))
            else:
                counters.unchanged += 1
        return work

    @property
    def readers(self) -> Executor:
        """Made on first use: a scan with nothing to read starts no process. guessit and the
        container probe are CPU work in Python: processes use the other cores."""
        if self._readers is None:
            processes = self.settings.scan_video_processes
            if processes > 0:
                self._readers = ProcessPoolExecutor(
                    max_workers=processes, mp_context=multiprocessing.get_context("spawn")
                )
            else:
                self._readers = self.executor
        return self._readers

    async def _read(self, batch: list[FileWork]) -> list[VideoInfo | Exception]:
        kind = self.kind.value
        requests: list[ReadRequest] = [
            (
                work.entry.path,
                work.entry.size,
                work.entry.path[len(work.folder.root) :].lstrip(os.sep),
                kind,
            )
            for work in batch
        ]
        loop = asyncio.get_running_loop()
        workers = max(1, self.settings.scan_video_processes)
        size = max(1, min(32, len(requests) // (4 * workers) or 1))
        parts = [requests[start : start + size] for start in range(0, len(requests), size)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self.readers, read_many, part) for part in parts)
        )
        return [result for part in results for result in part]

    async def _write(
        self, batch: list[FileWork], reading: asyncio.Task[list[VideoInfo | Exception]]
    ) -> None:
        results = await reading
        problems: list[tuple[str, str, str]] = []
        planned: list[Planned] = []
        for work, result in zip(batch, results, strict=True):
            if isinstance(result, VideoInfo):
                row = work.row
                if row is None:
                    file_id, is_new = uuid7(), True
                else:
                    file_id, is_new = _uuid(row[0]), False
                    self.claimed.add(file_id)
                    if row[3]:
                        self.counters.added += 1  # a file that had gone is back
                    elif work.changed:
                        self.counters.updated += 1
                    else:
                        self.counters.unchanged += 1
                sidecars = _sidecars(work.folder, work.entry.path)
                planned.append(Planned(work, result, file_id, is_new, sidecars))
            else:
                code = getattr(result, "code", "corrupt")
                problems.append((work.entry.path, code, str(result)))
        self.counters.failed += len(problems)
        await self._match_moves(planned)
        linked = await self._linked_files([p.file_id for p in planned if not p.is_new])
        for plan in planned:
            if plan.file_id not in linked:
                self._resolve(plan)
        artwork = await self._artwork(planned)
        try:
            async with self.db.session() as session:
                for model, rows in self.catalogue.take_new():
                    for part in _chunks(rows):
                        await session.execute(insert(model), part)
                for (model, item_id), values in artwork.items():
                    await session.execute(
                        update(model)
                        .where(model.id == item_id)
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
                await self._write_files(session, planned)
                await self._insert_errors(session, problems)
                await self._save_counters(session)
        except IntegrityError:
            await self._check_still_wanted()
            raise
        await self._report(force=True)

    async def _write_files(self, session: Any, planned: list[Planned]) -> None:
        now = utcnow()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        for plan in planned:
            info = plan.info
            values = {
                "path": info.path,
                "size_bytes": info.size,
                "mtime_ns": plan.work.entry.mtime_ns,
                "fingerprint": info.fingerprint,
                "container": info.container,
                "duration_seconds": info.duration_seconds,
                "bit_rate": info.bit_rate,
                "video_codec": info.video_codec,
                "width": info.width,
                "height": info.height,
                "hdr": info.hdr,
                "audio_streams": info.audio_streams,
                "subtitle_streams": info.subtitle_streams,
                "sidecar_subtitles": plan.sidecars,
                "parsed": info.parsed.as_json(),
                "needs_review": info.parsed.needs_review,
                "review_reason": info.parsed.review_reason,
                "removed_at": None,
                "updated_at": now,
            }
            if plan.is_new:
                inserts.append(
                    {"id": plan.file_id, "library_id": self.library_id, "created_at": now, **values}
                )
            else:
                updates.append({"id": plan.file_id, **values})
            for kind, item_id in plan.items:
                links.append(
                    {
                        "id": uuid7(),
                        "video_file_id": plan.file_id,
                        "movie_id": item_id if kind == "movie" else None,
                        "episode_id": item_id if kind == "episode" else None,
                        "source": MediaFileSource.scan,
                        "created_at": now,
                    }
                )
        for part in _chunks(updates):
            await session.execute(update(VideoFile), part)
        for part in _chunks(inserts):
            await session.execute(insert(VideoFile), part)
        for part in _chunks(links):
            await session.execute(insert(MediaFile), part)

    async def _linked_files(self, file_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Files of the batch that already have an association (kept as they are)."""
        if not file_ids:
            return set()
        found: set[uuid.UUID] = set()
        async with self.db.sessionmaker() as session:
            for part in _chunks(file_ids):
                found.update(
                    await session.scalars(
                        select(MediaFile.video_file_id)
                        .where(MediaFile.video_file_id.in_(part))
                        .distinct()
                    )
                )
        return found

    # ------------------------------------------------------------------ match moves

    async def _match_moves(self, planned: list[Planned]) -> None:
        """New paths whose content matches a file that is gone take over that file's row."""
        fresh = [plan for plan in planned if plan.is_new]
        if not fresh:
            return
        candidates: dict[str, list[tuple[uuid.UUID, str]]] = {}
        if self.existing:  # a library never scanned has nothing to move
            async with self.db.sessionmaker() as session:
                prints = sorted({plan.info.fingerprint for plan in fresh})
                for part in _chunks(prints):
                    rows = await session.execute(
                        select(VideoFile.fingerprint, VideoFile.id, VideoFile.path).where(
                            VideoFile.library_id == self.library_id,
                            VideoFile.fingerprint.in_(part),
                        )
                    )
                    for fingerprint, file_id, path in rows:
                        candidates.setdefault(fingerprint, []).append((file_id, path))
        gone: set[str] = set()
        if candidates:
            paths = [path for found in candidates.values() for _, path in found]
            exists = await self._in_io(lambda: [os.path.exists(p) for p in paths])
            gone = {path for path, present in zip(paths, exists, strict=True) if not present}
        for plan in fresh:
            match = next(
                (
                    (file_id, path)
                    for file_id, path in candidates.get(plan.info.fingerprint, [])
                    if path in gone and file_id not in self.claimed
                ),
                None,
            )
            if match is None:
                self.counters.added += 1
                continue
            plan.file_id, plan.is_new = match[0], False
            self.claimed.add(match[0])
            self.existing.pop(match[1], None)
            self.counters.moved += 1

    # ------------------------------------------------------------------ resolve items

    def _resolve(self, plan: Planned) -> None:
        parsed = plan.info.parsed
        if self.kind == LibraryKind.movies:
            plan.items.append(("movie", self._movie(parsed).id))
            return
        show = self._show(parsed)
        season_number = parsed.season if parsed.season is not None else 0
        season = self._season(show.id, season_number)
        if parsed.episodes:
            single = len(parsed.episodes) == 1
            for number in parsed.episodes:
                key = (show.id, season_number, number)
                episode_id = self.catalogue.episodes.get(key)
                if episode_id is None:
                    title = parsed.episode_title if single else None
                    episode_id = self._new_episode(show.id, season.id, season_number, number, title)
                    self.catalogue.episodes[key] = episode_id
                plan.items.append(("episode", episode_id))
        elif parsed.air_date is not None:
            dated_key = (show.id, parsed.air_date)
            episode_id = self.catalogue.dated.get(dated_key)
            if episode_id is None:
                episode_id = self._new_episode(
                    show.id, season.id, season_number, None, parsed.episode_title, parsed.air_date
                )
                self.catalogue.dated[dated_key] = episode_id
            plan.items.append(("episode", episode_id))
        else:
            # Nothing says which episode: one of its own, titled from the file, for review.
            episode_id = self._new_episode(
                show.id, season.id, season_number, None, parsed.episode_title
            )
            plan.items.append(("episode", episode_id))

    def _movie(self, parsed: naming.ParsedName) -> ItemRef:
        key = (fold(parsed.title), parsed.year)
        ref = self.catalogue.movies.get(key)
        if ref is None:
            ref = ItemRef(uuid7())
            now = utcnow()
            self.catalogue.add(
                Movie,
                {
                    "id": ref.id,
                    "library_id": self.library_id,
                    "title": parsed.title[:500],
                    "sort_title": sort_key(parsed.title)[:500],
                    "year": parsed.year,
                    "added_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            self.catalogue.movies[key] = ref
        return ref

    def _show(self, parsed: naming.ParsedName) -> ItemRef:
        key = fold(parsed.title)
        ref = self.catalogue.shows.get(key)
        if ref is None:
            ref = ItemRef(uuid7())
            now = utcnow()
            self.catalogue.add(
                TvShow,
                {
                    "id": ref.id,
                    "library_id": self.library_id,
                    "title": parsed.title[:500],
                    "sort_title": sort_key(parsed.title)[:500],
                    "year": parsed.year,
                    "added_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            self.catalogue.shows[key] = ref
        return ref

    def _season(self, show_id: uuid.UUID, number: int) -> ItemRef:
        ref = self.catalogue.seasons.get((show_id, number))
        if ref is None:
            ref = ItemRef(uuid7())
            now = utcnow()
            self.catalogue.add(
                Season,
                {
                    "id": ref.id,
                    "show_id": show_id,
                    "number": number,
                    "title": "Specials" if number == 0 else f"Season {number}",
                    "created_at": now,
                    "updated_at": now,
                },
            )
            self.catalogue.seasons[(show_id, number)] = ref
        return ref

    def _new_episode(
        self,
        show_id: uuid.UUID,
        season_id: uuid.UUID,
        season_number: int,
        number: int | None,
        title: str | None,
        air_date: date | None = None,
    ) -> uuid.UUID:
        episode_id = uuid7()
        now = utcnow()
        self.catalogue.add(
            Episode,
            {
                "id": episode_id,
                "show_id": show_id,
                "season_id": season_id,
                "season_number": season_number,
                "episode_number": number,
                "title": title[:500] if title else None,
                "air_date": air_date,
                "created_at": now,
                "updated_at": now,
            },
        )
        return episode_id

    # ------------------------------------------------------------------ artwork

    async def _artwork(
        self, planned: list[Planned]
    ) -> dict[tuple[type[Any], uuid.UUID], dict[str, uuid.UUID]]:
        """Local poster / fanart of an item's own folder (never a library root's), for items
        without one yet (every item once in a full scan). A movie's folder is the file's; a
        show's is the first folder below the root; a season's the file's, below the show's."""
        wanted: list[tuple[type[Any], uuid.UUID, str, str]] = []  # model, id, column, file
        for plan in planned:
            folder = plan.work.folder
            if folder.path == folder.root:
                continue
            if not plan.items:
                continue  # a file linked already: its items have what they have
            if self.kind == LibraryKind.movies:
                parsed = plan.info.parsed
                ref = self.catalogue.movies.get((fold(parsed.title), parsed.year))
                targets: list[tuple[type[Any], ItemRef | None, dict[str, str]]] = [
                    (Movie, ref, folder.artwork)
                ]
            else:
                targets = self._show_targets(plan)
            for model, target, art in targets:
                if target is None or (model.__name__, target.id) in self.art_tried:
                    continue
                self.art_tried.add((model.__name__, target.id))
                if "poster" in art and (self.full or not target.has_poster):
                    wanted.append((model, target.id, "poster_image_id", art["poster"]))
                    target.has_poster = True
                backdrop = "backdrop" in art and model is not Season
                if backdrop and (self.full or not target.has_backdrop):
                    wanted.append((model, target.id, "backdrop_image_id", art["backdrop"]))
                    target.has_backdrop = True
        found: dict[tuple[type[Any], uuid.UUID], dict[str, uuid.UUID]] = {}
        for model, item_id, column, path in wanted:
            image_id = await self._store_image(path)
            if image_id is not None:
                found.setdefault((model, item_id), {})[column] = image_id
        return found

    def _show_targets(
        self, plan: Planned
    ) -> list[tuple[type[Any], ItemRef | None, dict[str, str]]]:
        folder = plan.work.folder
        parsed = plan.info.parsed
        show = self.catalogue.shows.get(fold(parsed.title))
        relative = folder.path[len(folder.root) :].strip(os.sep).split(os.sep)
        if show is None:
            return []
        if len(relative) == 1:  # the show's folder itself
            return [(TvShow, show, folder.artwork)]
        season = self.catalogue.seasons.get((show.id, parsed.season or 0))
        show_folder = os.path.join(folder.root, relative[0])
        targets: list[tuple[type[Any], ItemRef | None, dict[str, str]]] = [
            (Season, season, folder.artwork)
        ]
        if (TvShow.__name__, show.id) not in self.art_tried:
            art = {
                kind: os.path.join(show_folder, name)
                for kind, name in self._folder_artwork(show_folder).items()
            }
            targets.append((TvShow, show, art))
        return targets

    @staticmethod
    def _folder_artwork(folder: str) -> dict[str, str]:
        art: dict[str, str] = {}
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return art
        for name in names:
            kind = naming.artwork_kind(name)
            if kind is not None:
                art.setdefault(kind, name)
        return art

    async def _store_image(self, path: str) -> uuid.UUID | None:
        data = await self._in_io(_read_bytes, path)
        if data is None:
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
            async with self.db.session() as session:
                await self._insert_errors(session, [(path, "bad_artwork", exc.message)])
            return None

    # ------------------------------------------------------------------ errors and counters

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

    # ------------------------------------------------------------------ finish

    async def _finish(self, walker: Walker) -> None:
        unlisted = tuple(path.rstrip(os.sep) + os.sep for path in walker.unlisted)
        gone = [
            _uuid(row[0])
            for path, row in self.existing.items()
            if not row[3] and not (unlisted and path.startswith(unlisted))
        ]
        self.counters.removed = len(gone)
        now: datetime = utcnow()
        async with self.db.session() as session:
            for part in _chunks(gone):
                await session.execute(
                    update(VideoFile)
                    .where(VideoFile.id.in_(part))
                    .values(removed_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
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
            if await self._added_items(session):
                assert self.library_id is not None
                await metadata_refresh.enqueue_after_scan(session, self.settings, self.library_id)
        await self._event("library.scan.succeeded", force=True, status="succeeded")

    async def _added_items(self, session: Any) -> bool:
        """Whether this scan (any of its attempts) made movies or shows, which a metadata
        refresh then fills in."""
        model: type[Movie] | type[TvShow] = Movie if self.kind == LibraryKind.movies else TvShow
        statement = select(model.id).where(
            model.library_id == self.library_id, model.tmdb_id.is_(None)
        )
        if self.started_at is not None:
            statement = statement.where(model.added_at >= self.started_at)
        return await session.scalar(statement.limit(1)) is not None

    # ------------------------------------------------------------------ progress and events

    async def _report(self, *, force: bool = False) -> None:
        counters = self.counters
        done = counters.files_seen
        percent = min(99.0, 100.0 * done / self.known_files) if self.known_files else None
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
            data["audience"] = self.audience
        with contextlib.suppress(Exception):
            await self.bus.publish(LIBRARY_CHANNEL, data)
