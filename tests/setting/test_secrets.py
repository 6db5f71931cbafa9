"""Secret settings (the SMTP password): never answered in clear, stored sealed, and applied to
the mailer live — checked against a real SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import select

from cinesonic.config import Settings
from cinesonic.kit.secretbox import SecretBox
from cinesonic.models.setting import ServerSetting
from cinesonic.state import AppState
from tests.auth.helpers import MailCatcher, received_mail
from tests.fixtures.users import PASSWORD, SignedIn
from tests.setting.conftest import ADMIN_CONFIG, SERVER, another_app

SECRET = "hunter2-smtp-secret"


async def stored_value(state: AppState, key: str) -> object:
    async with state.db.session() as session:
        return await session.scalar(select(ServerSetting.value).where(ServerSetting.key == key))


async def test_a_secret_is_never_answered_in_clear(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    changed = await client.put(
        f"{SERVER}/smtp_password", json={"value": SECRET}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["value"], body["default"], body["is_set"], body["is_secret"]) == (
        None,
        None,
        True,
        True,
    )
    answers = [
        changed,
        await client.get(SERVER, headers=admin.headers),
        await client.get(f"{SERVER}/smtp_password", headers=admin.headers),
        await client.get("/api/v1/settings", headers=admin.headers),
        await client.get(ADMIN_CONFIG, headers=admin.headers),
        await client.put(
            ADMIN_CONFIG, json={"mail": {"smtp_user": "mailer"}}, headers=admin.headers
        ),
        await client.get("/api/v1/admin/activity", headers=admin.headers),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.url
        assert SECRET not in answer.text, answer.url


async def test_a_refused_secret_is_not_echoed_either(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    response = await client.put(
        f"{SERVER}/smtp_password", json={"value": [SECRET]}, headers=admin.headers
    )
    assert response.status_code == 422
    assert SECRET not in response.text


async def test_a_secret_is_stored_sealed(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    await client.put(f"{SERVER}/smtp_password", json={"value": SECRET}, headers=admin.headers)
    stored = await stored_value(state, "smtp_password")
    assert isinstance(stored, str)
    assert SECRET not in stored
    assert SecretBox(state.settings.signing_key, "server_setting").open(stored) == SECRET


async def test_admin_config_masks_a_set_secret_and_keeps_it_when_sent_back(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState
) -> None:
    before = (await client.get(ADMIN_CONFIG, headers=admin.headers)).json()
    assert before["mail"]["smtp_password"] is None
    await client.put(f"{SERVER}/smtp_password", json={"value": SECRET}, headers=admin.headers)
    config = (await client.get(ADMIN_CONFIG, headers=admin.headers)).json()
    assert config["mail"]["smtp_password"] == "********"
    response = await client.put(ADMIN_CONFIG, json=config, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == []
    assert state.settings.smtp_password is not None
    assert state.settings.smtp_password.get_secret_value() == SECRET


async def test_a_secret_sealed_under_another_key_reads_as_unset(
    client: httpx.AsyncClient, admin: SignedIn, configured: Settings
) -> None:
    await client.put(f"{SERVER}/smtp_password", json={"value": SECRET}, headers=admin.headers)
    rotated = SecretStr("another-secret-key-0123456789-abcdefghijklmnopqrstuv")
    async with another_app(configured, secret_key=rotated) as restarted:
        assert restarted.settings.smtp_password is None


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


async def test_mail_settings_apply_to_the_mailer_at_once(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState, smtp_server: MailCatcher
) -> None:
    assert state.mailer.smtp is None  # mail goes to the outbox until a server is set
    response = await client.put(
        ADMIN_CONFIG,
        json={
            "mail": {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_server.port,
                "smtp_tls": "none",
                "mail_from": "Cinesonic <media@example.org>",
            }
        },
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    registration = await client.post(
        "/api/v1/auth/register",
        json={"username": "eve", "email": "eve@example.com", "password": PASSWORD},
    )
    assert registration.status_code == 201, registration.text
    (message,) = await received_mail(state, smtp_server)
    assert message["To"] == "eve@example.com"
    assert message["From"] == "Cinesonic <media@example.org>"
