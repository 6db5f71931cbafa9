"""`GET /search`: ranked, prefix-as-you-type, accent-blind, multi-word, visibility-filtered."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cinesonic.models.library import LibraryKind
from cinesonic.state import AppState
from tests.conftest import PG_URL
from tests.fixtures.music import create_library, create_song
from tests.fixtures.users import SignedIn
from tests.music.browse_catalogue import (
    build_catalogue,
    create_viewers,
    get,
    get_ok,
    remove_song,
    settle,
)


async def search(client: httpx.AsyncClient, viewer: SignedIn, q: str, **params: Any) -> Any:
    return await get_ok(client, viewer, "/search", q=q, **params)


def hits(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(hit["type"], hit["name"]) for hit in body["data"]]


@pytest.fixture
async def viewers(state: AppState, client: httpx.AsyncClient) -> Any:
    catalogue = await build_catalogue(state)
    found = await create_viewers(state, client, catalogue)
    found.catalogue = catalogue  # type: ignore[attr-defined]
    return found


async def test_accents_and_case_do_not_matter(client: httpx.AsyncClient, viewers: Any) -> None:
    for query in ("beyonce", "BEYONCÉ", "Beyoncé", "beyoncé"):
        body = await search(client, viewers.user, query)
        assert hits(body)[0] == ("artist", "Beyoncé"), query
    assert hits(await search(client, viewers.user, "sigur ros"))[0] == ("artist", "Sigur Rós")
    assert hits(await search(client, viewers.user, "royksopp"))[0] == ("artist", "Röyksopp")
    # æ has no decomposition: spelled out, as fold() does.
    assert ("album", "Ágætis byrjun") in hits(await search(client, viewers.user, "agaetis"))
    assert ("album", "Ágætis byrjun") in hits(await search(client, viewers.user, "ÁGÆTIS"))


async def test_the_last_word_is_a_prefix(client: httpx.AsyncClient, viewers: Any) -> None:
    typed = ["b", "be", "bey", "beyo", "beyon", "beyonc", "beyonce"]
    for prefix in typed[2:]:
        assert hits(await search(client, viewers.user, prefix))[0] == ("artist", "Beyoncé")
    assert hits(await search(client, viewers.user, "sigur r"))[0] == ("artist", "Sigur Rós")
    # Earlier words are whole words: "sig ros" is not "Sigur Rós".
    assert ("artist", "Sigur Rós") not in hits(await search(client, viewers.user, "sig ros"))
    single = hits(await search(client, viewers.user, "s"))
    assert ("song", "Something") in single and ("artist", "Sigur Rós") in single


async def test_every_word_must_match_across_title_artist_and_album(
    client: httpx.AsyncClient, viewers: Any
) -> None:
    assert hits(await search(client, viewers.user, "beatles someth")) == [("song", "Something")]
    assert hits(await search(client, viewers.user, "abbey road end")) == [("song", "The End")]
    crazy = hits(await search(client, viewers.user, "crazy jay"))
    assert crazy == [("song", "Crazy in Love")]
    assert hits(await search(client, viewers.user, "beatles formation")) == []
    # The compilation's songs are found by their album, not by "Various Artists".
    assert ("song", "Eple") in hits(await search(client, viewers.user, "now electronic"))


async def test_articles_and_apostrophes(client: httpx.AsyncClient, viewers: Any) -> None:
    assert hits(await search(client, viewers.user, "the end"))[0] == ("song", "The End")
    assert hits(await search(client, viewers.user, "end"))[0] == ("song", "The End")
    for query in ("dont stop", "don't stop", "Don’t"):
        assert hits(await search(client, viewers.user, query))[0] == (
            "song",
            "Don't Stop Me Now",
        ), query
    assert ("artist", "Jay-Z") in hits(await search(client, viewers.user, "jay z"))


async def test_ranking_puts_exact_names_first(client: httpx.AsyncClient, viewers: Any) -> None:
    body = await search(client, viewers.user, "beatles")
    assert hits(body)[0] == ("artist", "The Beatles")
    assert {("album", "Abbey Road"), ("song", "Something")} <= set(hits(body))
    scores = [hit["score"] for hit in body["data"]]
    assert scores == sorted(scores, reverse=True)
    # A name that is the query beats one that only starts with it.
    jazz = hits(await search(client, viewers.user, "jazz"))
    assert jazz[0] == ("album", "Jazz")


async def test_hits_carry_summaries(client: httpx.AsyncClient, viewers: Any) -> None:
    body = await search(client, viewers.user, "lemonade")
    album = next(hit for hit in body["data"] if hit["type"] == "album")
    assert album["title"] == album["name"] == "Lemonade"
    assert album["artist"]["name"] == "Beyoncé" and album["song_count"] == 2
    assert "cover_url" in album and album["year"] == 2016
    song = next(hit for hit in body["data"] if hit["type"] == "song")
    assert song["album"]["title"] == "Lemonade" and song["artist"]["name"] == "Beyoncé"
    assert song["duration"] > 0 and song["format"] in {"flac", "mp3"}
    artist = (await search(client, viewers.user, "beyonce", type="artist"))["data"][0]
    assert artist["type"] == "artist" and artist["song_count"] == 3
    assert artist["album_count"] == 1 and artist["id"]


async def test_types_filter(client: httpx.AsyncClient, viewers: Any) -> None:
    only_albums = await search(client, viewers.user, "beyonce", type="album")
    assert {hit["type"] for hit in only_albums["data"]} == {"album"}
    two = await search(client, viewers.user, "beyonce", type="artist,song")
    assert {hit["type"] for hit in two["data"]} == {"artist", "song"}
    repeated = await client.get(
        "/api/v1/search",
        params=[("q", "beyonce"), ("type", "song"), ("type", "album")],
        headers=viewers.user.headers,
    )
    assert {hit["type"] for hit in repeated.json()["data"]} == {"album", "song"}


async def test_paging(client: httpx.AsyncClient, viewers: Any) -> None:
    everything = await search(client, viewers.user, "beyonce")
    total = everything["pagination"]["total"]
    assert total == len(everything["data"]) >= 4
    first = await search(client, viewers.user, "beyonce", limit=2)
    rest = await search(client, viewers.user, "beyonce", offset=2, limit=50)
    assert first["data"] + rest["data"] == everything["data"]
    assert first["pagination"]["total"] == total
    page_two = await search(client, viewers.user, "beyonce", page=2, page_size=2)
    assert page_two["data"] == everything["data"][2:4]
    past = await search(client, viewers.user, "beyonce", offset=100)
    assert past["data"] == [] and past["pagination"]["total"] == total


async def test_unreadable_libraries_never_show(client: httpx.AsyncClient, viewers: Any) -> None:
    for query in ("hidden", "secret", "agent nine", "classified", "jazz"):
        found = hits(await search(client, viewers.user, query))
        assert not {("song", "Hidden Track"), ("album", "Secret Sessions")} & set(found)
        assert ("artist", "Agent Nine") not in found and ("song", "Classified") not in found
    insider = hits(await search(client, viewers.insider, "hidden"))
    assert insider == [("song", "Hidden Track")]
    assert ("artist", "Agent Nine") in hits(await search(client, viewers.insider, "agent"))
    # Shared artist: found, with counts from the readable library only.
    artist = (await search(client, viewers.user, "beyonce", type="artist"))["data"][0]
    assert artist["song_count"] == 3
    assert (await search(client, viewers.insider, "beyonce", type="artist"))["data"][0][
        "song_count"
    ] == 4
    admin = hits(await search(client, viewers.admin, "secret"))
    assert ("album", "Secret Sessions") in admin


async def test_removed_songs_never_show(
    state: AppState, client: httpx.AsyncClient, viewers: Any
) -> None:
    assert hits(await search(client, viewers.user, "eple")) == [("song", "Eple")]
    await remove_song(state, viewers.catalogue.song("Eple").id)
    assert hits(await search(client, viewers.admin, "eple")) == []
    # The last song of an album gone: the album leaves the index too.
    await remove_song(state, viewers.catalogue.song("Svefn-g-englar").id)
    assert ("album", "Ágætis byrjun") not in hits(await search(client, viewers.admin, "agaetis"))


async def test_nothing_to_search_for(client: httpx.AsyncClient, viewers: Any) -> None:
    body = await search(client, viewers.user, "?!")
    assert body["data"] == [] and body["pagination"]["total"] == 0
    assert hits(await search(client, viewers.user, "zzzzqqq")) == []


@pytest.mark.skipif(PG_URL is None, reason="typo matching uses PostgreSQL's pg_trgm")
async def test_postgres_offers_similar_names_when_nothing_matches(
    client: httpx.AsyncClient, viewers: Any
) -> None:
    body = await search(client, viewers.user, "beyonse")
    assert hits(body)[0] == ("artist", "Beyoncé")
    assert all(hit["score"] < 1 for hit in body["data"])
    # Several words must all match, typos or not; private names stay private.
    assert hits(await search(client, viewers.user, "beyonse lemonade")) == []
    assert hits(await search(client, viewers.user, "secrit")) == []


async def test_search_refusals(client: httpx.AsyncClient, viewers: Any) -> None:
    assert (await client.get("/api/v1/search", params={"q": "a"})).status_code == 401
    refused = await get(client, viewers.outsider, "/search", q="beyonce")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    named = await get(client, viewers.outsider, "/search", q="beyonce", type="song")
    assert named.status_code == 403
    assert (await get(client, viewers.guest, "/search", q="beyonce")).status_code == 200
    for params in (
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 201},
        {"q": "a", "type": "podcast"},
        {"q": "a", "type": "song,podcast"},
        {"q": "a", "sort": "name"},
        {"q": "a", "limit": 201},
        {"q": "a", "offset": -1},
    ):
        response = await get(client, viewers.user, "/search", **params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "validation_error"
    unknown = await get(client, viewers.user, "/search", q="a", type="podcast")
    message = unknown.json()["error"]["details"][0]["message"]
    assert "artist, album, song, movie, tvshow, episode, person" in message


async def test_an_artist_without_songs_leaves_the_results(
    state: AppState, client: httpx.AsyncClient, viewers: Any
) -> None:
    assert ("artist", "Queen") in hits(await search(client, viewers.user, "queen"))
    await remove_song(state, viewers.catalogue.song("Don't Stop Me Now").id)
    assert hits(await search(client, viewers.admin, "queen")) == []


async def test_several_readable_libraries(
    state: AppState, client: httpx.AsyncClient, viewers: Any
) -> None:
    """A user reading some music libraries of several (and a movie library): only theirs."""
    extra = await create_library(state, "Extra")
    await create_library(state, "Films", kind=LibraryKind.movies)
    await create_song(state, extra, "Sigur Song", artists=["Sigur Rós"], album="Extra Album")
    await settle(state)
    found = hits(await search(client, viewers.user, "sigur"))
    assert ("song", "Sigur Song") in found and ("artist", "Sigur Rós") in found
    assert ("album", "Extra Album") in hits(await search(client, viewers.user, "extra"))
    assert hits(await search(client, viewers.user, "hidden")) == []
    albums = await get_ok(client, viewers.user, "/albums", limit=200)
    assert {album["title"] for album in albums["data"]} >= {"Extra Album", "Lemonade"}
    assert "Secret Sessions" not in {album["title"] for album in albums["data"]}
    artist = (await search(client, viewers.user, "sigur ros", type="artist"))["data"][0]
    assert artist["song_count"] == 2


async def test_the_fast_route_answers_as_the_documented_one(
    client: httpx.AsyncClient, viewers: Any
) -> None:
    """`/search` is served by a `kit.fastquery` route when its query is fully understood; an
    extra parameter sends the same request through FastAPI's route instead. Both answer alike,
    refusals included."""
    for params in (
        {"q": "beyonce"},
        {"q": "s", "type": "song,album", "page_size": 2, "page": 2},
        {"q": "s", "type": ["song", "artist"], "limit": 1, "offset": 1},
        {"q": "   "},
        {"q": "a", "sort": "name"},
        {"q": "a", "type": "movie"},
    ):
        fast = await get(client, viewers.user, "/search", **params)
        documented = await get(client, viewers.user, "/search", **params, unused="1")
        answers = [(r.status_code, {**r.json(), "request_id": None}) for r in (fast, documented)]
        assert answers[0] == answers[1], params
    outsider = await get(client, viewers.outsider, "/search", q="beyonce")
    assert outsider.status_code == 403
