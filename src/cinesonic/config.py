"""Settings: every knob of the server, read from `CINESONIC_*` environment variables.

An optional TOML file (`CINESONIC_CONFIG_FILE`, default `<data_dir>/cinesonic.toml`) supplies
values the environment does not set. The README's configuration table lists every field here;
keep the two in step.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# One rule in the `limits` notation: "20/minute", "5/15minutes", "100 per hour".
RATE_LIMIT_PATTERN = (
    r"(?i)^\s*[1-9][0-9]*\s*(/|per)\s*([1-9][0-9]*)?\s*(second|minute|hour|day|month|year)s?\s*$"
)
LOG_LEVEL_PATTERN = r"(?i)^(debug|info|warning|error|critical)$"


class _TomlSource(PydanticBaseSettingsSource):
    """Values from the TOML file, below environment variables in priority."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("CINESONIC_CONFIG_FILE")
        if path is None:
            data_dir = os.environ.get("CINESONIC_DATA_DIR", "data")
            path = str(Path(data_dir) / "cinesonic.toml")
        self._data: dict[str, Any] = {}
        if Path(path).is_file():
            with open(path, "rb") as handle:
                self._data = tomllib.load(handle)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {
            key: value for key, value in self._data.items() if key in self.settings_cls.model_fields
        }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CINESONIC_", extra="ignore")

    # Server
    data_dir: Path = Field(
        Path("data"), description="Where the database, keys, images and outbox live."
    )
    host: str = Field("127.0.0.1", description="Address `cinesonic serve` listens on.")
    port: int = Field(8000, description="Port `cinesonic serve` listens on.")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        pattern=r"^https?://",
        description="Base URL used in links sent by mail.",
    )
    log_level: str = Field(
        "info", pattern=LOG_LEVEL_PATTERN, description="Log level: debug, info, warning, error."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="`json` lines, `console` text, or `auto` (console on a TTY)."
    )
    # Storage
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default SQLite file `<data_dir>/cinesonic.db`. "
        "PostgreSQL: `postgresql+asyncpg://user@host/db`.",
    )
    redis_url: str | None = Field(
        None, description="Redis URL for events and rate-limit counters across replicas."
    )
    redis_prefix: str = Field(
        "cinesonic", description="Prefix of every Redis key and channel (share one Redis safely)."
    )
    database_pool_size: int = Field(10, description="Connection pool size (PostgreSQL).")
    sqlite_busy_timeout_ms: int = Field(5000, description="SQLite busy timeout in milliseconds.")
    # Security
    secret_key: SecretStr | None = Field(
        None,
        description="Signs JWTs and encrypts secrets at rest; generated into "
        "`<data_dir>/secret.key` on first start when unset.",
    )
    access_token_ttl_seconds: int = Field(900, ge=1, description="Lifetime of access JWTs.")
    refresh_token_ttl_days: int = Field(
        30, ge=1, description="Lifetime of refresh tokens (sessions)."
    )
    open_registration: bool = Field(
        True, description="Anyone may register; the first account becomes admin either way."
    )
    require_email_verification: bool = Field(
        False, description="New accounts must verify their email before signing in."
    )
    email_verification_ttl_hours: int = Field(
        48, ge=1, description="Lifetime of verification links."
    )
    password_reset_ttl_minutes: int = Field(
        30, ge=1, description="Lifetime of password reset links."
    )
    login_lockout_threshold: int = Field(
        5, ge=1, description="Failed logins in a row that lock an account."
    )
    login_lockout_minutes: int = Field(
        15, ge=1, description="First lock duration; doubles with each further lock, up to 24 h."
    )
    cookie_secure: bool = Field(
        False, description="Mark auth cookies `Secure` (set true behind HTTPS)."
    )
    cookie_samesite: Literal["lax", "strict", "none"] = Field(
        "lax", description="SameSite of the refresh-token cookie."
    )
    argon2_time_cost: int = Field(3, description="argon2id iterations.")
    argon2_memory_cost_kib: int = Field(65536, description="argon2id memory in KiB.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses whose `X-Forwarded-For` is trusted for the client IP.",
    )
    # Rate limits (limits' notation: "N/period")
    rate_limit_enabled: bool = Field(True, description="Enforce rate limits.")
    rate_limit_global: str = Field(
        "1000/15minutes", pattern=RATE_LIMIT_PATTERN, description="Per IP across the API [003]."
    )
    rate_limit_login: str = Field(
        "20/minute", pattern=RATE_LIMIT_PATTERN, description="Login attempts per IP."
    )
    rate_limit_auth_sensitive: str = Field(
        "5/15minutes",
        pattern=RATE_LIMIT_PATTERN,
        description="Forgot-password / resend-verification per IP.",
    )
    rate_limit_csrf: str = Field(
        "60/minute", pattern=RATE_LIMIT_PATTERN, description="`POST /csrf/token` per IP [003]."
    )
    rate_limit_admin: str = Field(
        "200/hour", pattern=RATE_LIMIT_PATTERN, description="Admin routes per user [003]."
    )
    rate_limit_plex_pin: str = Field(
        "10/5minutes", pattern=RATE_LIMIT_PATTERN, description="Plex sign-in PINs per IP [003]."
    )
    rate_limit_plex_status: str = Field(
        "30/minute", pattern=RATE_LIMIT_PATTERN, description="Plex PIN status checks per IP [003]."
    )
    rate_limit_media_search: str = Field(
        "100/hour", pattern=RATE_LIMIT_PATTERN, description="`GET /media/search` per user [003]."
    )
    rate_limit_media_request: str = Field(
        "10/hour", pattern=RATE_LIMIT_PATTERN, description="`POST /media/request` per user [003]."
    )
    rate_limit_youtube_download: str = Field(
        "5/hour", pattern=RATE_LIMIT_PATTERN, description="`POST /youtube/download` per user [003]."
    )
    rate_limit_plex_collections: str = Field(
        "5/hour", pattern=RATE_LIMIT_PATTERN, description="`POST /plex/collections` per user [003]."
    )
    rate_limit_scan: str = Field(
        "30/hour", pattern=RATE_LIMIT_PATTERN, description="Library scans started per user."
    )
    rate_limit_stream: str = Field(
        "600/minute",
        pattern=RATE_LIMIT_PATTERN,
        description="Song and video stream requests per user.",
    )
    rate_limit_search: str = Field(
        "120/minute", pattern=RATE_LIMIT_PATTERN, description="Library search requests per user."
    )
    rate_limit_share: str = Field(
        "120/minute",
        pattern=RATE_LIMIT_PATTERN,
        description="Public share-link requests (`/s/{token}…`) per IP.",
    )
    # Monitoring
    metrics_enabled: bool = Field(True, description="Serve Prometheus metrics at `/metrics`.")
    metrics_token: SecretStr | None = Field(
        None, description="When set, `/metrics` needs `Authorization: Bearer <token>`."
    )
    # Jobs
    worker_enabled: bool = Field(
        True, description="Run a job worker inside `cinesonic serve` (`--no-worker` turns it off)."
    )
    worker_concurrency: int = Field(4, ge=1, description="Jobs one worker runs at once.")
    worker_queues: list[str] = Field(
        default_factory=list, description="Queues the worker serves (empty: all)."
    )
    job_lease_seconds: float = Field(
        30.0, gt=0, description="A job whose worker stops heartbeating is retried after this."
    )
    job_retention_days: int = Field(
        30, ge=1, description="Finished jobs older than this are pruned (dead ones are kept)."
    )
    worker_heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        description="How often each worker refreshes its row in the `worker` table; health "
        "checks count a worker live while its last heartbeat is under 3× this old.",
    )
    # Health
    readiness_requires_worker: Literal["auto", "always", "never"] = Field(
        "auto",
        description="When `/readyz` needs a live worker: `auto` — only a process that runs one "
        "(its own must be live; `--no-worker` replicas just report workers), `always` — "
        "also some live worker anywhere, `never` — report only.",
    )
    health_check_timeout_seconds: float = Field(
        2.0, gt=0, description="Time each dependency check of `/api/v1/health` may take."
    )
    health_cache_seconds: float = Field(
        5.0, ge=0, description="How long one `/api/v1/health` report is reused (0: never)."
    )
    health_min_free_disk_mb: int = Field(
        1024,
        ge=0,
        description="Free space on the data directory's disk below which "
        "`/api/v1/health` reports the disk degraded.",
    )
    # Result caches
    result_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="Longest a browse page, search answer or library scope is reused; it is "
        "dropped sooner, on every replica, when a table it read is written (0: never reused).",
    )
    result_cache_entries: int = Field(
        4096, ge=1, description="Browse pages and search answers one server process keeps."
    )
    # Music library scans
    scan_processes: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes reading tags during a library scan; 0 reads them in threads of "
        "the server process (faster unless cores sit idle).",
    )
    scan_video_processes: int = Field(
        2,
        ge=0,
        le=64,
        description="Processes reading video files (name parsing and container probes) during "
        "a movie or TV library scan; 0 reads them in threads of the server process.",
    )
    scan_threads: int = Field(
        4, ge=1, le=64, description="Threads reading files and cover art during a library scan."
    )
    scan_batch_size: int = Field(
        500,
        ge=1,
        le=10_000,
        description="Files a scan writes per transaction; a scan stopped half-way resumes "
        "after its last batch.",
    )
    scan_cover_max_side: int = Field(
        1200, ge=64, le=4096, description="Album art found by scans is stored at most this wide."
    )
    scan_watch_quiet_seconds: float = Field(
        10.0,
        gt=0,
        description="A library that watches for changes is scanned once its folders have been "
        "quiet this long.",
    )
    # Import pipeline (inbound → staging → library)
    import_inbound_dir: Path | None = Field(
        None,
        description="Where new music arrives (a ripper's, Picard's or a download's output); "
        "default `<data_dir>/inbound`, created on first use.",
    )
    import_staging_dir: Path | None = Field(
        None,
        description="Where processed albums wait for review; default `<data_dir>/staging`.",
    )
    import_quarantine_dir: Path | None = Field(
        None,
        description="Where files that failed a check are kept (`<reason>/<date>/`); default "
        "`<data_dir>/quarantine`.",
    )
    import_path_template: str = Field(
        "{album_artist}/{year} - {album}/{disc}-{track:02} - {title}.{ext}",
        min_length=5,
        max_length=1000,
        description="Where a file goes below a library root. Fields: `album_artist`, `artist`, "
        "`album`, `year`, `disc`, `track`, `title`, `genre`, `ext`; every folder and file name "
        "is made safe for every filesystem.",
    )
    import_duplicate_policy: Literal["quarantine", "keep_both", "replace"] = Field(
        "quarantine",
        description="A file already in a library (same content, or same album artist, album, "
        "disc and track) or already staged: `quarantine` it, `keep_both`, or `replace` the "
        "library's file (which goes to quarantine as `duplicate`, never deleted).",
    )
    # Disk capacity of library roots
    capacity_probe_interval_minutes: int = Field(
        10,
        ge=1,
        le=1440,
        description="How often the disk usage of each library root is probed (`capacity.probe` "
        "runs every minute and probes the roots due).",
    )
    capacity_warning_percent: int = Field(
        80,
        ge=1,
        le=99,
        description="A library root whose disk is at least this full is at `warning`.",
    )
    capacity_alert_percent: int = Field(
        90,
        ge=2,
        le=100,
        description="A library root whose disk is at least this full is at `alert`: nothing is "
        "promoted into its library (`disk_full`). Must be above the warning threshold.",
    )
    # Request limits
    max_json_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest JSON body accepted (413)."
    )
    # Mail
    smtp_host: str | None = Field(None, description="SMTP server; unset writes mail to the outbox.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        "starttls", description="`none`, `starttls`, or implicit `tls`."
    )
    smtp_user: str | None = Field(None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    mail_from: str = Field("cinesonic <noreply@localhost>", description="Sender of mail.")
    # Music streaming
    transcode_max_concurrent: int = Field(
        4, ge=1, description="ffmpeg transcodes one server process runs at once."
    )
    transcode_queue_seconds: float = Field(
        5.0,
        ge=0,
        description="How long a transcode waits for a free slot before a 503 `transcode_busy`.",
    )
    transcode_cache_max_bytes: int = Field(
        1_073_741_824,
        ge=0,
        description="Size of the transcode cache under `<data_dir>/cache/transcode` "
        "(least recently used entries go first); 0 turns the cache off.",
    )
    play_threshold_percent: int = Field(
        50,
        ge=1,
        le=100,
        description="A stream counts as a play once this share of the song was sent…",
    )
    play_threshold_seconds: int = Field(
        240, ge=1, description="…or this many seconds of it, whichever is less (Last.fm's rule)."
    )
    watched_threshold_percent: int = Field(
        90,
        ge=1,
        le=100,
        description="A movie or episode counts as watched once the reported position reaches "
        "this share of its duration.",
    )

    # Metadata providers (TMDb)
    tmdb_api_key: SecretStr | None = Field(
        None,
        description="TMDb API key (v3 key, or v4 read access token sent as a bearer token); "
        "unset: metadata look-ups answer 503 `provider_unavailable` (scans do not need it).",
    )
    tmdb_language: str = Field(
        "en-US",
        pattern=r"^[a-z]{2}(-[A-Z]{2})?$",
        description="Language of titles and overviews fetched from TMDb (ISO 639-1, "
        "optionally with a region: `en-US`, `pt-BR`).",
    )
    tmdb_base_url: str = Field(
        "https://api.themoviedb.org/3",
        pattern=r"^https?://",
        description="Base URL of the TMDb v3 API.",
    )
    tmdb_image_base_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Base URL of TMDb's images (`…/t/p/`); unset: the one TMDb's "
        "`/configuration` names.",
    )
    tmdb_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Time one request to TMDb may take."
    )
    tmdb_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of a TMDb request that failed to connect, answered 5xx or 429.",
    )
    tmdb_retry_backoff_seconds: float = Field(
        0.5,
        ge=0,
        le=60,
        description="Wait before the first retry of a failed TMDb request; doubles each retry.",
    )
    tmdb_retry_after_max_seconds: float = Field(
        10.0,
        ge=0,
        le=300,
        description="Longest wait honoured from a TMDb 429's `Retry-After` before retrying.",
    )
    metadata_cache_ttl_hours: int = Field(
        168,
        ge=0,
        le=8760,
        description="How long provider details (movies, shows, seasons, episodes, "
        "configuration) are kept in the `metadata_cache` table (0: not kept).",
    )
    metadata_search_cache_ttl_hours: int = Field(
        24,
        ge=0,
        le=8760,
        description="How long provider search results are kept in the `metadata_cache` table "
        "(0: not kept).",
    )
    metadata_match_threshold: float = Field(
        0.75,
        ge=0,
        le=1,
        description="Confidence (0–1) a provider result needs to be taken as the match of a "
        "scanned title.",
    )

    @model_validator(mode="after")
    def _check_capacity_thresholds(self) -> Settings:
        if self.capacity_alert_percent <= self.capacity_warning_percent:
            raise ValueError(
                "capacity_alert_percent must be above capacity_warning_percent "
                f"({self.capacity_alert_percent} <= {self.capacity_warning_percent})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls), file_secret_settings)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cinesonic.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    def prepare_data_dir(self) -> None:
        """Create the data directory and the secret key file on first start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.outbox_dir.mkdir(exist_ok=True)
        if self.secret_key is None:
            key_file = self.data_dir / "secret.key"
            if not key_file.exists():
                self._write_key_once(key_file)
            self.secret_key = SecretStr(key_file.read_text().strip())

    @staticmethod
    def _write_key_once(key_file: Path) -> None:
        """Publish a complete key file atomically: a process starting at the same moment
        (`serve` beside `worker`) sees no file or the whole key — never an empty one — and
        the first link wins."""
        draft = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(draft, key_file)
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links: rename, still all or nothing
                os.replace(draft, key_file)
        finally:
            draft.unlink(missing_ok=True)

    @property
    def signing_key(self) -> str:
        if self.secret_key is None:
            raise RuntimeError("Settings.prepare_data_dir() must run before keys are used")
        return self.secret_key.get_secret_value()
