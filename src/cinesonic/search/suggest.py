"""Autocomplete of movie and show titles, and `/search/multi`.

Autocomplete asks the search index first (`service`: exact names, then names starting with the
typed words, then other matches; the last word a prefix). When that finds fewer than asked and a
word has 4 letters or more, titles within one edit of the typed words are added, scored 0.5:
on PostgreSQL by trigram similarity (`pg_trgm`, when migration 0008 could install it), then
(and on SQLite only) from
an in-memory list of the scope's title words (`TitleWords`, kept in `Database.results` while no
video table changes). There a typed word matches a title word within one edit (insertion,
deletion, substitution, transposition); the last typed word a title word's start within one
edit. Candidates come from the typed word's edits looked up in a sorted vocabulary (bisect), so
the cost is bounded by the word's length, not by the number of titles.
"""

from __future__ import annotations

import bisect
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinesonic.auth.principal import Principal
from cinesonic.db import Database
from cinesonic.kit.pagination import PageParams
from cinesonic.music import service as music_service
from cinesonic.music.service import Scope
from cinesonic.search import service as search_service
from cinesonic.search.catalog import CATALOGS
from cinesonic.search.schemas import (
    MovieHit,
    MultiGroup,
    MultiResults,
    SearchType,
    Suggestions,
    TvShowHit,
)

MAX_SUGGESTIONS = 10
FUZZY_MIN_LETTERS = 4
FUZZY_SCORE = 0.5
MAX_MULTI = 20
TITLE_TABLES = (*music_service.SCOPE_TABLES, *search_service.VIDEO_TABLES)

Suggestion = MovieHit | TvShowHit


@dataclass(frozen=True)
class Title:
    id: uuid.UUID
    title: str
    sort_title: str
    library_id: uuid.UUID
    year: int | None
    rating: float | None
    poster_image_id: uuid.UUID | None


@dataclass(frozen=True)
class TitleWords:
    """The scope's titles of one kind, by the words of their folded titles."""

    titles: list[Title]
    vocabulary: list[str]  # sorted, distinct
    postings: dict[str, list[int]]  # word → indexes into `titles`
    alphabet: str

    @classmethod
    def of(cls, titles: list[Title]) -> TitleWords:
        postings: dict[str, list[int]] = {}
        for index, title in enumerate(titles):
            words = search_service.parse_query(title.title).words
            for word in dict.fromkeys(words):
                postings.setdefault(word, []).append(index)
        vocabulary = sorted(postings)
        alphabet = "".join(sorted({char for word in vocabulary for char in word}))
        return cls(titles, vocabulary, postings, alphabet)

    def _edits(self, word: str) -> set[str]:
        """`word` and every string one edit away from it, over the vocabulary's letters."""
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        found = {word}
        found.update(left + right[1:] for left, right in splits if right)
        found.update(
            left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1
        )
        for char in self.alphabet:
            found.update(left + char + right[1:] for left, right in splits if right)
            found.update(left + char + right for left, right in splits)
        return found

    def _starting(self, prefix: str) -> list[str]:
        start = bisect.bisect_left(self.vocabulary, prefix)
        end = bisect.bisect_left(self.vocabulary, prefix + "\U0010ffff")
        return self.vocabulary[start:end]

    def _words_for(self, typed: str, last: bool) -> set[str]:
        forms = self._edits(typed) if len(typed) >= FUZZY_MIN_LETTERS else {typed}
        if not last:
            return {form for form in forms if form in self.postings}
        found: set[str] = set()
        for form in forms:
            found.update(self._starting(form))
        return found

    def similar(self, words: tuple[str, ...], limit: int) -> list[Title]:
        """Titles each of whose typed words matches within one edit, in title order."""
        matching: set[int] | None = None
        for position, typed in enumerate(words):
            indexes: set[int] = set()
            for word in self._words_for(typed, position == len(words) - 1):
                indexes.update(self.postings[word])
            matching = indexes if matching is None else matching & indexes
            if not matching:
                return []
        ordered = sorted(matching or (), key=lambda index: self.titles[index].sort_title)
        return [self.titles[index] for index in ordered[:limit]]


def _hit(kind: SearchType, title: Title, score: float) -> Suggestion:
    hit = MovieHit if kind == SearchType.movie else TvShowHit
    return hit(
        id=title.id,
        name=title.title,
        title=title.title,
        score=score,
        library_id=title.library_id,
        year=title.year,
        rating=title.rating,
        poster_image_id=title.poster_image_id,
    )


async def _title_words(
    db: Database, session: AsyncSession, scope: Scope, kind: SearchType
) -> TitleWords:
    model = CATALOGS[kind].model
    libraries = "all" if scope.libraries is None else ",".join(sorted(map(str, scope.libraries)))

    async def build() -> TitleWords:
        statement = select(
            model.id,
            model.title,
            model.sort_title,
            model.library_id,
            model.year,
            model.rating,
            model.poster_image_id,
        )
        if scope.libraries is not None:
            statement = statement.where(model.library_id.in_(scope.libraries))
        rows = await session.execute(statement)
        return TitleWords.of([Title(*row) for row in rows])

    found = await db.results.get_or_build(
        f"search.titles:{kind}:{libraries}", db.table_versions(TITLE_TABLES), build
    )
    assert isinstance(found, TitleWords)
    return found


async def _trigram_similar(
    session: AsyncSession, scope: Scope, kind: SearchType, typed: str, limit: int
) -> list[Suggestion]:
    doc = search_service.doc
    model = CATALOGS[kind].model
    similarity = cast(func.similarity(doc.c.key, typed), Float)
    statement = (
        select(model, similarity.label("similarity"))
        .join(doc, doc.c.ref == model.id)
        .where(doc.c.kind == kind.value, doc.c.key.op("%")(typed))
        .order_by(similarity.desc(), model.sort_title, model.id)
        .limit(limit)
    )
    if scope.libraries is not None:
        statement = statement.where(model.library_id.in_(scope.libraries))
    rows = await session.execute(statement)
    return [
        _hit(
            kind,
            Title(
                row[0].id,
                row[0].title,
                row[0].sort_title,
                row[0].library_id,
                row[0].year,
                row[0].rating,
                row[0].poster_image_id,
            ),
            FUZZY_SCORE,
        )
        for row in rows
    ]


async def autocomplete(
    db: Database, principal: Principal, kind: SearchType, raw: str, limit: int
) -> bytes:
    """Up to `limit` (≤ 10) titles for what was typed so far, serialized and cached."""
    query = search_service.parse_query(raw)
    search_service.searchable_types(principal, [kind])

    async def build(session: AsyncSession, scope: Scope) -> bytes:
        hits: list[Any] = []
        if query.words and scope.libraries != []:
            found, _total = await search_service.search_in(
                session, scope, query, [kind], PageParams(0, limit, ()), db
            )
            hits = list(found)
            if len(hits) < limit and any(len(w) >= FUZZY_MIN_LETTERS for w in query.words):
                hits += await _fuzzy(db, session, scope, kind, query, limit, hits)
        answer = Suggestions(data=hits[:limit])
        return answer.__pydantic_serializer__.to_json(answer)

    what = f"suggest:{kind}:{query.words}:{query.names}:{limit}"
    return await search_service.cached_answer(
        db, principal, None, what, search_service.SEARCH_TABLES, build
    )


async def _fuzzy(
    db: Database,
    session: AsyncSession,
    scope: Scope,
    kind: SearchType,
    query: search_service.ParsedQuery,
    limit: int,
    found: list[Any],
) -> list[Suggestion]:
    seen = {hit.id for hit in found}
    wanted = limit - len(found) + len(seen)
    similar: list[Suggestion] = []
    if session.get_bind().dialect.name == "postgresql" and await search_service.has_trigram_index(
        session
    ):
        similar = await _trigram_similar(session, scope, kind, query.folded, wanted)
    if len(similar) < wanted:
        # Trigrams miss short words with one edit ("heta" shares too few with "heat").
        words = await _title_words(db, session, scope, kind)
        similar += [_hit(kind, title, FUZZY_SCORE) for title in words.similar(query.words, wanted)]
    kept: list[Suggestion] = []
    for hit in similar:
        if hit.id not in seen:
            seen.add(hit.id)
            kept.append(hit)
    return kept[: limit - len(found)]


MULTI_KINDS = (
    ("movies", SearchType.movie),
    ("tvshows", SearchType.tvshow),
    ("episodes", SearchType.episode),
    ("people", SearchType.person),
)


async def multi(db: Database, principal: Principal, raw: str, limit: int) -> bytes:
    """A few of each: movies, shows, episodes and people, grouped, each ranked as `/search`."""
    search_service.searchable_types(principal, [kind for _name, kind in MULTI_KINDS])
    query = search_service.parse_query(raw)

    async def build(session: AsyncSession, scope: Scope) -> bytes:
        groups: dict[str, MultiGroup] = {}
        for name, kind in MULTI_KINDS:
            hits, total = await search_service.search_in(
                session, scope, query, [kind], PageParams(0, limit, ()), db
            )
            groups[name] = MultiGroup(data=list(hits), total=total)
        answer = MultiResults(**groups)
        return answer.__pydantic_serializer__.to_json(answer)

    what = f"multi:{query.words}:{query.names}:{limit}"
    return await search_service.cached_answer(
        db, principal, None, what, search_service.SEARCH_TABLES, build
    )
