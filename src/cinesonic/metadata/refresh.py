"""Metadata refresh: matching scanned movies and shows to TMDb and filling them in.

A scan makes items from file names alone (no key or network needed); a refresh fills them in:

- `POST /movies/{id}/refresh`, `POST /tvshows/{id}/refresh` (one item, in the request). With
  `tmdb_id`, that title is taken (confidence 1: a person chose it) — how a wrong match is
  fixed. Without it, an item already matched is fetched again by its TMDb id, and an unmatched
  one is searched by its title (and year) and takes `matching.best_match` when its confidence
  reaches `metadata_match_threshold`; below it the request is a 422 `no_confident_match`
  whose details list the candidates with their scores.
- the job `metadata.refresh` (one library): every unmatched item (and with `force` every item
  whose metadata is older than `metadata_cache_ttl_hours`), one transaction per item. An item
  below the threshold stays unmatched and is flagged `needs_review`, the reason naming the best
  candidate; a provider error counts against that item only. It is enqueued by a video scan
  that added items, when a TMDb key is configured, and by `POST /libraries/{id}/refresh-metadata`.

A TMDb id belongs to at most one item of a library (409 `tmdb_id_in_use`), checked again under
the library's lock once the provider has answered: no write lock is held across calls to TMDb.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.activity import service as activity_service
from cinesonic.activity.service import Origin
from cinesonic.auth.principal import Principal
from cinesonic.config import Settings
from cinesonic.db import lock_for_update
from cinesonic.errors import Conflict, ValidationFailed
from cinesonic.job.schemas import JobRead
from cinesonic.kit.timeutil import utcnow
from cinesonic.library import service as library_service
from cinesonic.metadata import service as metadata_service
from cinesonic.metadata.errors import ProviderUnavailable
from cinesonic.metadata.matching import Match, MediaKind, ParsedTitle, rank
from cinesonic.metadata.schemas import (
    MovieDetails,
    MovieSummary,
    SeasonDetails,
    TvDetails,
    TvSummary,
)
from cinesonic.metadata.tmdb import PROVIDER, TmdbClient
from cinesonic.models.job import ACTIVE_STATUSES, Job
from cinesonic.models.library import Library, LibraryKind
from cinesonic.models.video import Movie, TvShow
from cinesonic.state import AppState
from cinesonic.video import people as video_people
from cinesonic.video import service as video_service
from cinesonic.video.schemas import MovieDetail, TvShowDetail
from cinesonic.worker import queue as job_queue

REFRESH_JOB = "metadata.refresh"
REFRESH_QUEUE = "default"
REFRESH_ATTEMPTS = 3
MAX_CANDIDATES = 5  # listed in a 422 and weighed for a review reason
REFRESHABLE_KINDS = (LibraryKind.movies, LibraryKind.tvshows)

Item = Movie | TvShow


class NoConfidentMatch(ValidationFailed):
    code = "no_confident_match"
    message = (
        "No TMDb result matches this title confidently enough; choose one by `tmdb_id` "
        "(the candidates are in the details)."
    )


class TmdbIdInUse(Conflict):
    code = "tmdb_id_in_use"
    message = "Another item of this library already has that TMDb id."


class RefreshNotSupported(Conflict):
    code = "refresh_not_supported"
    message = "Only movie and TV show libraries have provider metadata to refresh."


class RefreshInProgress(Conflict):
    code = "refresh_in_progress"
    message = "A metadata refresh of this library is already queued or running."


class Outcome(enum.StrEnum):
    matched = "matched"  # was unmatched, now matched
    refreshed = "refreshed"  # was matched, fetched again
    needs_review = "needs_review"  # left unmatched, flagged


@dataclass(frozen=True)
class Choice:
    tmdb_id: int
    confidence: float
    how: str  # explicit | current | search


@dataclass(frozen=True)
class Fetched:
    choice: Choice
    movie: MovieDetails | None = None
    show: TvDetails | None = None
    seasons: tuple[SeasonDetails, ...] = ()

    @property
    def title(self) -> str:
        if self.movie is not None:
            return self.movie.title
        assert self.show is not None
        return self.show.name


# ---------------------------------------------------------------- choosing and fetching


def _kind_of(item: Item) -> MediaKind:
    return MediaKind.movie if isinstance(item, Movie) else MediaKind.tv


async def _candidates(tmdb: TmdbClient, item: Item) -> list[Match]:
    """Search results for the item's title, best first; with its year first, then (when that
    finds nothing) without it, so a year one off in the file name still finds the title."""
    kind = _kind_of(item)
    parsed = ParsedTitle(item.title, item.year, kind)
    years = [item.year, None] if item.year is not None else [None]
    for year in years:
        results: list[MovieSummary | TvSummary]
        if kind is MediaKind.movie:
            results = list((await tmdb.search_movies(item.title, year=year)).data)
        else:
            results = list((await tmdb.search_tv(item.title, year=year)).data)
        if results:
            return rank(parsed, results)
    return []


async def _choose(
    tmdb: TmdbClient, item: Item, wanted: int | None, threshold: float
) -> Choice | list[Match]:
    """The TMDb id to take, or the ranked candidates when none reaches `threshold`."""
    if wanted is not None:
        return Choice(wanted, 1.0, "explicit")
    if item.tmdb_id is not None:
        confidence = item.match_confidence if item.match_confidence is not None else 1.0
        return Choice(item.tmdb_id, confidence, "current")
    ranked = await _candidates(tmdb, item)
    if ranked and ranked[0].confidence >= threshold:
        best = ranked[0]
        return Choice(best.candidate.tmdb_id, best.confidence, "search")
    return ranked


async def _fetch(tmdb: TmdbClient, item: Item, choice: Choice) -> Fetched:
    if isinstance(item, Movie):
        return Fetched(choice, movie=await tmdb.movie(choice.tmdb_id))
    show, seasons = await metadata_service.fetch_show(tmdb, choice.tmdb_id)
    return Fetched(choice, show=show, seasons=tuple(seasons))


def _candidate_details(ranked: list[Match]) -> list[dict[str, Any]]:
    return [
        {
            "tmdb_id": match.candidate.tmdb_id,
            "title": match.candidate.title,
            "original_title": match.candidate.original_title,
            "year": match.candidate.year,
            "confidence": match.confidence,
        }
        for match in ranked[:MAX_CANDIDATES]
    ]


def _described(item: Item) -> str:
    return f"'{item.title}'" + (f" ({item.year})" if item.year is not None else "")


def review_reason(item: Item, ranked: list[Match], threshold: float) -> str:
    """Why an item was left unmatched, naming the best candidate when there was one."""
    if not ranked:
        return f"TMDb found no {_kind_of(item).value} titled {_described(item)}."
    best = ranked[0]
    year = best.candidate.year if best.candidate.year is not None else "year unknown"
    return (
        f"No TMDb match of {_described(item)} reached the confidence threshold "
        f"{threshold:.2f}; the best was '{best.candidate.title}' ({year}, TMDb id "
        f"{best.candidate.tmdb_id}) at {best.confidence:.2f}."
    )


# ---------------------------------------------------------------- writing


async def _taken_by(session: AsyncSession, item: Item, tmdb_id: int) -> uuid.UUID | None:
    model = type(item)
    found: uuid.UUID | None = await session.scalar(
        select(model.id)
        .where(model.library_id == item.library_id, model.tmdb_id == tmdb_id, model.id != item.id)
        .limit(1)
    )
    return found


def _in_use(other: uuid.UUID, tmdb_id: int) -> TmdbIdInUse:
    return TmdbIdInUse(details={"id": str(other), "tmdb_id": tmdb_id})


async def _apply(session: AsyncSession, item: Item, fetched: Fetched) -> None:
    """Write what the provider said, under the library's lock after checking the id is free."""
    await lock_for_update(session, metadata_service.library_add_lock_key(item.library_id))
    other = await _taken_by(session, item, fetched.choice.tmdb_id)
    if other is not None:
        raise _in_use(other, fetched.choice.tmdb_id)
    if isinstance(item, Movie):
        assert fetched.movie is not None
        await metadata_service.apply_movie_details(session, item, fetched.movie)
    else:
        assert fetched.show is not None
        await metadata_service.apply_show_details(session, item, fetched.show, fetched.seasons)
    item.match_confidence = fetched.choice.confidence
    item.needs_review = False
    item.review_reason = None
    await session.flush()


# ---------------------------------------------------------------- one item, in a request


async def _refresh_item(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    item: Item,
    tmdb_id: int | None,
) -> None:
    if tmdb_id is not None:
        other = await _taken_by(session, item, tmdb_id)
        if other is not None:
            raise _in_use(other, tmdb_id)
    threshold = state.settings.metadata_match_threshold
    async with metadata_service.tmdb_lookups(session, state) as tmdb:
        choice = await _choose(tmdb, item, tmdb_id, threshold)
        if isinstance(choice, list):
            raise NoConfidentMatch(
                details={
                    "title": item.title,
                    "year": item.year,
                    "threshold": threshold,
                    "candidates": _candidate_details(choice),
                }
            )
        fetched = await _fetch(tmdb, item, choice)
    previous = item.tmdb_id
    await _apply(session, item, fetched)
    is_movie = isinstance(item, Movie)
    await activity_service.record_by(
        session,
        actor,
        action="movie.refresh" if is_movie else "tvshow.refresh",
        resource_type="movie" if is_movie else "tv_show",
        resource_id=item.id,
        origin=origin,
        details={
            "tmdb_id": choice.tmdb_id,
            "previous_tmdb_id": previous,
            "confidence": choice.confidence,
            "chosen_by": choice.how,
            "title": fetched.title,
        },
    )
    # Columns the database set on flush (`updated_at`) are read back before answering.
    await session.refresh(item)


async def refresh_movie(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    movie_id: uuid.UUID,
    *,
    tmdb_id: int | None,
) -> MovieDetail:
    movie = await video_service.visible_movie(session, actor, movie_id)
    await _refresh_item(session, state, actor, origin, movie, tmdb_id)
    return await video_people.movie_detail(session, actor, movie.id)


async def refresh_show(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    show_id: uuid.UUID,
    *,
    tmdb_id: int | None,
) -> TvShowDetail:
    show = await video_service.visible_show(session, actor, show_id)
    await _refresh_item(session, state, actor, origin, show, tmdb_id)
    return await video_people.show_detail(session, actor, show.id)


# ---------------------------------------------------------------- one item, in the job


async def refresh_library_item(
    session: AsyncSession,
    http: httpx.AsyncClient,
    settings: Settings,
    model: type[Movie] | type[TvShow],
    item_id: uuid.UUID,
) -> Outcome | None:
    """Refresh one item of the job in the caller's transaction: matched (or fetched again), or
    left unmatched and flagged. None when the item is gone. Provider errors propagate."""
    item: Item | None = await session.get(model, item_id)
    if item is None:
        return None
    threshold = settings.metadata_match_threshold
    was_matched = item.tmdb_id is not None
    async with metadata_service.provider_lookups(session, http, settings) as tmdb:
        choice = await _choose(tmdb, item, None, threshold)
        fetched = None if isinstance(choice, list) else await _fetch(tmdb, item, choice)
    if fetched is None:
        assert isinstance(choice, list)
        item.needs_review = True
        item.review_reason = review_reason(item, choice, threshold)
        await session.flush()
        return Outcome.needs_review
    described = _described(item)  # read now: a rolled-back savepoint expires the row
    try:
        async with session.begin_nested():
            await _apply(session, item, fetched)
    except TmdbIdInUse as exc:
        item.needs_review = True
        item.review_reason = (
            f"TMDb's match of {described}, '{fetched.title}' (TMDb id "
            f"{fetched.choice.tmdb_id}), is already item {exc.details['id']} of this library."
        )
        await session.flush()
        return Outcome.needs_review
    return Outcome.refreshed if was_matched else Outcome.matched


def items_to_refresh(
    library: Library, settings: Settings, *, force: bool
) -> tuple[type[Movie] | type[TvShow], ColumnElement[bool]]:
    """The model of the library's items and which of them a refresh takes."""
    model: type[Movie] | type[TvShow] = Movie if library.kind == LibraryKind.movies else TvShow
    wanted: ColumnElement[bool] = model.tmdb_id.is_(None)
    if force:
        stale = utcnow() - timedelta(hours=settings.metadata_cache_ttl_hours)
        wanted = or_(
            wanted, model.metadata_refreshed_at.is_(None), model.metadata_refreshed_at < stale
        )
    return model, (model.library_id == library.id) & wanted


# ---------------------------------------------------------------- the job's queue entries


def refresh_key(library_id: uuid.UUID) -> str:
    return f"{REFRESH_JOB}:{library_id}"


async def _active_refresh(session: AsyncSession, library_id: uuid.UUID) -> Job | None:
    job: Job | None = await session.scalar(
        select(Job).where(
            Job.unique_key == refresh_key(library_id), Job.status.in_(ACTIVE_STATUSES)
        )
    )
    return job


async def _enqueue(
    session: AsyncSession, library_id: uuid.UUID, *, force: bool, owner_id: uuid.UUID | None
) -> Job:
    return await job_queue.enqueue(
        session,
        REFRESH_JOB,
        {"library_id": str(library_id), "force": force},
        queue=REFRESH_QUEUE,
        max_attempts=REFRESH_ATTEMPTS,
        unique_key=refresh_key(library_id),
        owner_id=owner_id,
    )


async def start_library_refresh(
    session: AsyncSession,
    state: AppState,
    actor: Principal,
    origin: Origin,
    library_id: uuid.UUID,
    *,
    force: bool,
) -> JobRead:
    """Enqueue the refresh of one movie or TV library (409 while one is queued or running)."""
    library = await library_service.get_library(session, library_id)
    if library.kind not in REFRESHABLE_KINDS:
        raise RefreshNotSupported(details={"kind": library.kind.value})
    if not metadata_service.is_provider_configured(state.settings):
        raise ProviderUnavailable(
            "No TMDb API key is configured: an administrator sets `tmdb_api_key`.",
            details={"provider": PROVIDER, "reason": "no_api_key"},
        )
    active = await _active_refresh(session, library.id)
    if active is not None:
        raise RefreshInProgress(details={"job_id": str(active.id)})
    job = await _enqueue(session, library.id, force=force, owner_id=actor.id)
    await activity_service.record_by(
        session,
        actor,
        action="library.refresh_metadata",
        resource_type="library",
        resource_id=library.id,
        origin=origin,
        details={"job_id": str(job.id), "force": force},
    )
    await session.refresh(job)
    return JobRead.model_validate(job)


async def enqueue_after_scan(
    session: AsyncSession, settings: Settings, library_id: uuid.UUID
) -> uuid.UUID | None:
    """The refresh a scan that added items asks for: none without a TMDb key; the one already
    queued or running when there is one."""
    if not metadata_service.is_provider_configured(settings):
        return None
    active = await _active_refresh(session, library_id)
    if active is not None:
        return active.id
    job = await _enqueue(session, library_id, force=False, owner_id=None)
    return job.id
