"""A TMDb v3 client over the app's shared httpx client.

Every look-up goes through `_get`: answered from the response cache while its entry is fresh,
else fetched and stored. A fetch is retried when it could not connect, timed out, or was
answered 5xx (`retries` times, waiting `backoff`, `2 × backoff`, …) or 429 (waiting the
`Retry-After` it names, never longer than `retry_after_max`). 404 is `MetadataNotFound`; 401
(a refused key) and exhausted retries are `ProviderUnavailable` (503); a body that is not JSON
or not the documented shape is `ProviderError` (502). Without an API key nothing is sent.

The key goes as TMDb accepts it: a v4 read access token (a JWT) as `Authorization: Bearer`, a
v3 key as the `api_key` query parameter. Neither is ever part of a cache key or a log line.
This module knows nothing of the database: the cache is whatever `ResponseCache` it is given.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from cinesonic.config import Settings
from cinesonic.kit.pagination import PaginationMeta
from cinesonic.metadata.errors import MetadataNotFound, ProviderError, ProviderUnavailable
from cinesonic.metadata.schemas import (
    EpisodeDetails,
    MovieDetails,
    MovieSearchPage,
    MovieSummary,
    ProviderConfiguration,
    SearchResultsPage,
    SeasonDetails,
    TvDetails,
    TvSearchPage,
    TvSummary,
)

log = structlog.get_logger("cinesonic.metadata.tmdb")

PROVIDER = "tmdb"
PAGE_SIZE = 20  # TMDb's fixed search page size
MAX_PAGE = 500  # TMDb refuses pages past 500
MOVIE_APPENDS = "credits,keywords,release_dates,similar"
TV_APPENDS = "credits,keywords,similar"

M = TypeVar("M", bound=BaseModel)
Params = Mapping[str, str | int | None]


class ResponseCache(Protocol):
    """Where fetched payloads are kept, by provider and key (`metadata.cache`)."""

    async def get(self, provider: str, key: str) -> Any | None: ...

    async def put(self, provider: str, key: str, payload: Any, ttl: timedelta) -> None: ...


@dataclass(frozen=True)
class TmdbConfig:
    api_key: str | None
    language: str
    base_url: str
    timeout: float
    retries: int
    backoff: float
    retry_after_max: float
    ttl: timedelta
    search_ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> TmdbConfig:
        key = settings.tmdb_api_key
        return cls(
            api_key=key.get_secret_value().strip() or None if key is not None else None,
            language=settings.tmdb_language,
            base_url=settings.tmdb_base_url.rstrip("/"),
            timeout=settings.tmdb_timeout_seconds,
            retries=settings.tmdb_retries,
            backoff=settings.tmdb_retry_backoff_seconds,
            retry_after_max=settings.tmdb_retry_after_max_seconds,
            ttl=timedelta(hours=settings.metadata_cache_ttl_hours),
            search_ttl=timedelta(hours=settings.metadata_search_cache_ttl_hours),
        )


def cache_key(path: str, params: Params) -> str:
    """`path?a=1&b=x`: parameters sorted, unset ones dropped, text folded to one spelling, so
    the same question asked two ways is one entry."""
    parts = []
    for name in sorted(params):
        value = params[name]
        if value is None:
            continue
        text = " ".join(str(value).split()).casefold() if name == "query" else str(value)
        parts.append(f"{name}={text}")
    return f"{path}?{'&'.join(parts)}"


def _is_bearer_token(key: str) -> bool:
    # v4 read access tokens are JWTs (three dot-separated parts); v3 keys are 32 hex digits.
    return key.count(".") == 2


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)


def _provider_message(response: httpx.Response) -> str | None:
    """TMDb's `status_message`, when the error body is its documented shape."""
    try:
        body = response.json()
    except ValueError:
        return None
    message = body.get("status_message") if isinstance(body, dict) else None
    return str(message)[:300] if message else None


class TmdbClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        config: TmdbConfig,
        cache: ResponseCache | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._config = config
        self._cache = cache
        self._sleep = sleep

    @property
    def is_configured(self) -> bool:
        return self._config.api_key is not None

    # ------------------------------------------------------------ look-ups

    async def search_movies(
        self, query: str, *, year: int | None = None, page: int = 1
    ) -> MovieSearchPage:
        params = {"query": query, "year": year, "page": page, "include_adult": "false"}
        raw = await self._read("/search/movie", params, SearchResultsPage, search=True)
        results = [self._parse(MovieSummary, item) for item in raw.results]
        return MovieSearchPage(data=results, pagination=_meta(raw))

    async def search_tv(
        self, query: str, *, year: int | None = None, page: int = 1
    ) -> TvSearchPage:
        params = {
            "query": query,
            "first_air_date_year": year,
            "page": page,
            "include_adult": "false",
        }
        raw = await self._read("/search/tv", params, SearchResultsPage, search=True)
        results = [self._parse(TvSummary, item) for item in raw.results]
        return TvSearchPage(data=results, pagination=_meta(raw))

    async def movie(self, tmdb_id: int) -> MovieDetails:
        params = {"append_to_response": MOVIE_APPENDS}
        return await self._read(f"/movie/{int(tmdb_id)}", params, MovieDetails)

    async def tv(self, tmdb_id: int) -> TvDetails:
        params = {"append_to_response": TV_APPENDS}
        return await self._read(f"/tv/{int(tmdb_id)}", params, TvDetails)

    async def season(self, tmdb_id: int, season_number: int) -> SeasonDetails:
        path = f"/tv/{int(tmdb_id)}/season/{int(season_number)}"
        return await self._read(path, {}, SeasonDetails)

    async def episode(
        self, tmdb_id: int, season_number: int, episode_number: int
    ) -> EpisodeDetails:
        path = f"/tv/{int(tmdb_id)}/season/{int(season_number)}/episode/{int(episode_number)}"
        return await self._read(path, {}, EpisodeDetails)

    async def configuration(self) -> ProviderConfiguration:
        """Where TMDb's images live and in which sizes (`images.secure_base_url`)."""
        return await self._read("/configuration", {}, ProviderConfiguration, language=False)

    async def image(self, url: str) -> httpx.Response:
        """An image from TMDb's image server (no key needed), with the same retries; raises
        `MetadataNotFound` for 404."""
        return await self._request(url, {}, {})

    # ------------------------------------------------------------ plumbing

    async def _read(
        self,
        path: str,
        params: Params,
        model: type[M],
        *,
        search: bool = False,
        language: bool = True,
    ) -> M:
        api_key = self._config.api_key
        if api_key is None:
            raise ProviderUnavailable(
                "No TMDb API key is configured: an administrator sets `tmdb_api_key`.",
                details={"provider": PROVIDER, "reason": "no_api_key"},
            )
        query = {**params, "language": self._config.language} if language else dict(params)
        key = cache_key(path, query)
        payload = None if self._cache is None else await self._cache.get(PROVIDER, key)
        if payload is not None:
            try:
                return model.model_validate(payload)
            except ValidationError:
                pass  # kept under an older shape of our models: fetched afresh
        payload = await self._fetch(path, query, api_key)
        parsed = self._parse(model, payload)  # only a readable payload is kept
        ttl = self._config.search_ttl if search else self._config.ttl
        if self._cache is not None and ttl > timedelta(0):
            await self._cache.put(PROVIDER, key, payload, ttl)
        return parsed

    @staticmethod
    def _parse(model: type[M], payload: Any) -> M:
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            log.warning("provider_payload_invalid", provider=PROVIDER, model=model.__name__)
            raise ProviderError(
                "TMDb answered a payload of an unexpected shape.",
                details={"provider": PROVIDER, "errors": exc.error_count()},
            ) from None

    async def _fetch(self, path: str, params: Params, api_key: str) -> Any:
        query: dict[str, str] = {k: str(v) for k, v in params.items() if v is not None}
        headers = {"Accept": "application/json"}
        if _is_bearer_token(api_key):
            headers["Authorization"] = f"Bearer {api_key}"
        else:
            query["api_key"] = api_key
        response = await self._request(f"{self._config.base_url}{path}", query, headers)
        try:
            return json.loads(response.content)
        except ValueError:
            log.warning("provider_answer_not_json", provider=PROVIDER, path=path)
            raise ProviderError(
                "TMDb answered something that is not JSON.", details={"provider": PROVIDER}
            ) from None

    async def _request(
        self, url: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> httpx.Response:
        """GET with retries; answers a 2xx response."""
        config = self._config
        reason = "unreachable"
        for attempt in range(config.retries + 1):
            last = attempt == config.retries
            wait = config.backoff * (2**attempt)
            try:
                response = await self._http.get(
                    url, params=query, headers=headers, timeout=config.timeout
                )
            except httpx.TransportError as exc:
                reason = "unreachable"
                log.warning("provider_unreachable", provider=PROVIDER, error=type(exc).__name__)
            else:
                status = response.status_code
                if status < 300:
                    return response
                if status == 404:
                    raise MetadataNotFound(
                        _provider_message(response) or MetadataNotFound.message,
                        details={"provider": PROVIDER},
                    )
                if status == 401:
                    raise ProviderUnavailable(
                        "TMDb refused the API key; an administrator checks `tmdb_api_key`.",
                        details={"provider": PROVIDER, "reason": "api_key_refused"},
                    )
                if status == 429:
                    reason = "rate_limited"
                    retry_after = _retry_after(response)
                    if retry_after is not None:
                        wait = min(retry_after, config.retry_after_max)
                elif status >= 500:
                    reason = "failing"
                else:
                    raise ProviderError(
                        f"TMDb refused the request ({status}).",
                        details={"provider": PROVIDER, "status": status},
                    )
                log.warning("provider_failed", provider=PROVIDER, status=status, attempt=attempt)
            if not last:
                await self._sleep(wait)
        raise ProviderUnavailable(
            "TMDb is unreachable or failing; try again later.",
            details={"provider": PROVIDER, "reason": reason},
        )


def _meta(raw: SearchResultsPage) -> PaginationMeta:
    page = max(raw.page, 1)
    return PaginationMeta(
        page=page,
        page_size=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        total=raw.total_results,
        total_pages=raw.total_pages,
    )
