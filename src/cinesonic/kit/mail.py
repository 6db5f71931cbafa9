"""Outgoing mail: SMTP (aiosmtplib) when configured, else the log plus `<data_dir>/outbox/`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import structlog

from cinesonic.kit.ids import uuid7
from cinesonic.kit.timeutil import utcnow

log = structlog.get_logger("cinesonic.mail")


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

    async def send(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="cinesonic")
        message.set_content(text)
        if self.smtp is None:
            self.outbox.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^a-z0-9]+", "-", subject.lower())[:40]
            name = f"{utcnow():%Y%m%dT%H%M%S}-{uuid7().hex[:12]}-{slug}.eml"
            (self.outbox / name).write_bytes(bytes(message))
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
