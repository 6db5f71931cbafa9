"""`cinesonic migrate`: applies the migrations and says where the database stands."""

from __future__ import annotations

from cinesonic.config import Settings
from cinesonic.migrations.runner import head_revision
from tests.cli.harness import invoke


async def test_migrate_brings_an_empty_database_to_the_latest_revision(settings: Settings) -> None:
    result = await invoke(settings, "migrate")

    assert result.exit_code == 0, result.output
    assert f"migrated from empty to revision {head_revision()}" in result.stdout


async def test_migrate_on_a_current_database_applies_nothing(settings: Settings) -> None:
    await invoke(settings, "migrate")

    result = await invoke(settings, "migrate")

    assert result.exit_code == 0, result.output
    assert f"already at revision {head_revision()}; nothing to apply" in result.stdout


async def test_migrate_check_fails_on_an_empty_database(settings: Settings) -> None:
    result = await invoke(settings, "migrate", "--check")

    assert result.exit_code == 1
    assert "none (empty database)" in result.stderr
    assert "run `cinesonic migrate`" in result.stderr


async def test_migrate_check_creates_nothing(settings: Settings) -> None:
    await invoke(settings, "migrate", "--check")

    assert not settings.data_dir.exists()


async def test_migrate_check_passes_on_a_migrated_database(settings: Settings) -> None:
    await invoke(settings, "migrate")

    result = await invoke(settings, "migrate", "--check")

    assert result.exit_code == 0, result.output
    assert f"latest revision ({head_revision()})" in result.stdout


async def test_migrate_to_an_earlier_revision_reports_it_is_behind(settings: Settings) -> None:
    result = await invoke(settings, "migrate", "--revision", "0001")

    assert result.exit_code == 0, result.output
    assert "migrated from empty to revision 0001" in result.stdout
    assert f"The latest revision is {head_revision()}." in result.stdout


async def test_migrate_to_an_unknown_revision_is_a_clean_error(settings: Settings) -> None:
    result = await invoke(settings, "migrate", "--revision", "nope")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "'nope'" in result.stderr
    assert "Traceback" not in result.output


async def test_migrate_against_an_unreachable_database_is_a_clean_error(
    settings: Settings,
) -> None:
    result = await invoke(
        settings,
        "migrate",
        env={"CINESONIC_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("error: database error:")
    assert "Traceback" not in result.output
