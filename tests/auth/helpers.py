"""Helpers of the auth tests: a mail catcher for aiosmtpd, reading mailed links, and changing
accounts behind the API's back the way an admin action would (the change, then
`invalidate_user`, in one unit of work)."""

from __future__ import annotations

import email
import re
import threading
import uuid
from email import policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import update

from cinesonic.auth import service as auth_service
from cinesonic.models.user import User
from cinesonic.state import AppState

PUBLIC_URL = "https://media.example.org"


class MailCatcher:
    """An aiosmtpd handler keeping every message it accepts (it runs in the server's thread)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._messages.append(message)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)


async def received_mail(state: AppState, smtp_server: MailCatcher) -> list[EmailMessage]:
    """Every mail the server has received once the app's background mail work has finished."""
    await state.mailer.drain()
    return smtp_server.messages


def mail_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert isinstance(text, str)
    return text


def link_token(message: EmailMessage, page: str) -> str:
    """The token of the `{public_url}/{page}?token=…` link in a mail's text."""
    text = mail_text(message)
    found = re.search(rf"{re.escape(PUBLIC_URL)}/{page}\?token=([A-Za-z0-9_\-]+)", text)
    assert found, text
    return found.group(1)


async def update_user(state: AppState, user_id: str | uuid.UUID, **values: Any) -> None:
    """Change account columns directly and drop the user's cached principals after commit."""
    key = uuid.UUID(str(user_id))
    async with state.db.session() as session:
        await session.execute(update(User).where(User.id == key).values(**values))
        auth_service.invalidate_user(session, state, key)
