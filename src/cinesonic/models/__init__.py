"""Every model, imported here so Alembic and the mapper registry see them all."""

from cinesonic.models.activity import Activity
from cinesonic.models.apikey import ApiKey
from cinesonic.models.auth import AuthSession, OneTimeToken, OneTimeTokenPurpose, RefreshToken
from cinesonic.models.base import Base
from cinesonic.models.capacity import CapacityStatus, LibraryRootCapacity
from cinesonic.models.image import Image, ImageKind
from cinesonic.models.importer import (
    FileMove,
    ImportAlbum,
    ImportItem,
    LibraryImportRule,
    QuarantineItem,
)
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.library import (
    Library,
    LibraryKind,
    LibraryPermission,
    LibraryRoot,
    LibraryScan,
    LibraryScanError,
    ScanStatus,
)
from cinesonic.models.metadata import MetadataCacheEntry
from cinesonic.models.music import (
    Album,
    Artist,
    Genre,
    LibraryArtist,
    Play,
    Song,
    SongArtist,
    SongGenre,
    SongLyrics,
    SongUserStat,
)
from cinesonic.models.playlist import Playlist, PlaylistItem
from cinesonic.models.search import SearchDocument
from cinesonic.models.setting import ServerSetting
from cinesonic.models.share import Share, ShareAccess, ShareItem
from cinesonic.models.user import Role, RolePermission, User, UserRole, UserStatus
from cinesonic.models.video import (
    Collection,
    Credit,
    CreditKind,
    Episode,
    MediaFile,
    MediaFileSource,
    Movie,
    MovieGenre,
    Network,
    Person,
    Season,
    ShowGenre,
    ShowNetwork,
    TvShow,
    VideoFile,
    VideoGenre,
    VideoHdr,
    WatchState,
)
from cinesonic.models.worker import WorkerProcess

__all__ = [
    "Activity",
    "Album",
    "ApiKey",
    "Artist",
    "AuthSession",
    "Base",
    "CapacityStatus",
    "Collection",
    "Credit",
    "CreditKind",
    "Episode",
    "FileMove",
    "Genre",
    "Image",
    "ImageKind",
    "ImportAlbum",
    "ImportItem",
    "Job",
    "JobStatus",
    "Library",
    "LibraryArtist",
    "LibraryImportRule",
    "LibraryKind",
    "LibraryPermission",
    "LibraryRoot",
    "LibraryRootCapacity",
    "LibraryScan",
    "LibraryScanError",
    "MediaFile",
    "MediaFileSource",
    "MetadataCacheEntry",
    "Movie",
    "MovieGenre",
    "Network",
    "OneTimeToken",
    "OneTimeTokenPurpose",
    "Person",
    "Play",
    "Playlist",
    "PlaylistItem",
    "QuarantineItem",
    "RefreshToken",
    "Role",
    "RolePermission",
    "ScanStatus",
    "SearchDocument",
    "Season",
    "ServerSetting",
    "Share",
    "ShareAccess",
    "ShareItem",
    "ShowGenre",
    "ShowNetwork",
    "Song",
    "SongArtist",
    "SongGenre",
    "SongLyrics",
    "SongUserStat",
    "TvShow",
    "User",
    "UserRole",
    "UserStatus",
    "VideoFile",
    "VideoGenre",
    "VideoHdr",
    "WatchState",
    "WorkerProcess",
]
