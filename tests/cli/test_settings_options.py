"""How the commands build their settings: options over environment over the TOML file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer

from cinesonic.cli import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CINESONIC_")]:
        monkeypatch.delenv(name)


def test_command_line_options_override_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CINESONIC_PORT", "1234")
    monkeypatch.setenv("CINESONIC_HOST", "0.0.0.0")

    settings = load_settings(port=9999, host=None)

    assert (settings.host, settings.port) == ("0.0.0.0", 9999)


def test_data_dir_option_reads_the_toml_file_in_that_directory(tmp_path: Path) -> None:
    (tmp_path / "cinesonic.toml").write_text('port = 7777\nlog_level = "debug"\n')

    settings = load_settings(data_dir=tmp_path)

    assert (settings.port, settings.log_level) == (7777, "debug")
    assert "CINESONIC_DATA_DIR" not in os.environ


def test_environment_overrides_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cinesonic.toml").write_text("port = 7777\n")
    monkeypatch.setenv("CINESONIC_PORT", "8888")

    assert load_settings(data_dir=tmp_path).port == 8888


def test_invalid_configuration_is_a_clean_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CINESONIC_PORT", "eighty")

    with pytest.raises(typer.Exit) as exited:
        load_settings()

    assert exited.value.exit_code == 1
    assert capsys.readouterr().err.startswith("error: invalid configuration: port:")
