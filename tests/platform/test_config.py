"""Settings: environment over the TOML file over defaults, and the data directory's first start."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from cinesonic.config import Settings


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No `CINESONIC_*` setting from the outside; returns where the TOML file goes."""
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"CINESONIC_{name.upper()}", raising=False)
    config_file = tmp_path / "cinesonic.toml"
    monkeypatch.setenv("CINESONIC_CONFIG_FILE", str(config_file))
    return config_file


def test_toml_file_supplies_unset_values(clean_environment: Path) -> None:
    clean_environment.write_text('port = 9123\nrate_limit_global = "7/minute"\n')
    settings = Settings()
    assert settings.port == 9123
    assert settings.rate_limit_global == "7/minute"


def test_environment_wins_over_the_toml_file(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_environment.write_text("port = 9123\n")
    monkeypatch.setenv("CINESONIC_PORT", "9555")
    assert Settings().port == 9555


def test_unknown_keys_in_the_toml_file_are_ignored(clean_environment: Path) -> None:
    clean_environment.write_text('not_a_setting = 1\nhost = "0.0.0.0"\n')
    assert Settings().host == "0.0.0.0"


def test_toml_file_defaults_to_the_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_environment: Path
) -> None:
    monkeypatch.delenv("CINESONIC_CONFIG_FILE")
    monkeypatch.setenv("CINESONIC_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cinesonic.toml").write_text("port = 9321\n")
    assert Settings().port == 9321


def test_list_settings_are_read_from_json_in_the_environment(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CINESONIC_TRUSTED_PROXIES", '["10.0.0.0/8", "::1"]')
    assert Settings().trusted_proxies == ["10.0.0.0/8", "::1"]


def test_default_database_is_sqlite_in_the_data_directory(
    clean_environment: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'd'}/cinesonic.db"
    assert settings.is_sqlite


def test_configured_database_is_used_as_given(clean_environment: Path) -> None:
    settings = Settings(database_url="postgresql+asyncpg://u@db/cinesonic")
    assert settings.resolved_database_url == "postgresql+asyncpg://u@db/cinesonic"
    assert not settings.is_sqlite


def test_first_start_creates_a_private_secret_key(clean_environment: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh")
    settings.prepare_data_dir()
    key_file = tmp_path / "fresh" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings.signing_key == key_file.read_text().strip()
    assert len(settings.signing_key) >= 64
    assert (tmp_path / "fresh" / "outbox").is_dir()


def test_later_starts_reuse_the_secret_key(clean_environment: Path, tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "d")
    first.prepare_data_dir()
    second = Settings(data_dir=tmp_path / "d")
    second.prepare_data_dir()
    assert first.signing_key == second.signing_key


def test_configured_secret_key_is_not_written_to_disk(
    clean_environment: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "d", secret_key="given-secret")  # type: ignore[arg-type]
    settings.prepare_data_dir()
    assert settings.signing_key == "given-secret"
    assert not (tmp_path / "d" / "secret.key").exists()


def start_together(starters: list[Settings]) -> list[BaseException]:
    """Run `prepare_data_dir` of every settings object at once, one thread each."""
    barrier = threading.Barrier(len(starters))
    errors: list[BaseException] = []

    def start(settings: Settings) -> None:
        barrier.wait()
        try:
            settings.prepare_data_dir()
        except BaseException as error:  # collected, asserted by the caller
            errors.append(error)

    threads = [threading.Thread(target=start, args=(s,)) for s in starters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_processes_starting_together_agree_on_one_secret_key(
    clean_environment: Path, tmp_path: Path
) -> None:
    # `serve` and `worker` may start at the same moment on a fresh data directory.
    for attempt in range(20):
        starters = [Settings(data_dir=tmp_path / f"race{attempt}") for _ in range(8)]
        assert start_together(starters) == []
        keys = {settings.signing_key for settings in starters}
        assert len(keys) == 1
        assert len(keys.pop()) >= 64
