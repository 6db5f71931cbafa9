"""Reading one file: every format, multi-valued and missing tags, lyrics, pictures, bad files.

Real files, encoded by PyAV and tagged by mutagen (`tests/fixtures/audio.py`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mutagen
import pytest
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, SYLT, TXXX, USLT, Encoding
from mutagen.mp4 import MP4

from cinesonic.music import tags
from cinesonic.music.tags import TrackUnreadable, parse_lrc, read_track, split_artists
from tests.fixtures.audio import FORMATS, write_audio

MBID_A = "11111111-2222-3333-4444-555555555555"
MBID_ALBUM = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
MBID_RECORDING = "99999999-8888-7777-6666-555555555555"
EXPECTED = {
    # format → (format, codec, content type, lossless)
    "mp3": ("mp3", "mp3", "audio/mpeg", False),
    "flac": ("flac", "flac", "audio/flac", True),
    "ogg": ("ogg", "vorbis", "audio/ogg", False),
    "opus": ("opus", "opus", "audio/ogg", False),
    "m4a": ("m4a", "aac", "audio/mp4", False),
    "alac": ("m4a", "alac", "audio/mp4", True),
    "wav": ("wav", "pcm", "audio/wav", True),
    "aiff": ("aiff", "pcm", "audio/aiff", True),
    "wma": ("wma", "wma", "audio/x-ms-wma", False),
}


def read(path: Path, root: Path | None = None, sidecar: Path | None = None) -> tags.TrackInfo:
    return read_track(
        str(path), path.stat().st_size, str(root or path.parent), str(sidecar) if sidecar else None
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_gives_its_tags_and_stream_properties(tmp_path: Path, fmt: str) -> None:
    rich = fmt != "wma"  # the fixture writes WMA's standard attributes only
    values: dict[str, str | list[str]] = {
        "title": "Hyperballad",
        "artist": ["Björk", "Guest"],
        "album": "Post",
        "tracknumber": "3/12",
        "discnumber": "1/2",
        "date": "1995-06-13",
        "genre": ["Electronic", "Pop"],
        "albumartist": "Björk",
    }
    if rich:
        values.update(
            {
                "musicbrainz_albumid": MBID_ALBUM,
                "musicbrainz_trackid": MBID_RECORDING,
                "bpm": "128",
            }
        )
    path = write_audio(tmp_path / f"song.{FORMATS[fmt][2]}", fmt, seconds=1.0, tags=values)
    info = read(path)
    fmt_name, codec, content_type, lossless = EXPECTED[fmt]
    assert (info.format, info.codec, info.content_type) == (fmt_name, codec, content_type)
    assert info.title == "Hyperballad"
    assert info.artists == ["Björk", "Guest"]
    assert info.album_artist == "Björk"
    assert info.album == "Post"
    assert info.track_number == 3
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert info.sample_rate in (44100, 48000)
    assert info.channels == 2
    assert info.bit_rate and info.bit_rate > 0
    assert (info.bit_depth is not None) == lossless
    assert len(info.fingerprint) == 64
    if rich:
        assert (info.track_total, info.disc_number, info.disc_total) == (12, 1, 2)
        assert (info.date, info.year) == ("1995-06-13", 1995)
        assert info.genres == ["Electronic", "Pop"]
        assert info.mbz_album_id == MBID_ALBUM
        assert info.mbz_recording_id == MBID_RECORDING
        assert info.bpm == 128.0


def test_replaygain_compilation_and_musicbrainz_artist_ids_from_id3(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.mp3", "mp3", tags={"title": "T", "artist": ["A", "B"]})
    id3 = ID3(path)
    for desc, value in (
        ("REPLAYGAIN_TRACK_GAIN", "-6.54 dB"),
        ("REPLAYGAIN_TRACK_PEAK", "0.988"),
        ("REPLAYGAIN_ALBUM_GAIN", "-7.10 dB"),
        ("REPLAYGAIN_ALBUM_PEAK", "1.02"),
        ("MusicBrainz Artist Id", [MBID_A, MBID_RECORDING]),
        ("MusicBrainz Release Track Id", MBID_ALBUM),
    ):
        id3.add(TXXX(encoding=Encoding.UTF8, desc=desc, text=value))
    id3.add(mutagen.id3.TCMP(encoding=Encoding.UTF8, text="1"))
    id3.save(path)
    info = read(path)
    assert info.replaygain_track_gain == -6.54
    assert info.replaygain_track_peak == 0.988
    assert info.replaygain_album_gain == -7.10
    assert info.replaygain_album_peak == 1.02
    assert info.is_compilation is True
    assert info.mbz_artist_ids == [MBID_A, MBID_RECORDING]
    assert info.mbz_track_id == MBID_ALBUM


def test_vorbis_artists_tag_and_replaygain(tmp_path: Path) -> None:
    path = write_audio(
        tmp_path / "a.flac",
        "flac",
        tags={
            "title": "T",
            "artist": "A feat. B",
            "artists": ["A", "B"],
            "replaygain_track_gain": "+1.5 dB",
            "compilation": "1",
        },
    )
    info = read(path)
    assert info.artists == ["A", "B"]
    assert info.artist_display == "A feat. B"
    assert info.replaygain_track_gain == 1.5
    assert info.is_compilation is True


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Simon & Garfunkel"], ["Simon & Garfunkel"]),
        (["Earth, Wind & Fire"], ["Earth, Wind & Fire"]),
        (["AC/DC"], ["AC/DC"]),
        (["A; B;C"], ["A", "B", "C"]),
        (["A / B"], ["A", "B"]),
        (["A feat. B"], ["A", "B"]),
        (["A (feat. B)"], ["A", "B"]),
        (["A ft. B"], ["A", "B"]),
        (["A Featuring B & C"], ["A", "B & C"]),
        (["A", "a ", "B"], ["A", "B"]),
        (["Beyoncé", "BEYONCE"], ["Beyoncé"]),
    ],
)
def test_artists_split_only_on_unambiguous_separators(
    values: list[str], expected: list[str]
) -> None:
    assert split_artists(values) == expected


def test_genres_split_a_single_value(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.ogg", "ogg", tags={"title": "T", "genre": "Rock; Pop/Jazz"})
    assert read(path).genres == ["Rock", "Pop", "Jazz"]


def test_missing_tags_fall_back_to_folder_and_file_names(tmp_path: Path) -> None:
    root = tmp_path / "root"
    path = write_audio(root / "Portishead" / "Dummy" / "CD 2" / "07 - Roads.mp3", "mp3")
    info = read(path, root)
    assert info.title == "Roads"
    assert info.track_number == 7
    assert info.disc_number == 2
    assert info.album == "Dummy"
    assert info.artists == ["Portishead"]
    assert info.album_tagged is False


def test_a_file_directly_in_the_root_gets_unknown_album_and_artist(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "Loose Track.flac", "flac")
    info = read(path, tmp_path)
    assert (info.title, info.album, info.artists) == (
        "Loose Track",
        "Unknown Album",
        ["Unknown Artist"],
    )


def test_contradictory_and_garbled_values_are_dropped_not_trusted(tmp_path: Path) -> None:
    path = write_audio(
        tmp_path / "a.flac",
        "flac",
        tags={
            "title": "T",
            "artist": "A",
            "tracknumber": "5/3",
            "discnumber": "zero",
            "date": "2001-13-45",
            "bpm": "-3",
            "replaygain_track_gain": "loud",
            "musicbrainz_albumid": "not-a-uuid",
            "compilation": "maybe",
        },
    )
    info = read(path)
    assert (info.track_number, info.track_total) == (5, None)
    assert info.disc_number is None
    assert (info.date, info.year) == ("2001", 2001)
    assert info.bpm is None
    assert info.replaygain_track_gain is None
    assert info.mbz_album_id is None
    assert info.is_compilation is None


def test_id3_plain_and_synchronized_lyrics(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.mp3", "mp3", tags={"title": "T"})
    id3 = ID3(path)
    id3.add(USLT(encoding=Encoding.UTF8, lang="eng", desc="", text="Hello\nWorld"))
    id3.add(
        SYLT(
            encoding=Encoding.UTF8, lang="eng", format=2, type=1, text=[("Two", 2000), ("One", 500)]
        )
    )
    id3.add(APIC(encoding=Encoding.UTF8, mime="image/png", type=3, desc="", data=b"\x89PNG"))
    id3.save(path)
    info = read(path)
    plain = next(lyric for lyric in info.lyrics if not lyric.is_synced)
    synced = next(lyric for lyric in info.lyrics if lyric.is_synced)
    assert (plain.text, plain.language, plain.source) == ("Hello\nWorld", "eng", "embedded")
    assert synced.lines == [{"start_ms": 500, "text": "One"}, {"start_ms": 2000, "text": "Two"}]
    assert synced.text == "One\nTwo"
    assert info.has_picture is True


def test_vorbis_lyrics_in_lrc_form_are_synchronized(tmp_path: Path) -> None:
    path = write_audio(
        tmp_path / "a.opus", "opus", tags={"title": "T", "lyrics": "[00:01.50]First\n[00:03]Second"}
    )
    (lyrics,) = read(path).lyrics
    assert lyrics.is_synced
    assert lyrics.lines == [
        {"start_ms": 1500, "text": "First"},
        {"start_ms": 3000, "text": "Second"},
    ]


def test_mp4_lyrics_and_cover(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.m4a", "m4a", tags={"title": "T"})
    audio = MP4(path)
    audio["©lyr"] = ["Plain words"]
    audio["covr"] = [mutagen.mp4.MP4Cover(b"\xff\xd8\xff\xe0jpeg")]
    audio.save()
    info = read(path)
    assert [(lyric.text, lyric.is_synced) for lyric in info.lyrics] == [("Plain words", False)]
    assert info.has_picture
    assert tags.read_embedded_picture(str(path)) == b"\xff\xd8\xff\xe0jpeg"


def test_flac_picture_is_read_back(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.flac", "flac", tags={"title": "T"})
    audio = FLAC(path)
    picture = Picture()
    picture.type, picture.mime, picture.data = 3, "image/png", b"\x89PNG front"
    audio.add_picture(picture)
    audio.save()
    assert read(path).has_picture
    assert tags.read_embedded_picture(str(path)) == b"\x89PNG front"


def test_lrc_sidecar_with_offset_and_metadata(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", "wav", tags={"title": "T"})
    sidecar = tmp_path / "a.lrc"
    sidecar.write_text("[ar:Someone]\n[offset:+500]\n[00:02.00][00:04.00]Chorus\n[00:01.00]Verse\n")
    (lyrics,) = read(path, sidecar=sidecar).lyrics
    assert lyrics.source == "sidecar"
    assert lyrics.lines == [
        {"start_ms": 500, "text": "Verse"},
        {"start_ms": 1500, "text": "Chorus"},
        {"start_ms": 3500, "text": "Chorus"},
    ]


def test_parse_lrc_of_plain_text_is_not_synchronized() -> None:
    assert parse_lrc("just\nwords\n") == ("just\nwords", None)


def test_a_zero_byte_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp3"
    path.touch()
    with pytest.raises(TrackUnreadable) as caught:
        read_track(str(path), 0, str(tmp_path))
    assert caught.value.code == "empty"


def test_a_text_file_named_mp3_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("These are my notes, not music.\n" * 20)
    with pytest.raises(TrackUnreadable) as caught:
        read(path)
    assert caught.value.code == "not_audio"


def test_a_flac_cut_inside_its_header_is_corrupt(tmp_path: Path) -> None:
    whole = write_audio(tmp_path / "whole.flac", "flac", seconds=1.0)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[:30])
    with pytest.raises(TrackUnreadable) as caught:
        read(cut)
    assert caught.value.code == "corrupt"


def test_a_flac_cut_in_its_audio_is_still_indexed_from_its_header(tmp_path: Path) -> None:
    whole = write_audio(tmp_path / "whole.flac", "flac", seconds=2.0, tags={"title": "Half"})
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    info = read(cut)
    assert (info.title, info.format) == ("Half", "flac")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp3"
    os.mkfifo(fifo)
    with pytest.raises(TrackUnreadable) as caught:
        read_track(str(fifo), 1, str(tmp_path))
    assert caught.value.code == "unreadable"


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(TrackUnreadable) as caught:
        read_track(str(tmp_path / "gone.mp3"), 10, str(tmp_path))
    assert caught.value.code == "unreadable"


def test_pyav_reads_what_mutagen_cannot(tmp_path: Path) -> None:
    """An MP3 behind 3 KB of junk has no magic mutagen trusts; FFmpeg finds the stream."""
    mp3 = write_audio(tmp_path / "source.mp3", "mp3", seconds=1.0)
    odd = tmp_path / "Band" / "Record" / "02 - Odd.mp3"
    odd.parent.mkdir(parents=True)
    odd.write_bytes(b"\x00" * 3000 + mp3.read_bytes())
    info = read(odd, tmp_path)
    assert (info.format, info.codec) == ("mp3", "mp3")
    assert info.duration > 0.5
    assert (info.title, info.album, info.artists) == ("Odd", "Record", ["Band"])


def test_unreadable_result_crosses_a_process_boundary() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(TrackUnreadable("corrupt", "bad")))
    assert (error.code, error.message) == ("corrupt", "bad")


def test_read_many_reports_each_file(tmp_path: Path) -> None:
    good = write_audio(tmp_path / "good.ogg", "ogg", tags={"title": "Good"})
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"nothing")
    results = tags.read_many(
        [(str(good), good.stat().st_size, str(tmp_path), None), (str(bad), 7, str(tmp_path), None)]
    )
    assert isinstance(results[0], tags.TrackInfo) and results[0].title == "Good"
    assert isinstance(results[1], TrackUnreadable)


def test_fingerprint_ignores_the_name_and_sees_the_content(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.flac", "flac", seconds=3.0, tags={"title": "A"})
    copy = tmp_path / "elsewhere" / "b.flac"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)
    assert read(path).fingerprint == read(copy).fingerprint
    audio = FLAC(copy)
    audio["title"] = "B"
    audio.save()
    assert read(path).fingerprint != read(copy).fingerprint
