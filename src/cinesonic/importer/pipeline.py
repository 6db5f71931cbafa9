"""The pipeline's stages, as the jobs and the review actions run them:

    walk (inbound, sorted, no links followed) → identify (size, mtime, SHA-256; skip what was
    processed) → inspect (`checks`) → decide (duplicates, track conflicts, target library,
    organised path) → move (intent, move, record: `moves`) → announce (activity, `import` event)

and promotion: choose the library → capacity → re-verify → move the album's files with their
intents → index them into the library and mark them promoted, in one transaction (on failure
every file goes back where it was and nothing is recorded).

Decisions:
- Duplicates of library songs are found by content (the scanner's fingerprint: SHA-256 of the
  size and the first and last 64 KiB, which library rows keep — a full SHA-256 of a library
  would mean reading it all) or by album artist + album + disc + track; duplicates of staged
  files by full SHA-256. Staged duplicates are quarantined under both `quarantine` and
  `replace` (there is no library file to replace), kept under `keep_both`.
- Two files of one staged album claiming the same disc and track: the second is quarantined
  as `metadata_conflict`.
- Promoted files are indexed directly with the music indexer (exactly those files, in the
  promotion's transaction), so the library's songs exist as soon as the promotion commits; the
  next scan sees them unchanged.
- A `.cue` sheet whose audio is all beside it is staged with the album of that audio (the
  first of its files staged in the same run) and promoted with it; other non-audio files stay
  in inbound.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.importer import capacity
from cinesonic.importer import checks as file_checks
from cinesonic.importer.checks import Inspection, TransientFileError, check
from cinesonic.importer.moves import PlannedMove, mark_done, moving, recover_moves
from cinesonic.kit.fsmove import sha256_of
from cinesonic.kit.ids import uuid7
from cinesonic.kit.paths import UnsafePath, inside, resolve_inside, safe_component, unique_path
from cinesonic.kit.text import fold
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.importer import (
    CheckStatus,
    ImportAlbum,
    ImportItem,
    ImportStatus,
    LibraryImportRule,
    QuarantineItem,
    QuarantineReason,
)
from cinesonic.models.library import Library, LibraryKind, LibraryRoot
from cinesonic.models.music import Album, Artist, Song
from cinesonic.music import tags as music_tags
from cinesonic.music.indexer import (
    VARIOUS_ARTISTS,
    Indexer,
    PlannedSong,
    album_artist_of,
    delete_orphans,
    track_artists,
)

log = structlog.get_logger("cinesonic.importer")

IMPORT_CHANNEL = "import"  # event-bus channel and WebSocket topic
STAGED_OPEN = (ImportStatus.ok, ImportStatus.needs_review)
STAGED_LIVE = (ImportStatus.ok, ImportStatus.needs_review, ImportStatus.approved)
ProgressHook = Callable[[float | None, str, dict[str, int]], Awaitable[None]]


# ---------------------------------------------------------------- folders


@dataclass(frozen=True)
class Folders:
    inbound: Path
    staging: Path
    quarantine: Path


def folders(settings: Settings) -> Folders:
    """The pipeline's folders (settings, else under the data directory), created on first use
    and resolved."""
    chosen = []
    for configured, default in (
        (settings.import_inbound_dir, "inbound"),
        (settings.import_staging_dir, "staging"),
        (settings.import_quarantine_dir, "quarantine"),
    ):
        path = configured or settings.data_dir / default
        path.mkdir(parents=True, exist_ok=True)
        chosen.append(path.resolve())
    return Folders(*chosen)


def quarantine_destination(
    root: Path, reason: QuarantineReason, relative: str, taken: set[Path] | None = None
) -> Path:
    day = utcnow().strftime("%Y-%m-%d")
    parts = [safe_component(part) for part in Path(relative).parts if part not in ("/", "..")]
    return unique_path(root / reason.value / day / Path(*(parts or ["file"])), taken)


def prune_empty_folders(start: Path, stop: Path) -> None:
    """Remove the now-empty folders from `start` up to (not including) `stop`."""
    folder = start
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def status_of(checks: Sequence[dict[str, Any]]) -> ImportStatus:
    statuses = {entry["status"] for entry in checks}
    if CheckStatus.failed.value in statuses or CheckStatus.warning.value in statuses:
        return ImportStatus.needs_review
    return ImportStatus.ok


def group_key(album_artist: str, album: str, year: int | None) -> str:
    return f"{fold(album_artist)}\x1f{fold(album)}\x1f{year or ''}"[:1100]


async def publish(bus: EventBus, event: str, **data: Any) -> None:
    """An `import` event; seen by holders of `library.manage` (see `realtime`)."""
    with contextlib.suppress(Exception):
        await bus.publish(IMPORT_CHANNEL, {"event": event, **data})


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


# ---------------------------------------------------------------- deciding


@dataclass
class Decision:
    """Where a checked file goes: staging (with its album and path) or quarantine."""

    checks: list[dict[str, Any]]
    reason: QuarantineReason | None = None
    message: str = ""
    album_artist: str = ""
    album: str = ""
    year: int | None = None
    disc_total: int | None = None
    proposed_path: str = ""
    target_library_id: uuid.UUID | None = None
    replaces_song_id: uuid.UUID | None = None
    existing_album_id: uuid.UUID | None = None

    def fail(self, name: str, reason: QuarantineReason, message: str) -> None:
        self.checks.append(check(name, CheckStatus.failed, message))
        if self.reason is None:
            self.reason, self.message = reason, message


async def decide(
    session: AsyncSession,
    settings: Settings,
    inspection: Inspection,
    extension: str,
    stem: str,
    *,
    waive_failures: bool = False,
    exclude_item: uuid.UUID | None = None,
) -> Decision:
    """Add the database checks to a file's own and compute its album and organised path.
    With `waive_failures` (a quarantined file accepted by a person) every failed check is
    waived and the file always goes to staging."""
    tags = inspection.tags
    decision = Decision(checks=list(inspection.checks))
    if inspection.reason is not None:
        decision.reason, decision.message = inspection.reason, inspection.message
    values = file_checks.template_values(tags, extension, stem)
    decision.album_artist = str(values["album_artist"] or file_checks.FALLBACKS["album_artist"])
    decision.album = str(values["album"] or file_checks.FALLBACKS["album"])
    decision.year = tags.get("year")
    decision.disc_total = tags.get("disc_total")
    relative = file_checks.render_path(settings.import_path_template, values)
    decision.proposed_path = relative.as_posix()
    decision.checks.append(check("path_safety", CheckStatus.passed, decision.proposed_path))
    key = group_key(decision.album_artist, decision.album, decision.year)
    decision.existing_album_id = await session.scalar(
        select(ImportAlbum.id)
        .where(ImportAlbum.group_key == key, ImportAlbum.status.in_(STAGED_OPEN))
        .order_by(ImportAlbum.created_at)
        .limit(1)
    )
    await _duplicate_checks(session, settings, inspection, decision, exclude_item)
    track = tags.get("track")
    if decision.existing_album_id is not None and track is not None:
        disc = tags.get("disc") or 1
        siblings = await session.execute(
            select(ImportItem.original_path, ImportItem.tags).where(
                ImportItem.album_id == decision.existing_album_id,
                ImportItem.status.in_(STAGED_LIVE),
                ImportItem.id != (exclude_item or uuid.UUID(int=0)),
            )
        )
        clash = next(
            (
                path
                for path, other in siblings
                if other.get("track") == track and (other.get("disc") or 1) == disc
            ),
            None,
        )
        if clash is not None:
            decision.fail(
                "track_conflict",
                QuarantineReason.metadata_conflict,
                f"Disc {tags.get('disc') or 1} track {track} of this album is already staged "
                f"({clash}).",
            )
    decision.target_library_id = await choose_library(session, decision.album_artist)
    if decision.target_library_id is None:
        decision.checks.append(
            check("no_target_library", CheckStatus.failed, "No library's import rule matches.")
        )
    if waive_failures:
        for entry in decision.checks:
            if entry["status"] == CheckStatus.failed.value and entry["name"] not in (
                file_checks.SOFT_CHECKS
            ):
                entry["status"] = CheckStatus.waived.value
        decision.reason = None
    return decision


async def _duplicate_checks(
    session: AsyncSession,
    settings: Settings,
    inspection: Inspection,
    decision: Decision,
    exclude_item: uuid.UUID | None,
) -> None:
    policy = settings.import_duplicate_policy
    staged = await session.scalar(
        select(ImportItem.original_path).where(
            ImportItem.sha256 == inspection.sha256,
            ImportItem.status.in_(STAGED_LIVE),
            ImportItem.id != (exclude_item or uuid.UUID(int=0)),
        )
    )
    if staged is not None:
        message = f"The same file is already staged ({staged})."
        if policy == "keep_both":
            decision.checks.append(check("duplicate", CheckStatus.passed, message + " Kept."))
        else:
            decision.fail("duplicate", QuarantineReason.duplicate, message)
        return
    song = await _library_duplicate(session, inspection, decision.album_artist, decision.album)
    if song is None:
        decision.checks.append(check("duplicate", CheckStatus.passed))
        return
    song_id, path = song
    message = f"The library has this song already ({path})."
    if policy == "keep_both":
        decision.checks.append(check("duplicate", CheckStatus.passed, message + " Kept both."))
    elif policy == "replace":
        decision.replaces_song_id = song_id
        note = message + " It is replaced (and quarantined) on promotion."
        decision.checks.append(check("duplicate", CheckStatus.passed, note))
    else:
        decision.fail("duplicate", QuarantineReason.duplicate, message)


async def _library_duplicate(
    session: AsyncSession, inspection: Inspection, album_artist: str, album: str
) -> tuple[uuid.UUID, str] | None:
    info = inspection.info
    present = Song.removed_at.is_(None)
    if info is not None:
        row = await session.execute(
            select(Song.id, Song.path)
            .where(present, Song.fingerprint == info.fingerprint, Song.size_bytes == info.size)
            .limit(1)
        )
        found = row.first()
        if found is not None:
            return found[0], found[1]
    tags = inspection.tags
    if tags.get("track") is None:
        return None
    disc = tags.get("disc") or 1
    row = await session.execute(
        select(Song.id, Song.path)
        .join(Album, Album.id == Song.album_id)
        .join(Artist, Artist.id == Album.artist_id)
        .where(
            present,
            Album.title_key == fold(album),
            Artist.name_key == fold(album_artist),
            Song.track_number == tags["track"],
            func.coalesce(Song.disc_number, 1) == disc,
        )
        .limit(1)
    )
    found = row.first()
    return (found[0], found[1]) if found is not None else None


async def staged_album(session: AsyncSession, decision: Decision) -> ImportAlbum:
    """The open album the file joins, created when there is none."""
    album = None
    if decision.existing_album_id is not None:
        album = await session.get(ImportAlbum, decision.existing_album_id)
    if album is None:
        album = ImportAlbum(
            group_key=group_key(decision.album_artist, decision.album, decision.year),
            album_artist=decision.album_artist[:500],
            album=decision.album[:500],
            year=decision.year,
            disc_total=decision.disc_total,
            status=ImportStatus.ok,
            target_library_id=decision.target_library_id,
        )
        session.add(album)
        await session.flush()
    return album


async def refresh_album_status(session: AsyncSession, album: ImportAlbum) -> None:
    """An open album is `needs_review` while any of its files is; empty ones go away."""
    statuses = set(
        await session.scalars(select(ImportItem.status).where(ImportItem.album_id == album.id))
    )
    if not statuses:
        await session.delete(album)
        await session.flush()
        return
    if album.status in STAGED_OPEN:
        album.status = (
            ImportStatus.needs_review if ImportStatus.needs_review in statuses else ImportStatus.ok
        )
    await session.flush()


# ---------------------------------------------------------------- the jobs


@dataclass
class Counters:
    seen: int = 0
    staged: int = 0
    needs_review: int = 0
    quarantined: int = 0
    skipped: int = 0
    ignored: int = 0
    waiting: int = 0
    promoted: int = 0
    albums: int = 0
    not_promoted: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Walked:
    audio: list[Path] = field(default_factory=list)
    cues: list[Path] = field(default_factory=list)
    ignored: int = 0


def walk_inbound(inbound: Path, paths: Sequence[str] | None) -> Walked:
    """Audio files and cue sheets below inbound (or below the given paths), sorted; hidden
    names, symbolic links and other files are left alone."""
    walked = Walked()
    starts: list[Path] = []
    if paths:
        for value in paths:
            try:
                starts.append(resolve_inside(inbound, value))
            except UnsafePath:
                continue
    else:
        starts = [inbound]
    seen: set[Path] = set()

    def take(path: Path) -> None:
        if path in seen or path.name.startswith(".") or path.is_symlink() or not path.is_file():
            return
        seen.add(path)
        extension = path.suffix.lower()
        if extension in music_tags.AUDIO_EXTENSIONS:
            walked.audio.append(path)
        elif extension == ".cue":
            walked.cues.append(path)
        else:
            walked.ignored += 1

    for start in starts:
        if start.is_symlink():
            continue
        if start.is_file():
            take(start)
            continue
        for folder, subfolders, names in os.walk(start):
            subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
            for name in sorted(names):
                take(Path(folder) / name)
    walked.audio.sort()
    walked.cues.sort()
    return walked


class Pipeline:
    """One run of `import.process` or `import.promote`."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        settings: Settings,
        *,
        job_id: uuid.UUID | None = None,
        owner_id: uuid.UUID | None = None,
        final_attempt: bool = True,
        progress: ProgressHook | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.job_id = job_id
        self.owner_id = owner_id
        self.final_attempt = final_attempt
        self.progress_hook = progress
        self.folders = folders(settings)
        self.counters = Counters()

    async def _progress(self, done: int, total: int, message: str) -> None:
        if self.progress_hook is not None:
            percent = 100.0 * done / total if total else 100.0
            await self.progress_hook(percent, message, self.counters.as_dict())

    async def _audit(
        self,
        session: AsyncSession,
        action: str,
        resource_type: str,
        resource_id: Any,
        **details: Any,
    ) -> None:
        await activity_service.record(
            session,
            action=action,
            user_id=self.owner_id,
            resource_type=resource_type,
            resource_id=resource_id,
            details=details,
        )

    # ------------------------------------------------------------------ process

    async def process(self, *, force: bool, paths: Sequence[str] | None) -> dict[str, Any]:
        file_checks.validate_template(self.settings.import_path_template)
        await recover_moves(self.db, job_id=self.job_id)
        walked = await asyncio.to_thread(walk_inbound, self.folders.inbound, paths)
        self.counters.ignored = walked.ignored
        total = len(walked.audio) + len(walked.cues)
        staged: dict[Path, ImportItem] = {}
        for index, path in enumerate(walked.audio):
            self.counters.seen += 1
            item = await self._process_audio(path, force=force)
            if item is not None:
                staged[path] = item
            await self._progress(index + 1, total, f"{index + 1} of {total} files checked")
        for index, cue in enumerate(walked.cues):
            self.counters.seen += 1
            await self._process_cue(cue, staged)
            done = len(walked.audio) + index + 1
            await self._progress(done, total, f"{done} of {total} files checked")
        await asyncio.to_thread(self._prune_inbound)
        return self.counters.as_dict()

    def _prune_inbound(self) -> None:
        inbound = self.folders.inbound
        for folder, _subfolders, _names in sorted(os.walk(inbound), reverse=True):
            path = Path(folder)
            if path != inbound:
                with contextlib.suppress(OSError):
                    path.rmdir()

    async def _already_processed(self, sha256: str, mtime_ns: int) -> bool:
        async with self.db.sessionmaker() as session:
            for model in (ImportItem, QuarantineItem):
                found = await session.scalar(
                    select(model.id)
                    .where(model.sha256 == sha256, model.mtime_ns == mtime_ns)
                    .limit(1)
                )
                if found is not None:
                    return True
        return False

    async def _process_audio(self, path: Path, *, force: bool) -> ImportItem | None:
        inbound = self.folders.inbound
        relative = path.relative_to(inbound).as_posix()
        try:
            size, mtime_ns, sha256 = await asyncio.to_thread(file_checks.file_identity, path)
            if not force and await self._already_processed(sha256, mtime_ns):
                self.counters.skipped += 1
                return None
            inspection = await asyncio.to_thread(
                file_checks.inspect_audio,
                path,
                inbound,
                sha256=sha256,
                size=size,
                mtime_ns=mtime_ns,
            )
        except FileNotFoundError:
            return None  # taken away while we looked
        except TransientFileError as exc:
            if not self.final_attempt:
                raise
            size, mtime_ns = _stat_or_zero(path)
            inspection = Inspection(sha256="", size=size, mtime_ns=mtime_ns, info=None)
            inspection.fail(
                "probe", QuarantineReason.unsupported_container, f"The file cannot be read: {exc}"
            )
        async with self.db.sessionmaker() as session:
            decision = await decide(session, self.settings, inspection, path.suffix, path.stem)
        if decision.reason is not None:
            await self.quarantine_from_inbound(path, relative, inspection, decision)
            return None
        return await self.stage_from_inbound(path, relative, inspection, decision)

    async def stage_from_inbound(
        self, path: Path, relative: str, inspection: Inspection, decision: Decision
    ) -> ImportItem:
        staging = self.folders.staging
        destination = unique_path(staging / decision.proposed_path)
        move = PlannedMove(path, destination, inspection.sha256, inspection.size, root=staging)
        async with (
            moving(self.db, [move], job_id=self.job_id) as moves,
            self.db.session() as session,
        ):
            album = await staged_album(session, decision)
            item = ImportItem(
                album_id=album.id,
                status=status_of(decision.checks),
                original_path=relative,
                current_path=str(destination),
                proposed_path=decision.proposed_path,
                sha256=inspection.sha256,
                size=inspection.size,
                mtime_ns=inspection.mtime_ns,
                tags=inspection.tags,
                corrections={},
                checks=decision.checks,
                replaces_song_id=decision.replaces_song_id,
            )
            session.add(item)
            await session.flush()
            await refresh_album_status(session, album)
            await mark_done(session, moves)
            await self._audit(
                session,
                "import.staged",
                "import_item",
                item.id,
                original_path=relative,
                path=str(destination),
                status=item.status.value,
            )
        await asyncio.to_thread(prune_empty_folders, path.parent, self.folders.inbound)
        if item.status == ImportStatus.needs_review:
            self.counters.needs_review += 1
        self.counters.staged += 1
        await publish(
            self.bus,
            "import.staged",
            item_id=str(item.id),
            album_id=str(item.album_id),
            status=item.status.value,
            path=decision.proposed_path,
        )
        return item

    async def quarantine_from_inbound(
        self, path: Path, relative: str, inspection: Inspection, decision: Decision
    ) -> QuarantineItem:
        assert decision.reason is not None
        quarantine = self.folders.quarantine
        destination = quarantine_destination(quarantine, decision.reason, relative)
        move = PlannedMove(path, destination, inspection.sha256, inspection.size, root=quarantine)
        async with (
            moving(self.db, [move], job_id=self.job_id) as moves,
            self.db.session() as session,
        ):
            entry = QuarantineItem(
                file_path=str(destination),
                original_path=str(path),
                inbound_path=relative,
                reason=decision.reason,
                message=decision.message,
                sha256=inspection.sha256,
                size=inspection.size,
                mtime_ns=inspection.mtime_ns,
                tags=inspection.tags,
                checks=decision.checks,
            )
            session.add(entry)
            await session.flush()
            await mark_done(session, moves)
            await self._audit(
                session,
                "import.quarantined",
                "quarantine_item",
                entry.id,
                reason=decision.reason.value,
                original_path=relative,
                path=str(destination),
            )
        await asyncio.to_thread(prune_empty_folders, path.parent, self.folders.inbound)
        self.counters.quarantined += 1
        await publish(
            self.bus,
            "import.quarantined",
            quarantine_id=str(entry.id),
            reason=decision.reason.value,
            path=relative,
        )
        return entry

    async def _process_cue(self, cue: Path, staged: dict[Path, ImportItem]) -> None:
        inbound = self.folders.inbound
        relative = cue.relative_to(inbound).as_posix()
        size, mtime_ns, sha256 = await asyncio.to_thread(file_checks.file_identity, cue)
        missing = await asyncio.to_thread(file_checks.missing_cue_audio, cue)
        names = await asyncio.to_thread(file_checks.cue_references, cue)
        inspection = Inspection(sha256=sha256, size=size, mtime_ns=mtime_ns, info=None)
        if missing:
            message = f"The cue sheet names audio that is not beside it: {', '.join(missing)}."
            inspection.fail("cue_sheet", QuarantineReason.cue_missing_audio, message)
            decision = Decision(
                checks=inspection.checks, reason=inspection.reason, message=inspection.message
            )
            await self.quarantine_from_inbound(cue, relative, inspection, decision)
            return
        partner = next(
            (staged[cue.parent / name] for name in names if cue.parent / name in staged), None
        )
        if partner is None:
            self.counters.waiting += 1  # its audio was not staged by this run: it stays
            return
        folder = Path(partner.proposed_path).parent
        decision = Decision(
            checks=[check("cue_sheet", CheckStatus.passed, ", ".join(names))],
            proposed_path=(folder / safe_component(cue.name)).as_posix(),
            existing_album_id=partner.album_id,
        )
        staging = self.folders.staging
        destination = unique_path(staging / decision.proposed_path)
        move = PlannedMove(cue, destination, sha256, size, root=staging)
        async with (
            moving(self.db, [move], job_id=self.job_id) as moves,
            self.db.session() as session,
        ):
            item = ImportItem(
                album_id=partner.album_id,
                status=ImportStatus.ok,
                original_path=relative,
                current_path=str(destination),
                proposed_path=decision.proposed_path,
                sha256=sha256,
                size=size,
                mtime_ns=mtime_ns,
                tags={},
                corrections={},
                checks=decision.checks,
            )
            session.add(item)
            await session.flush()
            await mark_done(session, moves)
            await self._audit(
                session, "import.staged", "import_item", item.id, original_path=relative
            )
        self.counters.staged += 1

    # ------------------------------------------------------------------ promote

    async def promote(self, album_ids: Sequence[uuid.UUID] | None) -> dict[str, Any]:
        file_checks.validate_template(self.settings.import_path_template)
        await recover_moves(self.db, job_id=self.job_id)
        async with self.db.sessionmaker() as session:
            statement = select(ImportAlbum.id).where(
                ImportAlbum.status.in_((ImportStatus.ok, ImportStatus.approved))
            )
            if album_ids is not None:
                statement = statement.where(ImportAlbum.id.in_(list(album_ids)))
            ids = list(await session.scalars(statement.order_by(ImportAlbum.created_at)))
        for index, album_id in enumerate(ids):
            await self._promote_album(album_id)
            await self._progress(index + 1, len(ids), f"{index + 1} of {len(ids)} albums")
        return self.counters.as_dict()

    async def _refusal(self, session: AsyncSession, library_id: uuid.UUID) -> str | None:
        return await capacity.promotion_refusal(session, library_id)

    async def _promote_album(self, album_id: uuid.UUID) -> None:
        async with self.db.session() as session:
            album = await session.get(ImportAlbum, album_id)
            if album is None or album.status not in (ImportStatus.ok, ImportStatus.approved):
                return
            items = list(
                await session.scalars(
                    select(ImportItem)
                    .where(ImportItem.album_id == album.id, ImportItem.status.in_(STAGED_LIVE))
                    .order_by(ImportItem.proposed_path)
                )
            )
            library_id = await choose_library(session, album.album_artist)
            album.target_library_id = library_id
            for item in items:
                item.checks = _set_check(
                    item.checks,
                    "no_target_library",
                    None
                    if library_id is not None
                    else check("no_target_library", CheckStatus.failed, "No rule matches."),
                )
            refusal = await self._refusal(session, library_id) if library_id else None
            roots = (
                (await library_roots(session, [library_id])).get(library_id, [])
                if library_id
                else []
            )
        if library_id is None or not roots:
            self.counters.not_promoted += 1
            return
        if refusal is not None:
            for item in items:
                await self.quarantine_staged(item, QuarantineReason(refusal), library_id=library_id)
            return
        root = await asyncio.to_thread(lambda: Path(max(roots, key=free_space)).resolve())
        ready: list[ImportItem] = []
        for item in items:
            try:
                actual = await asyncio.to_thread(sha256_of, item.current_path)
            except FileNotFoundError:
                # Taken out of staging by hand: nothing to promote; the others go on.
                log.warning("staged_file_missing", item_id=str(item.id), path=item.current_path)
                self.counters.not_promoted += 1
                continue
            except OSError as exc:
                raise TransientFileError(str(exc)) from exc
            if actual != item.sha256:
                await self.quarantine_staged(
                    item,
                    QuarantineReason.checksum_mismatch,
                    library_id=library_id,
                    message=f"The staged file changed: SHA-256 {actual}, expected {item.sha256}.",
                    sha256=actual,
                )
                continue
            ready.append(item)
        if not ready:
            return
        await self._move_into_library(album_id, ready, library_id, root)

    async def _move_into_library(
        self, album_id: uuid.UUID, items: list[ImportItem], library_id: uuid.UUID, root: Path
    ) -> None:
        taken: set[Path] = set()
        moves: list[PlannedMove] = []
        replaced: list[tuple[uuid.UUID, PlannedMove, str]] = []
        for item in items:
            destination = unique_path(root / item.proposed_path, taken)
            if not inside(root, destination):
                raise UnsafePath(f"{destination} leaves {root}")
            taken.add(destination)
            moves.append(
                PlannedMove(Path(item.current_path), destination, item.sha256, item.size, root)
            )
        async with self.db.sessionmaker() as session:
            for item in items:
                if item.replaces_song_id is None:
                    continue
                song = await session.get(Song, item.replaces_song_id)
                if song is None or song.removed_at is not None:
                    continue
                if not await asyncio.to_thread(os.path.exists, song.path):
                    continue
                relative = _relative_to_any(song.path, [str(root)]) or Path(song.path).name
                target = quarantine_destination(
                    self.folders.quarantine, QuarantineReason.duplicate, relative, taken
                )
                taken.add(target)
                digest = await asyncio.to_thread(sha256_of, song.path)
                move = PlannedMove(Path(song.path), target, digest, song.size_bytes, None)
                replaced.append((song.id, move, relative))
        all_moves = [move for _, move, _ in replaced] + moves
        async with moving(self.db, all_moves, job_id=self.job_id) as done_moves:
            library_moves = done_moves[len(replaced) :]
            infos = await asyncio.to_thread(_read_moved, library_moves, str(root))
            async with self.db.session() as session:
                indexer = Indexer(library_id)
                await indexer.load(session)
                gone = [song_id for song_id, _, _ in replaced]
                if gone:
                    await indexer.mark_removed(session, gone, utcnow())
                for (song_id, _plan, relative), move in zip(replaced, done_moves, strict=False):
                    song = await session.get(Song, song_id)
                    entry = QuarantineItem(
                        file_path=str(move.destination),
                        original_path=str(move.source),
                        inbound_path=relative,
                        reason=QuarantineReason.duplicate,
                        message="Replaced by a newer import (duplicate policy `replace`).",
                        library_id=library_id,
                        sha256=move.sha256,
                        size=song.size_bytes if song else 0,
                        mtime_ns=song.mtime_ns if song else 0,
                    )
                    session.add(entry)
                    await session.flush()
                    await self._audit(
                        session,
                        "import.quarantined",
                        "quarantine_item",
                        entry.id,
                        reason="duplicate",
                    )
                planned = await _planned_songs(session, library_id, infos)
                await indexer.write(session, planned, {})
                await indexer.refresh_touched(session)
                await delete_orphans(session, library_id, [])
                for item, move in zip(items, library_moves, strict=True):
                    row = await session.get(ImportItem, item.id)
                    assert row is not None
                    row.status = ImportStatus.promoted
                    row.current_path = str(move.destination)
                    await self._audit(
                        session,
                        "import.promoted",
                        "import_item",
                        item.id,
                        library_id=str(library_id),
                        path=str(move.destination),
                    )
                album = await session.get(ImportAlbum, album_id)
                if album is not None:
                    remaining = await session.scalar(
                        select(func.count())
                        .select_from(ImportItem)
                        .where(ImportItem.album_id == album_id, ImportItem.status.in_(STAGED_LIVE))
                    )
                    if not remaining:
                        album.status = ImportStatus.promoted
                        album.target_library_id = library_id
                await mark_done(session, done_moves)
        for move in library_moves:
            await asyncio.to_thread(prune_empty_folders, move.source.parent, self.folders.staging)
        self.counters.albums += 1
        self.counters.promoted += len(items)
        await publish(
            self.bus,
            "import.promoted",
            album_id=str(album_id),
            library_id=str(library_id),
            files=len(items),
        )

    async def quarantine_staged(
        self,
        item: ImportItem,
        reason: QuarantineReason,
        *,
        library_id: uuid.UUID | None = None,
        message: str | None = None,
        sha256: str | None = None,
    ) -> None:
        """A staged file to quarantine (refused promotion, changed content); its staged row
        stays as `failed` and points at the quarantine record."""
        quarantine = self.folders.quarantine
        destination = quarantine_destination(quarantine, reason, item.original_path)
        text = message or f"Promotion refused: {reason.value}."
        move = PlannedMove(Path(item.current_path), destination, item.sha256, item.size, quarantine)
        async with (
            moving(self.db, [move], job_id=self.job_id) as moves,
            self.db.session() as session,
        ):
            row = await session.get(ImportItem, item.id)
            assert row is not None
            entry = QuarantineItem(
                file_path=str(destination),
                original_path=item.current_path,
                inbound_path=item.original_path,
                reason=reason,
                message=text,
                library_id=library_id,
                import_item_id=item.id,
                sha256=sha256 or item.sha256,
                size=item.size,
                mtime_ns=item.mtime_ns,
                tags=item.tags,
                checks=[*item.checks, check(reason.value, CheckStatus.failed, text)],
            )
            session.add(entry)
            row.status = ImportStatus.failed
            row.current_path = str(destination)
            await session.flush()
            album = await session.get(ImportAlbum, item.album_id)
            remaining = await session.scalar(
                select(func.count())
                .select_from(ImportItem)
                .where(ImportItem.album_id == item.album_id, ImportItem.status.in_(STAGED_LIVE))
            )
            if album is not None and not remaining:
                album.status = ImportStatus.failed
            await mark_done(session, moves)
            await self._audit(
                session, "import.quarantined", "quarantine_item", entry.id, reason=reason.value
            )
        self.counters.quarantined += 1
        await publish(
            self.bus, "import.quarantined", quarantine_id=str(entry.id), reason=reason.value
        )


def _stat_or_zero(path: Path) -> tuple[int, int]:
    try:
        info = os.lstat(path)
    except OSError:
        return 0, 0
    return info.st_size, info.st_mtime_ns


def _set_check(
    checks: list[dict[str, Any]], name: str, replacement: dict[str, Any] | None
) -> list[dict[str, Any]]:
    kept = [entry for entry in checks if entry.get("name") != name]
    return [*kept, replacement] if replacement is not None else kept


def _relative_to_any(path: str, roots: Sequence[str]) -> str | None:
    for root in roots:
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix) :]
    return None


def _read_moved(
    moves: Sequence[PlannedMove], root: str
) -> list[tuple[music_tags.TrackInfo, int] | None]:
    """What the indexer needs of each promoted file (None for cue sheets)."""
    found: list[tuple[music_tags.TrackInfo, int] | None] = []
    for move in moves:
        path = move.destination
        if path.suffix.lower() not in music_tags.AUDIO_EXTENSIONS:
            found.append(None)
            continue
        info = os.stat(path)
        found.append((music_tags.read_track(str(path), info.st_size, root), info.st_mtime_ns))
    return found


async def _planned_songs(
    session: AsyncSession,
    library_id: uuid.UUID,
    infos: Sequence[tuple[music_tags.TrackInfo, int] | None],
) -> list[PlannedSong]:
    """Songs for the promoted files; a removed song row at the same path is reused."""
    read = [entry for entry in infos if entry is not None]
    paths = [info.path for info, _ in read]
    existing = (
        {
            path: song_id
            for path, song_id in await session.execute(
                select(Song.path, Song.id).where(
                    Song.library_id == library_id, Song.path.in_(paths)
                )
            )
        }
        if paths
        else {}
    )
    planned = []
    for info, mtime_ns in read:
        artists = track_artists(info)
        album_artist = album_artist_of(artists, info)
        compilation = bool(info.is_compilation) or fold(album_artist.name) == fold(VARIOUS_ARTISTS)
        song_id = existing.get(info.path)
        planned.append(
            PlannedSong(
                info=info,
                mtime_ns=mtime_ns,
                song_id=song_id or uuid7(),
                is_new=song_id is None,
                album_artist=album_artist,
                is_compilation=compilation,
                artists=artists,
            )
        )
    return planned
