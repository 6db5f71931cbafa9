"""Scanning real video files: naming patterns, versions, extras, subtitles, artwork, errors,
incremental rescans, moves and removals."""

from __future__ import annotations

import os
import shutil

import pytest

from cinesonic.library.scanner import Scanner
from cinesonic.library.tasks import scanner_for
from cinesonic.models.image import Image
from cinesonic.models.library import LibraryKind
from cinesonic.state import AppState
from cinesonic.video.scanner import VideoScanner
from tests.fixtures.video import VideoSeeds
from tests.video.helpers import (
    Episode,
    Movie,
    Season,
    TvShow,
    file_at,
    jpeg,
    links_of,
    rows,
    scan,
    scan_errors,
    video_library,
)

pytestmark = pytest.mark.usefixtures("app")


async def test_movie_names_versions_extras_subtitles_artwork_and_errors(
    state: AppState, seeds: VideoSeeds
) -> None:
    library, root = await video_library(state, "Movies", LibraryKind.movies)
    low = seeds.place(root, "Inception (2010)/Inception (2010) - 1080p.mkv")
    high = seeds.place(root, "Inception (2010)/Inception (2010) - 2160p.mp4", "mp4")
    (root / "Inception (2010)/Inception (2010) - 1080p.en.srt").write_text("1\n")
    (root / "Inception (2010)/Inception (2010) - 1080p.de.forced.ass").write_text("x")
    (root / "Inception (2010)/Inception (2010) - 2160p.vtt").write_text("WEBVTT\n")
    (root / "Inception (2010)/poster.jpg").write_bytes(jpeg((200, 10, 10)))
    (root / "Inception (2010)/fanart.jpg").write_bytes(jpeg((10, 200, 10)))
    seeds.place(root, "Inception (2010)/Extras/Making of.mkv")
    seeds.place(root, "Inception (2010)/Inception (2010)-trailer.mkv")
    seeds.place(root, "Samples/clip-sample.mkv")
    release = seeds.place(root, "Movie.Name.2012.1080p.BluRay.x264.webm", "webm")
    old = seeds.place(root, "Metropolis (1927)/Metropolis (1927).mkv", "mpeg4")
    odd = seeds.place(root, "___.mkv")
    shutil.copyfile(seeds.corrupt(), root / "Broken (2001).mkv")

    result = await scan(state, library.id)

    assert (result["added"], result["failed"], result["files_seen"]) == (5, 1, 6)
    assert await scan_errors(state, result["scan_id"]) == {"Broken (2001).mkv": "corrupt"}
    movies = {(m.title, m.year): m for m in await rows(state, Movie, Movie.sort_title)}
    assert set(movies) == {
        ("Inception", 2010),
        ("Movie Name", 2012),
        ("Metropolis", 1927),
        ("___", None),
    }
    inception = movies[("Inception", 2010)]
    first, second = await file_at(state, low), await file_at(state, high)
    assert [link.movie_id for link in await links_of(state, first.id)] == [inception.id]
    assert [link.movie_id for link in await links_of(state, second.id)] == [inception.id]
    assert (first.container, first.video_codec, first.width, first.height) == (
        "mkv",
        "h264",
        64,
        48,
    )
    assert second.container == "mp4" and first.hdr == "none"
    assert first.duration_seconds and 0.3 < first.duration_seconds < 1.5
    assert first.audio_streams == [
        {"index": 1, "codec": "aac", "language": "eng", "channels": 1, "title": None}
    ]
    assert sorted((s["language"], s["format"], s["forced"]) for s in first.sidecar_subtitles) == [
        ("de", "ass", True),
        ("en", "srt", False),
    ]
    assert [(s["language"], s["format"]) for s in second.sidecar_subtitles] == [(None, "vtt")]
    assert first.parsed["screen_size"] == "1080p" and not first.needs_review
    assert inception.poster_image_id and inception.backdrop_image_id
    assert inception.poster_image_id != inception.backdrop_image_id
    assert len(await rows(state, Image, Image.id)) == 2
    webm = await file_at(state, release)
    assert (webm.container, webm.video_codec) == ("webm", "vp8")
    assert (await file_at(state, old)).video_codec == "mpeg4"
    unparsed = await file_at(state, odd)
    assert unparsed.needs_review and unparsed.review_reason
    assert movies[("Movie Name", 2012)].poster_image_id is None  # art at the root is no one's


async def test_tv_names_multi_episode_specials_and_dates(
    state: AppState, seeds: VideoSeeds
) -> None:
    library, root = await video_library(state, "TV", LibraryKind.tvshows)
    single = seeds.place(root, "Show (2019)/Season 01/Show - S01E02 - The Title.mkv")
    double = seeds.place(root, "Show (2019)/Season 01/Show.S01E03E04.mkv")
    special = seeds.place(root, "Show (2019)/Season 00/Show - S00E01.mkv")
    daily = seeds.place(root, "Daily News/Daily.News.2024.03.05.mkv")
    loose = seeds.place(root, "Daily News/behind the news.mkv")
    (root / "Show (2019)/poster.jpg").write_bytes(jpeg((1, 2, 200)))
    (root / "Show (2019)/Season 01/poster.jpg").write_bytes(jpeg((90, 2, 200)))

    result = await scan(state, library.id)

    assert (result["added"], result["failed"]) == (5, 0)
    shows = {s.title: s for s in await rows(state, TvShow, TvShow.title)}
    assert set(shows) == {"Show", "Daily News"}
    assert shows["Show"].year == 2019 and shows["Show"].poster_image_id is not None
    seasons = {(s.show_id, s.number): s for s in await rows(state, Season, Season.number)}
    assert seasons[(shows["Show"].id, 1)].poster_image_id is not None
    assert seasons[(shows["Show"].id, 0)].title == "Specials"
    episodes = await rows(state, Episode, Episode.season_number, Episode.episode_number)
    by_number = {(e.show_id, e.season_number, e.episode_number): e for e in episodes}
    show_id = shows["Show"].id
    assert by_number[(show_id, 1, 2)].title == "The Title"
    assert {(show_id, 1, 3), (show_id, 1, 4), (show_id, 0, 1)} <= set(by_number)
    two = await links_of(state, (await file_at(state, double)).id)
    assert sorted(by_number[(show_id, 1, n)].id for n in (3, 4)) == sorted(
        link.episode_id for link in two
    )
    assert len(await links_of(state, (await file_at(state, single)).id)) == 1
    assert len(await links_of(state, (await file_at(state, special)).id)) == 1
    dated = [e for e in episodes if e.show_id == shows["Daily News"].id and e.air_date]
    assert [(e.season_number, e.episode_number, str(e.air_date)) for e in dated] == [
        (2024, None, "2024-03-05")
    ]
    assert [link.episode_id for link in await links_of(state, (await file_at(state, daily)).id)]
    review = await file_at(state, loose)
    assert review.needs_review and review.review_reason


async def test_rescans_skip_unchanged_keep_moved_files_and_mark_removed(
    state: AppState, seeds: VideoSeeds
) -> None:
    library, root = await video_library(state, "Movies", LibraryKind.movies)
    for year in range(2001, 2007):
        seeds.place(root, f"Film {year} ({year})/Film {year} ({year}).mkv")
    first = await scan(state, library.id)
    assert (first["added"], first["unchanged"]) == (6, 0)

    again = await scan(state, library.id)
    assert (again["added"], again["updated"], again["unchanged"], again["removed"]) == (0, 0, 6, 0)

    source = root / "Film 2001 (2001)/Film 2001 (2001).mkv"
    before = await file_at(state, source)
    links = await links_of(state, before.id)
    target = root / "Moved/Film 2001 (2001).mkv"
    target.parent.mkdir()
    os.rename(source, target)
    (root / "Film 2002 (2002)/Film 2002 (2002).mkv").unlink()
    changed = root / "Film 2003 (2003)/Film 2003 (2003).mkv"
    with changed.open("ab") as handle:
        handle.write(b"more bytes")
    moved = await scan(state, library.id)
    assert (moved["moved"], moved["removed"], moved["updated"], moved["added"]) == (1, 1, 1, 0)
    after = await file_at(state, target)
    assert after.id == before.id and after.removed_at is None
    assert [link.id for link in await links_of(state, after.id)] == [link.id for link in links]
    gone = await file_at(state, root / "Film 2002 (2002)/Film 2002 (2002).mkv")
    assert gone.removed_at is not None
    assert (await file_at(state, changed)).size_bytes == changed.stat().st_size

    full = await scan(state, library.id, full=True)
    assert (full["unchanged"], full["added"], full["failed"]) == (5, 0, 0)
    assert len(await rows(state, Movie, Movie.id)) == 6  # the removed file's movie stays


@pytest.mark.parametrize("settings_overrides", [{"scan_video_processes": 1, "scan_batch_size": 50}])
async def test_files_are_read_in_a_process_pool(state: AppState, seeds: VideoSeeds) -> None:
    library, root = await video_library(state, "TV", LibraryKind.tvshows)
    for number in range(1, 4):
        seeds.place(root, f"Pool/Season 01/Pool - S01E{number:02}.mkv")
    shutil.copyfile(seeds.corrupt(), root / "Pool/Season 01/Pool - S01E09.mkv")
    result = await scan(state, library.id)
    assert (result["added"], result["failed"]) == (3, 1)
    assert len(await rows(state, Episode, Episode.id)) == 3


def test_scans_dispatch_by_library_kind() -> None:
    assert scanner_for(LibraryKind.music) is Scanner
    assert scanner_for(LibraryKind.movies) is VideoScanner
    assert scanner_for(LibraryKind.tvshows) is VideoScanner


@pytest.mark.parametrize("settings_overrides", [{"scan_video_processes": 0, "scan_batch_size": 2}])
async def test_a_batch_adding_a_season_of_a_known_show_and_a_new_show_writes_parents_first(
    state: AppState, seeds: VideoSeeds
) -> None:
    """Batch 2 holds a new season of the show batch 1 made, then a new show and its season:
    rows go in parents first whatever order the batch met them in."""
    library, root = await video_library(state, "TV", LibraryKind.tvshows)
    for relative in (
        "Alpha/Season 01/Alpha - S01E01.mkv",
        "Alpha/Season 01/Alpha - S01E02.mkv",
        "Alpha/Season 02/Alpha - S02E01.mkv",
        "Beta/Season 01/Beta - S01E01.mkv",
    ):
        seeds.place(root, relative)
    result = await scan(state, library.id)
    assert (result["added"], result["failed"]) == (4, 0)
    assert len(await rows(state, Season, Season.id)) == 3
    assert len(await rows(state, Episode, Episode.id)) == 4
