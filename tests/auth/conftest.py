"""Auth test harness: a real SMTP server (aiosmtpd on 127.0.0.1) that every test's app mails
to, and `@pytest.mark.settings(...)` for a test's own settings (`smtp_host=None` switches mail
to the outbox)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.auth.helpers import PUBLIC_URL, MailCatcher


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**values): settings overrides for one test")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[MailCatcher]:
    catcher = MailCatcher(port=_free_port())
    controller = Controller(catcher, hostname="127.0.0.1", port=catcher.port)
    controller.start()
    try:
        yield catcher
    finally:
        controller.stop()


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, smtp_server: MailCatcher) -> dict[str, Any]:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
        "smtp_tls": "none",
        # The trailing slash must not double up in links.
        "public_url": f"{PUBLIC_URL}/",
    }
    marker = request.node.get_closest_marker("settings")
    if marker is not None:
        values.update(marker.kwargs)
    return values
