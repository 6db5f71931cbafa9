"""Outgoing mail: SMTP (aiosmtplib) when configured, else the log plus `<data_dir>/outbox/`.

Mail work that must not hold up a response — nor let its duration tell the caller anything —
runs through `Mailer.defer`: a tracked asyncio task whose failures are logged, never raised, and
which `drain()` waits for at shutdown. This module knows no domain.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Coroutine
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import structlog

from cinesonic.kit.ids import uuid7
from cinesonic.kit.timeutil import utcnow

log = structlog.get_logger("cinesonic.mail")

# RFC 5322 caps a line at 998 characters; below that, plain ASCII is sent as 7bit so links stay
# whole (quoted-printable would break them, which matters to anyone reading an outbox file).
_MAX_7BIT_LINE = 998


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: str  # none | starttls | tls
    user: str | None
    password: str | None


class Mailer:
    def __init__(self, sender: str, outbox: Path, smtp: SmtpConfig | None) -> None:
        self.sender = sender
        self.outbox = outbox
        self.smtp = smtp
        self._pending: set[asyncio.Task[None]] = set()

    def compose(self, to: str, subject: str, text: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = make_msgid(domain="cinesonic")
        if text.isascii() and all(len(line) <= _MAX_7BIT_LINE for line in text.splitlines()):
            message.set_content(text, cte="7bit")
        else:
            message.set_content(text)
        return message

    async def send(self, to: str, subject: str, text: str) -> None:
        message = self.compose(to, subject, text)
        if self.smtp is None:
            name = await asyncio.to_thread(self._write_to_outbox, message, subject)
            log.info("mail_written_to_outbox", to=to, subject=subject, file=name)
            return
        await aiosmtplib.send(
            message,
            hostname=self.smtp.host,
            port=self.smtp.port,
            username=self.smtp.user,
            password=self.smtp.password,
            use_tls=self.smtp.tls == "tls",
            start_tls=self.smtp.tls == "starttls",
            timeout=30,
        )
        log.info("mail_sent", to=to, subject=subject)

    def _write_to_outbox(self, message: EmailMessage, subject: str) -> str:
        self.outbox.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:40]
        name = f"{utcnow():%Y%m%dT%H%M%S}-{uuid7().hex[:12]}-{slug}.eml"
        # Mails carry sign-in links: readable by the server's user only.
        fd = os.open(self.outbox / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(message))
        return name

    def defer(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run `work` (which ends in sending mail) in the background."""
        task = asyncio.create_task(self._guarded(work, name), name=name)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except Exception:
            log.exception("mail_work_failed", work=name)

    async def drain(self, wait_seconds: float = 30.0) -> None:
        """Wait for deferred mail work (including work it defers in turn); what is still
        running after `wait_seconds` is cancelled. Called at shutdown, and by tests."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while self._pending:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("mail_work_cancelled", pending=len(self._pending))
                for task in self._pending:
                    task.cancel()
                await asyncio.wait(set(self._pending), timeout=1.0)
                return
            await asyncio.wait(set(self._pending), timeout=remaining)
