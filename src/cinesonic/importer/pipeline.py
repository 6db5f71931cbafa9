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
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.events.bus import EventBus
from cinesonic.importer import capacity
from cinesonic.importer import checks as file_checks
from cinesonic.importer.checks import Inspection, TransientFileError, check
from cinesonic.importer.lookups import (
    STAGED_LIVE,
    STAGED_OPEN,
    Lookups,
    Track,
    choose_library,
    free_space,
    group_key,
    library_roots,
)
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
    QuarantineItem,
    QuarantineReason,
)
from cinesonic.models.music import Song
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


def prune_folders(folders: Sequence[Path], stop: Path) -> None:
    """`prune_empty_folders` from each of `folders`, deepest first."""
    for folder in sorted(set(folders), reverse=True):
        prune_empty_folders(folder, stop)


def status_of(checks: Sequence[dict[str, Any]]) -> ImportStatus:
    statuses = {entry["status"] for entry in checks}
    if CheckStatus.failed.value in statuses or CheckStatus.warning.value in statuses:
        return ImportStatus.needs_review
    return ImportStatus.ok


async def publish(bus: EventBus, event: str, **data: Any) -> None:
    """An `import` event; seen by holders of `library.manage` (see `realtime`)."""
    with contextlib.suppress(Exception):
        await bus.publish(IMPORT_CHANNEL, {"event": event, **data})


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
    lookups: Lookups | None = None,
) -> Decision:
    """Add the database checks to a file's own and compute its album and organised path.
    With `waive_failures` (a quarantined file accepted by a person) every failed check is
    waived and the file always goes to staging. `lookups` answers the database questions
    (default: one query each in `session`; a batch passes `BatchLookups`)."""
    ask = lookups or Lookups(session, exclude_item)
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
    decision.existing_album_id = await ask.open_album(key)
    await _duplicate_checks(ask, settings, inspection, decision)
    track = track_of(inspection)
    if track is not None:
        clash = await ask.batch_track(key, track)
        if clash is None and decision.existing_album_id is not None:
            clash = await ask.staged_track(decision.existing_album_id, key, track)
        if clash is not None:
            decision.fail(
                "track_conflict",
                QuarantineReason.metadata_conflict,
                f"Disc {track[0]} track {track[1]} of this album is already staged ({clash}).",
            )
    decision.target_library_id = await ask.library_for(decision.album_artist)
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


def track_of(inspection: Inspection) -> Track | None:
    """(disc, track) of a file, disc 1 when its tags name none."""
    tags = inspection.tags
    track = tags.get("track")
    return None if track is None else (tags.get("disc") or 1, track)


async def _duplicate_checks(
    ask: Lookups, settings: Settings, inspection: Inspection, decision: Decision
) -> None:
    policy = settings.import_duplicate_policy
    staged = await ask.staged_copy(inspection.sha256)
    if staged is not None:
        message = f"The same file is already staged ({staged})."
        if policy == "keep_both":
            decision.checks.append(check("duplicate", CheckStatus.passed, message + " Kept."))
        else:
            decision.fail("duplicate", QuarantineReason.duplicate, message)
        return
    song = None
    if inspection.info is not None:
        song = await ask.library_copy(inspection.info.fingerprint, inspection.info.size)
    track = track_of(inspection)
    if song is None and track is not None:
        song = await ask.library_track(decision.album_artist, decision.album, track)
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


@dataclass
class Prepared:
    """An album about to be promoted (`Pipeline._prepare`)."""

    album_id: uuid.UUID
    items: list[ImportItem]
    library_id: uuid.UUID | None
    refusal: str | None
    roots: list[str]


@dataclass
class Known:
    """What preparing a group of albums found once for all of them."""

    libraries: dict[str, uuid.UUID | None] = field(default_factory=dict)  # by album artist
    refusals: dict[uuid.UUID, str | None] = field(default_factory=dict)  # capacity, by library
    roots: dict[uuid.UUID, list[str]] = field(default_factory=dict)


PROMOTE_ALBUMS = 48  # albums prepared together; those bound for one root move together


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
            flush=False,  # many per transaction: written with the transaction's next flush
        )

    # ------------------------------------------------------------------ process

    async def process(self, *, force: bool, paths: Sequence[str] | None) -> dict[str, Any]:
        file_checks.validate_template(self.settings.import_path_template)
        await recover_moves(self.db, job_id=self.job_id)
        walked = await asyncio.to_thread(walk_inbound, self.folders.inbound, paths)
        self.counters.ignored = walked.ignored
        total = len(walked.audio) + len(walked.cues)
        from cinesonic.importer.batch import process_all  # it builds on this module

        staged = await process_all(self, walked.audio, force=force, total=total)
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
        for start in range(0, len(ids), PROMOTE_ALBUMS):
            chunk = ids[start : start + PROMOTE_ALBUMS]
            await self._promote_albums(chunk)
            done = start + len(chunk)
            await self._progress(done, len(ids), f"{done} of {len(ids)} albums")
        return self.counters.as_dict()

    async def _refusal(self, session: AsyncSession, library_id: uuid.UUID) -> str | None:
        return await capacity.promotion_refusal(session, library_id)

    async def _promote_albums(self, album_ids: Sequence[uuid.UUID]) -> None:
        """Promote a few albums: each is checked on its own (target library, capacity, the
        staged files' checksums); those going to the same library root then move and are
        indexed together, in one set of intents and one transaction."""
        prepared: list[Prepared] = []
        known = Known()
        async with self.db.session() as session:
            rows = {
                album.id: album
                for album in await session.scalars(
                    select(ImportAlbum).where(ImportAlbum.id.in_(list(album_ids)))
                )
            }
            staged_items: dict[uuid.UUID, list[ImportItem]] = {i: [] for i in album_ids}
            for item in await session.scalars(
                select(ImportItem)
                .where(ImportItem.album_id.in_(list(album_ids)), ImportItem.status.in_(STAGED_LIVE))
                .order_by(ImportItem.proposed_path)
            ):
                staged_items[item.album_id].append(item)
            for album_id in album_ids:
                row = rows.get(album_id)
                if row is None or row.status not in (ImportStatus.ok, ImportStatus.approved):
                    continue
                prepared.append(await self._prepare(session, row, staged_items[album_id], known))
        groups: dict[tuple[uuid.UUID, Path], list[tuple[uuid.UUID, list[ImportItem]]]] = {}
        for album in prepared:
            if album.library_id is None or not album.roots:
                self.counters.not_promoted += 1
            elif album.refusal is not None:
                for item in album.items:
                    await self.quarantine_staged(
                        item, QuarantineReason(album.refusal), library_id=album.library_id
                    )
            else:
                root = await asyncio.to_thread(_roomiest, album.roots)
                ready = await self._verified(album.items, album.library_id)
                if ready:
                    key = (album.library_id, root)
                    groups.setdefault(key, []).append((album.album_id, ready))
        for (library_id, root), albums in groups.items():
            await self._move_into_library(albums, library_id, root)

    async def _prepare(
        self, session: AsyncSession, album: ImportAlbum, items: list[ImportItem], known: Known
    ) -> Prepared:
        """An album's target library (recorded on it and its files' checks), whether capacity
        refuses it, and the library's roots."""
        album_id = album.id
        if album.album_artist not in known.libraries:
            known.libraries[album.album_artist] = await choose_library(session, album.album_artist)
        library_id = known.libraries[album.album_artist]
        album.target_library_id = library_id
        for item in items:
            item.checks = _set_check(
                item.checks,
                "no_target_library",
                None
                if library_id is not None
                else check("no_target_library", CheckStatus.failed, "No rule matches."),
            )
        if library_id is None:
            return Prepared(album_id, items, None, None, [])
        if library_id not in known.roots:
            known.refusals[library_id] = await self._refusal(session, library_id)
            known.roots[library_id] = (await library_roots(session, [library_id])).get(
                library_id, []
            )
        return Prepared(
            album_id, items, library_id, known.refusals[library_id], known.roots[library_id]
        )

    async def _verified(self, items: list[ImportItem], library_id: uuid.UUID) -> list[ImportItem]:
        """The files whose content is still what was staged; a changed one is quarantined as
        `checksum_mismatch`, a vanished one left out."""
        ready: list[ImportItem] = []
        digests = await asyncio.to_thread(_checksums, [item.current_path for item in items])
        for item, actual in zip(items, digests, strict=True):
            if actual is None:
                # Taken out of staging by hand: nothing to promote; the others go on.
                log.warning("staged_file_missing", item_id=str(item.id), path=item.current_path)
                self.counters.not_promoted += 1
                continue
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
        return ready

    async def _move_into_library(
        self,
        albums: Sequence[tuple[uuid.UUID, list[ImportItem]]],
        library_id: uuid.UUID,
        root: Path,
    ) -> None:
        items = [item for _album_id, album_items in albums for item in album_items]
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
                if not all(song.is_new for song in planned):
                    # A removed song row reused at its old path may have left its album empty
                    # (a look over the library's albums: only then).
                    await delete_orphans(session, library_id, [])
                # One executemany: the ORM's bulk UPDATE by primary key.
                await session.execute(
                    update(ImportItem),
                    [
                        {
                            "id": item.id,
                            "status": ImportStatus.promoted,
                            "current_path": str(move.destination),
                        }
                        for item, move in zip(items, library_moves, strict=True)
                    ],
                )
                for item, move in zip(items, library_moves, strict=True):
                    await self._audit(
                        session,
                        "import.promoted",
                        "import_item",
                        item.id,
                        library_id=str(library_id),
                        path=str(move.destination),
                    )
                # An album whose every file is promoted is promoted (a changed or vanished file
                # keeps it open).
                album_ids = [album_id for album_id, _album_items in albums]
                still_open = set(
                    await session.scalars(
                        select(ImportItem.album_id).where(
                            ImportItem.album_id.in_(album_ids),
                            ImportItem.status.in_(STAGED_LIVE),
                        )
                    )
                )
                done_albums = [album_id for album_id in album_ids if album_id not in still_open]
                if done_albums:
                    await session.execute(
                        update(ImportAlbum)
                        .where(ImportAlbum.id.in_(done_albums))
                        .values(status=ImportStatus.promoted, target_library_id=library_id)
                        .execution_options(synchronize_session=False)
                    )
                await mark_done(session, done_moves)
        sources = [move.source.parent for move in library_moves]
        await asyncio.to_thread(prune_folders, sources, self.folders.staging)
        for album_id, album_items in albums:
            self.counters.albums += 1
            self.counters.promoted += len(album_items)
            await publish(
                self.bus,
                "import.promoted",
                album_id=str(album_id),
                library_id=str(library_id),
                files=len(album_items),
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


def _roomiest(roots: Sequence[str]) -> Path:
    """The root with the most free space, resolved."""
    return Path(max(roots, key=free_space)).resolve()


def _checksums(paths: Sequence[str]) -> list[str | None]:
    """SHA-256 of each file, None for a file that is gone; other read errors are transient."""
    digests: list[str | None] = []
    for path in paths:
        try:
            digests.append(sha256_of(path))
        except FileNotFoundError:
            digests.append(None)
        except OSError as exc:
            raise TransientFileError(str(exc)) from exc
    return digests


def stat_or_zero(path: Path) -> tuple[int, int]:
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
