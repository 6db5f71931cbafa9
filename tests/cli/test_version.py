"""`cinesonic version`."""

from __future__ import annotations

from typer.testing import CliRunner

from cinesonic import __version__
from cinesonic.cli import app


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["version"])

    assert result.exit_code == 0
    assert result.stdout == f"cinesonic {__version__}\n"
