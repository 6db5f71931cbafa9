"""What metadata providers answer, typed: TMDb's v3 payloads read into our models.

Each model reads the provider's JSON (`id` → `tmdb_id`, `belongs_to_collection` → `collection`,
`append_to_response` blocks flattened) and is also what the `/metadata` routes answer, so a
provider payload is validated once and its shape documented once. Unknown provider fields are
ignored; a payload that breaks these models is a provider error (502), not a crash.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
)

from cinesonic.kit.pagination import Page
from cinesonic.kit.schemas import Schema


def _empty_as_none(value: Any) -> Any:
    # TMDb sends "" for unknown dates and null or "" for unknown strings.
    return None if value == "" else value


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _results(value: Any) -> Any:
    """An `append_to_response` block (`{"results": [...]}`, `{"keywords": [...]}`) as its list."""
    if isinstance(value, dict):
        for key in ("results", "keywords"):
            if key in value:
                return value[key] or []
        return []
    return _none_as_empty_list(value)


OptionalDate = Annotated[date | None, BeforeValidator(_empty_as_none)]
OptionalText = Annotated[str | None, BeforeValidator(_empty_as_none)]
ProviderId = Annotated[int, Field(validation_alias=AliasChoices("id", "tmdb_id"))]


class ProviderModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, from_attributes=True)


def _year(value: date | None) -> int | None:
    return value.year if value is not None else None


class GenreRef(ProviderModel):
    tmdb_id: ProviderId
    name: str


class KeywordRef(ProviderModel):
    tmdb_id: ProviderId
    name: str


class CollectionRef(ProviderModel):
    tmdb_id: ProviderId
    name: str
    poster_path: OptionalText = None
    backdrop_path: OptionalText = None


class NetworkRef(ProviderModel):
    tmdb_id: ProviderId
    name: str
    logo_path: OptionalText = None
    origin_country: OptionalText = None


class CastCredit(ProviderModel):
    tmdb_id: ProviderId = Field(description="The person's TMDb id.")
    name: str
    character: OptionalText = None
    order: int | None = None
    profile_path: OptionalText = None
    credit_id: OptionalText = None
    known_for_department: OptionalText = None


class CrewCredit(ProviderModel):
    tmdb_id: ProviderId = Field(description="The person's TMDb id.")
    name: str
    job: OptionalText = None
    department: OptionalText = None
    profile_path: OptionalText = None
    credit_id: OptionalText = None


class Credits(ProviderModel):
    cast: Annotated[list[CastCredit], BeforeValidator(_none_as_empty_list)] = []
    crew: Annotated[list[CrewCredit], BeforeValidator(_none_as_empty_list)] = []


class ReleaseDate(ProviderModel):
    certification: OptionalText = None
    release_date: OptionalText = None
    type: int | None = Field(
        None,
        description="1 premiere, 2 limited theatrical, 3 theatrical, 4 digital, 5 physical, 6 TV.",
    )
    note: OptionalText = None


class CountryReleases(ProviderModel):
    country: str = Field(validation_alias=AliasChoices("iso_3166_1", "country"))
    release_dates: Annotated[list[ReleaseDate], BeforeValidator(_none_as_empty_list)] = []


class MovieSummary(ProviderModel):
    """A movie as search results and `similar` lists carry it."""

    tmdb_id: ProviderId
    title: str
    original_title: OptionalText = None
    original_language: OptionalText = None
    overview: OptionalText = None
    release_date: OptionalDate = None
    poster_path: OptionalText = None
    backdrop_path: OptionalText = None
    popularity: float = 0.0
    vote_average: float | None = None
    vote_count: int | None = None
    genre_ids: Annotated[list[int], BeforeValidator(_none_as_empty_list)] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def year(self) -> int | None:
        return _year(self.release_date)


class MovieDetails(MovieSummary):
    """A movie with `credits`, `keywords`, `release_dates` and `similar` appended."""

    imdb_id: OptionalText = None
    tagline: OptionalText = None
    runtime: int | None = Field(None, description="Minutes.")
    status: OptionalText = None
    homepage: OptionalText = None
    budget: int | None = None
    revenue: int | None = None
    genres: Annotated[list[GenreRef], BeforeValidator(_none_as_empty_list)] = []
    collection: CollectionRef | None = Field(
        None, validation_alias=AliasChoices("belongs_to_collection", "collection")
    )
    credits: Credits = Field(default_factory=Credits)
    keywords: Annotated[list[KeywordRef], BeforeValidator(_results)] = []
    release_dates: Annotated[list[CountryReleases], BeforeValidator(_results)] = []
    similar: Annotated[list[MovieSummary], BeforeValidator(_results)] = []


class TvSummary(ProviderModel):
    """A TV show as search results and `similar` lists carry it."""

    tmdb_id: ProviderId
    name: str
    original_name: OptionalText = None
    original_language: OptionalText = None
    overview: OptionalText = None
    first_air_date: OptionalDate = None
    poster_path: OptionalText = None
    backdrop_path: OptionalText = None
    popularity: float = 0.0
    vote_average: float | None = None
    vote_count: int | None = None
    origin_country: Annotated[list[str], BeforeValidator(_none_as_empty_list)] = []
    genre_ids: Annotated[list[int], BeforeValidator(_none_as_empty_list)] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def year(self) -> int | None:
        return _year(self.first_air_date)


class SeasonSummary(ProviderModel):
    tmdb_id: ProviderId
    season_number: int
    name: OptionalText = None
    overview: OptionalText = None
    air_date: OptionalDate = None
    episode_count: int | None = None
    poster_path: OptionalText = None


class CreatorRef(ProviderModel):
    tmdb_id: ProviderId = Field(description="The person's TMDb id.")
    name: str
    profile_path: OptionalText = None


class TvDetails(TvSummary):
    """A TV show with `credits`, `keywords` and `similar` appended."""

    last_air_date: OptionalDate = None
    status: OptionalText = None
    tagline: OptionalText = None
    type: OptionalText = None
    homepage: OptionalText = None
    in_production: bool | None = None
    number_of_seasons: int | None = None
    number_of_episodes: int | None = None
    episode_run_time: Annotated[list[int], BeforeValidator(_none_as_empty_list)] = []
    genres: Annotated[list[GenreRef], BeforeValidator(_none_as_empty_list)] = []
    networks: Annotated[list[NetworkRef], BeforeValidator(_none_as_empty_list)] = []
    created_by: Annotated[list[CreatorRef], BeforeValidator(_none_as_empty_list)] = []
    seasons: Annotated[list[SeasonSummary], BeforeValidator(_none_as_empty_list)] = []
    credits: Credits = Field(default_factory=Credits)
    keywords: Annotated[list[KeywordRef], BeforeValidator(_results)] = []
    similar: Annotated[list[TvSummary], BeforeValidator(_results)] = []


class EpisodeDetails(ProviderModel):
    tmdb_id: ProviderId
    season_number: int
    episode_number: int
    name: OptionalText = None
    overview: OptionalText = None
    air_date: OptionalDate = None
    runtime: int | None = Field(None, description="Minutes.")
    still_path: OptionalText = None
    vote_average: float | None = None
    vote_count: int | None = None
    crew: Annotated[list[CrewCredit], BeforeValidator(_none_as_empty_list)] = []
    guest_stars: Annotated[list[CastCredit], BeforeValidator(_none_as_empty_list)] = []


class SeasonDetails(ProviderModel):
    tmdb_id: ProviderId
    season_number: int
    name: OptionalText = None
    overview: OptionalText = None
    air_date: OptionalDate = None
    poster_path: OptionalText = None
    episodes: Annotated[list[EpisodeDetails], BeforeValidator(_none_as_empty_list)] = []


class ImageConfiguration(ProviderModel):
    base_url: OptionalText = None
    secure_base_url: str
    poster_sizes: list[str] = []
    backdrop_sizes: list[str] = []
    profile_sizes: list[str] = []
    still_sizes: list[str] = []
    logo_sizes: list[str] = []


class ProviderConfiguration(ProviderModel):
    images: ImageConfiguration


class SearchResultsPage(ProviderModel):
    """One page of a provider search, as the provider answers it."""

    page: int = 1
    total_pages: int = 0
    total_results: int = 0
    results: Annotated[list[dict[str, Any]], BeforeValidator(_none_as_empty_list)] = []


class MovieSearchPage(Page[MovieSummary]):
    """TMDb's pages hold 20 results; `page_size` says so and `total` counts every match."""


class TvSearchPage(Page[TvSummary]):
    """TMDb's pages hold 20 results; `page_size` says so and `total` counts every match."""


class AddToLibraryKind(enum.StrEnum):
    movie = "movie"
    tv = "tv"


class AddToLibrary(Schema):
    """A TMDb title to add to a library of its kind (`movies` for a movie, `tvshows` for a
    show) [004]."""

    kind: AddToLibraryKind
    library_id: uuid.UUID
    tmdb_id: int = Field(ge=1, le=2**31 - 1)


class RefreshRequest(Schema):
    """What `/movies/{id}/refresh` and `/tvshows/{id}/refresh` take: the TMDb id of the right
    title, to fix a wrong match; none: the item's own id, or a search by its title."""

    tmdb_id: int | None = Field(None, ge=1, le=2**31 - 1)


class LibraryItemAdded(Schema):
    """The movie or show created from the provider's details, and what came with it."""

    kind: AddToLibraryKind
    id: uuid.UUID = Field(description="The new movie's or show's id.")
    library_id: uuid.UUID
    tmdb_id: int
    title: str
    year: int | None
    genres: list[str]
    collection: str | None = Field(description="A movie's collection, by name.")
    networks: list[str] = Field(description="A show's networks.")
    cast_count: int
    crew_count: int
    season_count: int = Field(description="A show's seasons (0 for a movie).")
    episode_count: int = Field(description="A show's episodes (0 for a movie).")
