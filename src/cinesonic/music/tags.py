"""Reading one audio file: its tags, stream properties, lyrics, content fingerprint.

`read_track(path, size, root)` is a pure function of the file (and its `.lrc` sidecar): no
database, no event loop, safe to run in worker threads. It reads tags with mutagen (MP3, FLAC,
Ogg Vorbis/Opus/FLAC, M4A with AAC or ALAC, raw AAC, WAV, AIFF, WMA); when mutagen cannot read a
file, PyAV (FFmpeg) supplies the stream properties and whatever container tags it finds. A file
neither can read raises `TrackUnreadable` with a code the scan records (`empty`, `unreadable`,
`not_audio`, `corrupt`); it never raises anything else for bad input.

Decisions where tags are ambiguous (see the README's "Music libraries"):
- artists are multi-valued: an `ARTISTS` tag wins, else the artist tag's values; a single value
  is split on `;`, ` / ` and `feat.`/`ft.`/`featuring` only — never on `&`, `,` or a bare `/`
  ("Simon & Garfunkel", "Earth, Wind & Fire", "AC/DC" stay one artist);
- genres: a single value is split on `;`, `/` and `,` (as Navidrome does);
- missing title, album or artist fall back to the path: `Artist/Album/01 - Title.ext` below the
  library root (a `CD 2`/`Disc 2` folder gives the disc number and is skipped);
- contradictory numbers are dropped rather than trusted (track 5 of 3 keeps 5, loses the total).

It must never write to the file or hold it open.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any

import mutagen
from mutagen.id3 import ID3

from cinesonic.kit import text

AUDIO_EXTENSIONS = frozenset(
    {
        ".mp3",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".m4a",
        ".mp4",
        ".aac",
        ".alac",
        ".wav",
        ".aiff",
        ".aif",
        ".wma",
    }
)
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "wav": "audio/wav",
    "aiff": "audio/aiff",
    "wma": "audio/x-ms-wma",
}
LOSSLESS_CODECS = frozenset({"flac", "alac", "pcm", "wavpack", "ape"})
FINGERPRINT_BLOCK = 64 * 1024
MAX_SIDECAR_BYTES = 1024 * 1024
UNKNOWN_ARTIST = "Unknown Artist"
UNKNOWN_ALBUM = "Unknown Album"

# A scan folds the same few thousand names hundreds of thousands of times.
fold = functools.lru_cache(maxsize=8192)(text.fold)
sort_key = functools.lru_cache(maxsize=8192)(text.sort_key)


class TrackUnreadable(Exception):
    """A file that is not a readable audio file; `code` goes into the scan's error list."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[TrackUnreadable], tuple[str, str]]:
        return TrackUnreadable, (self.code, self.message)  # crosses process pools whole


@dataclass(slots=True)
class LyricsInfo:
    source: str  # embedded | sidecar
    text: str
    is_synced: bool = False
    language: str | None = None
    lines: list[dict[str, Any]] | None = None  # [{"start_ms": int, "text": str}]


@dataclass(slots=True)
class TrackInfo:
    """Everything the indexer needs about one file (tags already normalized)."""

    path: str
    size: int
    fingerprint: str
    format: str
    codec: str | None
    content_type: str
    duration: float = 0.0
    bit_rate: int | None = None
    sample_rate: int | None = None
    bit_depth: int | None = None
    channels: int | None = None
    title: str = ""
    title_sort: str | None = None
    artists: list[str] = field(default_factory=list)
    artist_display: str = ""
    artist_sort: str | None = None
    album_artist: str | None = None  # as tagged; None when the tag is missing
    album_artist_sort: str | None = None
    album: str = ""
    album_tagged: bool = False
    track_number: int | None = None
    track_total: int | None = None
    disc_number: int | None = None
    disc_total: int | None = None
    date: str | None = None
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    is_compilation: bool | None = None  # None: not tagged either way
    mbz_artist_ids: list[str] = field(default_factory=list)
    mbz_album_artist_id: str | None = None
    mbz_album_id: str | None = None
    mbz_recording_id: str | None = None
    mbz_track_id: str | None = None
    replaygain_track_gain: float | None = None
    replaygain_track_peak: float | None = None
    replaygain_album_gain: float | None = None
    replaygain_album_peak: float | None = None
    bpm: float | None = None
    lyrics: list[LyricsInfo] = field(default_factory=list)
    has_picture: bool = False


# ---------------------------------------------------------------- reading


def fingerprint_of(handle: Any, size: int) -> str:
    """SHA-256 of the size and the first and last 64 KiB: stable across renames and moves,
    cheap on any file size, and changed by any edit of tags or audio at either end."""
    digest = hashlib.sha256(size.to_bytes(8, "big"))
    digest.update(handle.read(FINGERPRINT_BLOCK))
    if size > FINGERPRINT_BLOCK:
        handle.seek(max(FINGERPRINT_BLOCK, size - FINGERPRINT_BLOCK))
        digest.update(handle.read(FINGERPRINT_BLOCK))
    return digest.hexdigest()


_MAGIC = (
    (0, b"ID3"),
    (0, b"fLaC"),
    (0, b"OggS"),
    (0, b"RIFF"),
    (0, b"FORM"),
    (4, b"ftyp"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),  # ASF header object
)


def _looks_like_audio(head: bytes) -> bool:
    if any(head[offset : offset + len(magic)] == magic for offset, magic in _MAGIC):
        return True
    # An MPEG audio or ADTS frame sync at the very start.
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def read_track(path: str, size: int, root: str, sidecar: str | None = None) -> TrackInfo:
    """Read `path` (a regular file of `size` bytes below `root`); raise `TrackUnreadable`."""
    if size == 0:
        raise TrackUnreadable("empty", "The file is empty (0 bytes).")
    try:
        # O_NONBLOCK: a file swapped for a FIFO since the walk must not hang the scan.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise TrackUnreadable(
                    "unreadable", "Not a regular file (a FIFO, device or socket)."
                )
            head = handle.read(64)
            handle.seek(0)
            fingerprint = fingerprint_of(handle, size)
    except OSError as exc:
        raise TrackUnreadable(
            "unreadable", f"Cannot read the file: {exc.strerror or exc}."
        ) from exc
    if not _looks_like_audio(head):
        # Still let FFmpeg try (raw formats without magic), but name the likely cause.
        info = _probe_with_av(path, size, fingerprint, not_audio=True)
    else:
        info = _read_with_mutagen(path, size, fingerprint, head)
    _fill_from_path(info, path, root)
    if sidecar is not None:
        lyrics = _read_sidecar(sidecar)
        if lyrics is not None:
            info.lyrics.append(lyrics)
    return info


ReadRequest = tuple[str, int, str, str | None]  # path, size, root, .lrc sidecar


def read_many(requests: list[ReadRequest]) -> list[TrackInfo | Exception]:
    """`read_track` over several files, each outcome a `TrackInfo` or the `TrackUnreadable`
    it raised. Several files per call: a process pool then pays one round trip per chunk (and
    its processes import this light module only)."""
    results: list[TrackInfo | Exception] = []
    for path, size, root, sidecar in requests:
        try:
            results.append(read_track(path, size, root, sidecar))
        except TrackUnreadable as exc:
            results.append(exc)
        except Exception as exc:
            message = f"The file could not be parsed: {exc!r}"[:1000]
            results.append(TrackUnreadable("corrupt", message))
    return results


def _mutagen_type(head: bytes) -> Any:
    """The mutagen class the magic bytes name (None: let `mutagen.File` probe every type).
    Probing imports and scores some twenty formats per file, a third of a file's cost."""
    from mutagen.aac import AAC
    from mutagen.aiff import AIFF
    from mutagen.asf import ASF
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        for marker, kind in ((b"OpusHead", OggOpus), (b"\x01vorbis", OggVorbis)):
            if marker in head:
                return kind
        return OggFLAC if b"\x7fFLAC" in head else None
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAVE
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    if head[4:8] == b"ftyp":
        return MP4
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return ASF
    if head.startswith(b"ID3"):
        return MP3
    if len(head) >= 2 and head[0] == 0xFF:
        return AAC if (head[1] & 0xF6) == 0xF0 else MP3
    return None


def _read_with_mutagen(path: str, size: int, fingerprint: str, head: bytes) -> TrackInfo:
    audio: Any = None
    kind = _mutagen_type(head)
    if kind is not None:
        with contextlib.suppress(Exception):
            audio = kind(path)
    if audio is None:
        try:
            audio = mutagen.File(path)
        except Exception:
            audio = None
    if audio is None or audio.info is None or not getattr(audio.info, "length", 0):
        return _probe_with_av(path, size, fingerprint, not_audio=False)
    kind = type(audio).__name__
    fmt, codec = _format_of(kind, audio.info)
    info = TrackInfo(
        path=path,
        size=size,
        fingerprint=fingerprint,
        format=fmt,
        codec=codec,
        content_type=CONTENT_TYPES.get(fmt, "application/octet-stream"),
    )
    _stream_properties(info, audio.info, size)
    if audio.tags is not None:
        raw, lyrics, has_picture = _raw_tags(audio)
        _apply_tags(info, raw)
        info.lyrics.extend(lyrics)
        info.has_picture = has_picture
    if kind == "FLAC" and getattr(audio, "pictures", None):
        info.has_picture = True
    return info


_FORMATS = {
    "MP3": ("mp3", "mp3"),
    "EasyMP3": ("mp3", "mp3"),
    "FLAC": ("flac", "flac"),
    "OggVorbis": ("ogg", "vorbis"),
    "OggFLAC": ("ogg", "flac"),
    "OggSpeex": ("ogg", "speex"),
    "OggOpus": ("opus", "opus"),
    "AAC": ("aac", "aac"),
    "WAVE": ("wav", "pcm"),
    "AIFF": ("aiff", "pcm"),
    "ASF": ("wma", "wma"),
}


def _format_of(kind: str, stream: Any) -> tuple[str, str | None]:
    if kind in ("MP4", "EasyMP4"):
        codec = str(getattr(stream, "codec", "") or "")
        if codec.startswith("mp4a"):
            return "m4a", "aac"
        return "m4a", codec or None
    return _FORMATS.get(kind, (kind.lower()[:16], None))


def _positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _stream_properties(info: TrackInfo, stream: Any, size: int) -> None:
    length = float(getattr(stream, "length", 0.0) or 0.0)
    info.duration = round(length, 3) if math.isfinite(length) and length > 0 else 0.0
    info.bit_rate = _positive_int(getattr(stream, "bitrate", None))
    if info.bit_rate is None and info.duration:
        info.bit_rate = int(size * 8 / info.duration)  # Ogg Vorbis often states no bitrate
    info.sample_rate = _positive_int(getattr(stream, "sample_rate", None))
    if info.sample_rate is None and info.format == "opus":
        info.sample_rate = 48000  # Opus always decodes at 48 kHz
    if info.codec in LOSSLESS_CODECS:  # lossy decoders report a nominal 16 bits: meaningless
        info.bit_depth = _positive_int(getattr(stream, "bits_per_sample", None))
    info.channels = _positive_int(getattr(stream, "channels", None))


def _probe_with_av(path: str, size: int, fingerprint: str, *, not_audio: bool) -> TrackInfo:
    """Stream properties (and container tags) from FFmpeg, for what mutagen cannot read."""
    import av

    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream: Any = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise TrackUnreadable("not_audio", "The file holds no audio stream.")
            duration = 0.0
            if container.duration:
                duration = container.duration / 1_000_000
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            if duration <= 0:
                raise TrackUnreadable("corrupt", "The audio stream has no duration.")
            codec_name = _av_codec(stream.codec_context.name)
            fmt = _av_format(container.format.name, codec_name)
            info = TrackInfo(
                path=path,
                size=size,
                fingerprint=fingerprint,
                format=fmt,
                codec=codec_name,
                content_type=CONTENT_TYPES.get(fmt, "application/octet-stream"),
                duration=round(duration, 3),
                bit_rate=_positive_int(stream.bit_rate or container.bit_rate),
                sample_rate=_positive_int(stream.sample_rate),
                channels=_positive_int(stream.channels),
            )
            tags: Raw = {}
            for key, value in [*container.metadata.items(), *stream.metadata.items()]:
                name = str(key).lower()
                _add(tags, _AV_NAMES.get(name, _VORBIS_ALIASES.get(name, name)), str(value))
    except TrackUnreadable:
        raise
    except Exception as exc:
        if not_audio:
            raise TrackUnreadable("not_audio", "The file is not an audio file.") from exc
        raise TrackUnreadable("corrupt", f"The audio file cannot be read: {exc}") from exc
    _apply_tags(info, tags)
    return info


def _av_codec(name: str) -> str:
    """FFmpeg decoder names in the vocabulary mutagen's formats use."""
    if name.startswith("pcm_"):
        return "pcm"
    if name.startswith("wma"):
        return "wma"
    return {"mp3float": "mp3", "libopus": "opus", "libvorbis": "vorbis"}.get(name, name)[:32]


_AV_NAMES = {"track": "tracknumber", "disc": "discnumber", "album_artist": "albumartist"}


def _av_format(container: str, codec: str) -> str:
    names = container.split(",")
    for candidate, fmt in (
        ("mp3", "mp3"),
        ("flac", "flac"),
        ("ogg", "ogg"),
        ("mov", "m4a"),
        ("mp4", "m4a"),
        ("aac", "aac"),
        ("wav", "wav"),
        ("aiff", "aiff"),
        ("asf", "wma"),
    ):
        if candidate in names:
            return "opus" if fmt == "ogg" and codec == "opus" else fmt
    return names[0][:16]


# ---------------------------------------------------------------- tag families → one vocabulary

# Canonical names are Vorbis comment names, lower case.
_ID3_TEXT = {
    "TIT2": "title",
    "TPE1": "artist",
    "TPE2": "albumartist",
    "TALB": "album",
    "TRCK": "tracknumber",
    "TPOS": "discnumber",
    "TDRC": "date",
    "TDOR": "originaldate",
    "TCMP": "compilation",
    "TBPM": "bpm",
    "TSOP": "artistsort",
    "TSO2": "albumartistsort",
    "TSOT": "titlesort",
}
_ID3_TXXX = {
    "musicbrainz artist id": "musicbrainz_artistid",
    "musicbrainz album id": "musicbrainz_albumid",
    "musicbrainz album artist id": "musicbrainz_albumartistid",
    "musicbrainz release track id": "musicbrainz_releasetrackid",
    "musicbrainz recording id": "musicbrainz_trackid",
    "artists": "artists",
    "replaygain_track_gain": "replaygain_track_gain",
    "replaygain_track_peak": "replaygain_track_peak",
    "replaygain_album_gain": "replaygain_album_gain",
    "replaygain_album_peak": "replaygain_album_peak",
}
_MP4_ATOMS = {
    "©nam": "title",
    "©ART": "artist",
    "aART": "albumartist",
    "©alb": "album",
    "©day": "date",
    "©gen": "genre",
    "soar": "artistsort",
    "soaa": "albumartistsort",
    "sonm": "titlesort",
}
_ASF_NAMES = {
    "title": "title",
    "author": "artist",
    "wm/albumartist": "albumartist",
    "wm/albumtitle": "album",
    "wm/tracknumber": "tracknumber",
    "wm/partofset": "discnumber",
    "wm/year": "date",
    "wm/genre": "genre",
    "wm/iscompilation": "compilation",
    "wm/beatsperminute": "bpm",
    "wm/artistsortorder": "artistsort",
    "wm/albumartistsortorder": "albumartistsort",
    "musicbrainz/artist id": "musicbrainz_artistid",
    "musicbrainz/album id": "musicbrainz_albumid",
    "musicbrainz/album artist id": "musicbrainz_albumartistid",
    "musicbrainz/track id": "musicbrainz_trackid",
    "musicbrainz/release track id": "musicbrainz_releasetrackid",
}
_VORBIS_ALIASES = {
    "album artist": "albumartist",
    "album_artist": "albumartist",
    "totaltracks": "tracktotal",
    "totaldiscs": "disctotal",
    "unsyncedlyrics": "lyrics",
    "unsynced lyrics": "lyrics",
    "year": "year",
}

Raw = dict[str, list[str]]


def _add(raw: Raw, key: str, values: Any) -> None:
    if not isinstance(values, list | tuple):
        values = [values]
    bucket = raw.setdefault(key, [])
    for value in values:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        text = text.replace("\x00", "").strip()
        if text:
            bucket.append(text)


def _raw_tags(audio: Any) -> tuple[Raw, list[LyricsInfo], bool]:
    tags = audio.tags
    if isinstance(tags, ID3):
        return _id3_tags(tags)
    kind = type(audio).__name__
    if kind in ("MP4", "EasyMP4"):
        return _mp4_tags(tags)
    if kind == "ASF":
        return _asf_tags(tags)
    return _vorbis_tags(tags)


def _id3_tags(tags: Any) -> tuple[Raw, list[LyricsInfo], bool]:
    raw: Raw = {}
    lyrics: list[LyricsInfo] = []
    has_picture = False
    for frame in tags.values():
        frame_id = frame.FrameID
        if frame_id in _ID3_TEXT:
            _add(raw, _ID3_TEXT[frame_id], [str(t) for t in frame.text])
        elif frame_id == "TCON":
            _add(raw, "genre", list(frame.genres))
        elif frame_id == "TXXX":
            key = _ID3_TXXX.get(frame.desc.lower())
            if key is not None:
                _add(raw, key, list(frame.text))
        elif frame_id == "UFID" and frame.owner == "http://musicbrainz.org":
            _add(raw, "musicbrainz_trackid", frame.data)
        elif frame_id == "RVA2" and frame.desc.lower() in ("track", "album"):
            which = frame.desc.lower()
            raw.setdefault(f"replaygain_{which}_gain", [f"{frame.gain}"])
            raw.setdefault(f"replaygain_{which}_peak", [f"{frame.peak}"])
        elif frame_id == "USLT" and str(frame.text).strip():
            lyrics.append(_lyrics_from_text(str(frame.text), "embedded", _language(frame.lang)))
        elif frame_id == "SYLT":
            synced = _lyrics_from_sylt(frame)
            if synced is not None:
                lyrics.append(synced)
        elif frame_id == "APIC":
            has_picture = True
    return raw, lyrics, has_picture


def _language(code: Any) -> str | None:
    text = str(code or "").strip().lower()
    return text if text and text not in ("xxx", "und", "zxx") else None


def _lyrics_from_sylt(frame: Any) -> LyricsInfo | None:
    if frame.format != 2:  # timestamps in MPEG frames, not milliseconds: keep the words only
        words = [str(text) for text, _ in frame.text if str(text).strip()]
        if not words:
            return None
        return LyricsInfo("embedded", "\n".join(words), language=_language(frame.lang))
    lines: list[dict[str, Any]] = [
        {"start_ms": int(time), "text": str(text).strip()}
        for text, time in frame.text
        if isinstance(time, int) and time >= 0
    ]
    if not lines:
        return None
    lines.sort(key=lambda line: line["start_ms"])
    return LyricsInfo(
        "embedded",
        "\n".join(line["text"] for line in lines),
        is_synced=True,
        language=_language(frame.lang),
        lines=lines,
    )


def _mp4_tags(tags: Any) -> tuple[Raw, list[LyricsInfo], bool]:
    raw: Raw = {}
    lyrics: list[LyricsInfo] = []
    for atom, values in tags.items():
        if atom in _MP4_ATOMS:
            _add(raw, _MP4_ATOMS[atom], list(values))
        elif atom in ("trkn", "disk"):
            number, total = [*values[0], 0, 0][:2] if values else (0, 0)
            name = "track" if atom == "trkn" else "disc"
            _add(raw, f"{name}number", str(number) if number else [])
            _add(raw, f"{name}total", str(total) if total else [])
        elif atom == "cpil":
            _add(raw, "compilation", "1" if values else "0")
        elif atom == "tmpo":
            _add(raw, "bpm", [str(v) for v in values])
        elif atom == "gnre":
            _add(raw, "genre", [_id1_genre(v) for v in values])
        elif atom == "©lyr":
            text = "\n".join(str(v) for v in values).strip()
            if text:
                lyrics.append(_lyrics_from_text(text, "embedded", None))
        elif atom.startswith("----:"):
            name = atom.split(":", 2)[-1].lower()
            key = _ID3_TXXX.get(name)
            if name == "musicbrainz track id":
                key = "musicbrainz_trackid"
            if key is not None:
                _add(raw, key, [bytes(v) for v in values])
    return raw, lyrics, bool(tags.get("covr"))


def _id1_genre(value: Any) -> str:
    from mutagen._constants import GENRES

    index = int(value) - 1  # iTunes numbers ID3v1 genres from 1
    return str(GENRES[index]) if 0 <= index < len(GENRES) else ""


def _asf_tags(tags: Any) -> tuple[Raw, list[LyricsInfo], bool]:
    raw: Raw = {}
    lyrics: list[LyricsInfo] = []
    has_picture = False
    for name, values in tags.items():
        lower = name.lower()
        plain = [getattr(v, "value", v) for v in values]
        if lower == "wm/picture":
            has_picture = True
        elif lower == "wm/lyrics":
            text = "\n".join(str(v) for v in plain).strip()
            if text:
                lyrics.append(_lyrics_from_text(text, "embedded", None))
        elif lower in _ASF_NAMES:
            if lower == "wm/iscompilation":
                plain = ["1" if v in (True, 1, "1", "true", "True") else "0" for v in plain]
            _add(raw, _ASF_NAMES[lower], plain)
        elif lower in _ID3_TXXX:
            _add(raw, _ID3_TXXX[lower], plain)
    return raw, lyrics, has_picture


def _vorbis_tags(tags: Any) -> tuple[Raw, list[LyricsInfo], bool]:
    raw: Raw = {}
    lyrics: list[LyricsInfo] = []
    has_picture = False
    for key, value in tags.items() if hasattr(tags, "items") else []:
        lower = key.lower()
        if lower in ("metadata_block_picture", "coverart"):
            has_picture = True
            continue
        if lower == "lyrics" or _VORBIS_ALIASES.get(lower) == "lyrics":
            for text in value if isinstance(value, list) else [value]:
                if str(text).strip():
                    lyrics.append(_lyrics_from_text(str(text), "embedded", None))
            continue
        _add(raw, _VORBIS_ALIASES.get(lower, lower), value)
    return raw, lyrics, has_picture


# ---------------------------------------------------------------- interpreting values

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DATE = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?")
_NUMBER = re.compile(r"^\s*0*(\d{1,6})\s*(?:(?:/|of)\s*0*(\d{1,6}))?")
_GAIN = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)")
_ARTIST_SPLIT = re.compile(r"\s*;\s*|\s+/\s+")
_FEATURING = re.compile(r"\s+[(\[]?(?:feat\.?|ft\.|featuring)\s+", re.IGNORECASE)
_GENRE_SPLIT = re.compile(r"\s*[;/,]\s*")


def _first(raw: Raw, *keys: str) -> str | None:
    for key in keys:
        values = raw.get(key)
        if values:
            return values[0]
    return None


def _numbers(value: str | None) -> tuple[int | None, int | None]:
    match = _NUMBER.match(value or "")
    if match is None:
        return None, None
    number = int(match.group(1)) or None
    total = int(match.group(2)) if match.group(2) else None
    return number, total or None


def _number_pair(raw: Raw, number_key: str, total_key: str) -> tuple[int | None, int | None]:
    number, total = _numbers(_first(raw, number_key))
    if total is None:
        total = _numbers(_first(raw, total_key))[0]
    if number is not None and total is not None and total < number:
        total = None  # contradictory: trust the number, not the total
    return number, total


def _date(raw: Raw) -> tuple[str | None, int | None]:
    for key in ("date", "year", "originaldate"):
        for value in raw.get(key, []):
            match = _DATE.match(value)
            if match is None:
                continue
            year = int(match.group(1))
            if not 1000 <= year <= 2999:
                continue
            month = int(match.group(2)) if match.group(2) else None
            day = int(match.group(3)) if match.group(3) else None
            if month is None or not 1 <= month <= 12:
                return f"{year:04}", year
            if day is None or not 1 <= day <= 31:
                return f"{year:04}-{month:02}", year
            return f"{year:04}-{month:02}-{day:02}", year
    return None, None


def _float(value: str | None, low: float, high: float) -> float | None:
    match = _GAIN.match(value or "")
    if match is None:
        return None
    number = float(match.group(1))
    return number if math.isfinite(number) and low <= number <= high else None


def _mbid(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    return text if _UUID.match(text) else None


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for name in names:
        name = name.strip()
        key = fold(name)
        if name and key not in seen:
            seen.add(key)
            result.append(name[:500])
    return result


def split_artists(values: list[str]) -> list[str]:
    """Several values are several artists; one value is split on unambiguous separators."""
    if len(values) != 1:
        return _unique(values)
    names: list[str] = []
    for part in _ARTIST_SPLIT.split(values[0]):
        pieces = _FEATURING.split(part)
        names.append(pieces[0])
        names.extend(piece.strip().rstrip(")]").strip() for piece in pieces[1:])
    return _unique(names)


def split_genres(values: list[str]) -> list[str]:
    if len(values) == 1:
        values = _GENRE_SPLIT.split(values[0])
    return [genre[:200] for genre in _unique(values)]


def _truthy(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n", ""):
        return False
    return None


def _apply_tags(info: TrackInfo, raw: Raw) -> None:
    info.title = (_first(raw, "title") or "")[:500]
    info.title_sort = _first(raw, "titlesort")
    artist_values = raw.get("artist", [])
    info.artists = split_artists(raw.get("artists") or artist_values)
    info.artist_display = ", ".join(artist_values)[:1000]
    info.artist_sort = _first(raw, "artistsort")
    album_artists = _unique(raw.get("albumartist", []))
    info.album_artist = album_artists[0] if album_artists else None
    info.album_artist_sort = _first(raw, "albumartistsort")
    album = _first(raw, "album")
    info.album = (album or "")[:500]
    info.album_tagged = album is not None
    info.track_number, info.track_total = _number_pair(raw, "tracknumber", "tracktotal")
    info.disc_number, info.disc_total = _number_pair(raw, "discnumber", "disctotal")
    info.date, info.year = _date(raw)
    info.genres = split_genres(raw.get("genre", []))
    info.is_compilation = _truthy(_first(raw, "compilation"))
    info.mbz_artist_ids = [m for m in map(_mbid, raw.get("musicbrainz_artistid", [])) if m]
    info.mbz_album_artist_id = _mbid(_first(raw, "musicbrainz_albumartistid"))
    info.mbz_album_id = _mbid(_first(raw, "musicbrainz_albumid"))
    info.mbz_recording_id = _mbid(_first(raw, "musicbrainz_trackid"))
    info.mbz_track_id = _mbid(_first(raw, "musicbrainz_releasetrackid"))
    info.replaygain_track_gain = _float(_first(raw, "replaygain_track_gain"), -100, 100)
    info.replaygain_track_peak = _float(_first(raw, "replaygain_track_peak"), 0, 100)
    info.replaygain_album_gain = _float(_first(raw, "replaygain_album_gain"), -100, 100)
    info.replaygain_album_peak = _float(_first(raw, "replaygain_album_peak"), 0, 100)
    info.bpm = _float(_first(raw, "bpm"), 1, 1000)


# ---------------------------------------------------------------- falling back to the path

_LEADING_NUMBER = re.compile(r"^\s*(\d{1,3})(?:\s*[-._)]\s*|\s+)(.+)$")
DISC_FOLDER = re.compile(r"^(?:cd|disc|disk)\s*[-_ ]?\s*(\d{1,3})$", re.IGNORECASE)


def _fill_from_path(info: TrackInfo, path: str, root: str) -> None:
    """Missing title, album, artist (and track/disc numbers) from `Artist/Album/01 - Title`."""
    prefix = root.rstrip(os.sep) + os.sep
    relative = path[len(prefix) :] if path.startswith(prefix) else os.path.basename(path)
    parts = relative.split(os.sep)
    stem = os.path.splitext(parts[-1])[0]
    folders = parts[:-1]
    if folders:
        disc = DISC_FOLDER.match(folders[-1])
        if disc is not None:
            folders = folders[:-1]
            if info.disc_number is None:
                info.disc_number = int(disc.group(1)) or None
    numbered = _LEADING_NUMBER.match(stem)
    if not info.title:
        info.title = (numbered.group(2) if numbered else stem).strip()[:500] or stem[:500]
    if info.track_number is None and numbered is not None:
        info.track_number = int(numbered.group(1)) or None
    if not info.album:
        info.album = folders[-1][:500] if folders else UNKNOWN_ALBUM
    if not info.artists:
        fallback = info.album_artist or (folders[-2] if len(folders) >= 2 else UNKNOWN_ARTIST)
        info.artists = [fallback[:500]]
    if not info.artist_display:
        info.artist_display = ", ".join(info.artists)[:1000]


# ---------------------------------------------------------------- lyrics

_LRC_TIME = re.compile(r"\[(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?\]")
_LRC_META = re.compile(r"^\[([a-z]+):(.*)\]\s*$", re.IGNORECASE)


def parse_lrc(text: str) -> tuple[str, list[dict[str, Any]] | None]:
    """(plain text, timed lines or None) of LRC or plain lyrics; `[offset:±ms]` is applied."""
    offset = 0
    timed: list[dict[str, Any]] = []
    plain: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        meta = _LRC_META.match(line)
        if meta is not None and not _LRC_TIME.match(line):
            if meta.group(1).lower() == "offset":
                with contextlib.suppress(ValueError):
                    offset = int(meta.group(2).strip())
            continue
        stamps = list(_LRC_TIME.finditer(line))
        if not stamps or stamps[0].start() != 0:
            plain.append(line.rstrip())
            continue
        words = line[stamps[-1].end() :].strip()
        for stamp in stamps:
            minutes, seconds = int(stamp.group(1)), int(stamp.group(2))
            fraction = stamp.group(3) or "0"
            millis = int(fraction.ljust(3, "0")[:3])
            timed.append({"start_ms": (minutes * 60 + seconds) * 1000 + millis, "text": words})
    if not timed:
        return "\n".join(plain).strip(), None
    # A positive LRC offset shows each line that many milliseconds earlier.
    for entry in timed:
        entry["start_ms"] = max(0, entry["start_ms"] - offset)
    timed.sort(key=lambda entry: entry["start_ms"])
    return "\n".join(entry["text"] for entry in timed).strip(), timed


def _lyrics_from_text(text: str, source: str, language: str | None) -> LyricsInfo:
    plain, lines = parse_lrc(text)
    return LyricsInfo(source, plain, is_synced=lines is not None, language=language, lines=lines)


def _read_sidecar(path: str) -> LyricsInfo | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SIDECAR_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_SIDECAR_BYTES:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if not text.strip():
        return None
    return _lyrics_from_text(text, "sidecar", None)


# ---------------------------------------------------------------- pictures


def read_embedded_picture(path: str) -> bytes | None:
    """The front cover embedded in `path` (else its first picture); None when there is none."""
    try:
        audio = mutagen.File(path)
    except Exception:
        return None
    if audio is None:
        return None
    pictures: list[tuple[int, bytes]] = []
    tags: Any = audio.tags
    if isinstance(tags, ID3):
        frames: Any = tags.getall("APIC")  # type: ignore[no-untyped-call]
        pictures = [(frame.type, bytes(frame.data)) for frame in frames]
    elif type(audio).__name__ in ("MP4", "EasyMP4") and tags is not None:
        pictures = [(3, bytes(cover)) for cover in tags.get("covr", [])]
    elif type(audio).__name__ == "ASF" and tags is not None:
        pictures = [_asf_picture(v.value) for v in tags.get("WM/Picture", [])]
    else:
        pictures = [(p.type, bytes(p.data)) for p in getattr(audio, "pictures", None) or []]
        if not pictures and tags is not None:
            pictures = _vorbis_pictures(tags)
    pictures = [(kind, data) for kind, data in pictures if data]
    if not pictures:
        return None
    fronts = [data for kind, data in pictures if kind == 3]
    return fronts[0] if fronts else pictures[0][1]


def _asf_picture(value: bytes) -> tuple[int, bytes]:
    # WM/Picture: type (1 byte), size (4), MIME (UTF-16 z-string), description (z-string), data.
    kind = value[0]
    index = 5
    for _ in range(2):
        while index + 1 < len(value) and value[index : index + 2] != b"\x00\x00":
            index += 2
        index += 2
    return kind, value[index:]


def _vorbis_pictures(tags: Any) -> list[tuple[int, bytes]]:
    import base64

    from mutagen.flac import Picture

    pictures: list[tuple[int, bytes]] = []
    for encoded in tags.get("metadata_block_picture", []):
        with contextlib.suppress(Exception):
            picture: Any = Picture(base64.b64decode(encoded))  # type: ignore[no-untyped-call]
            pictures.append((picture.type, bytes(picture.data)))
    return pictures
