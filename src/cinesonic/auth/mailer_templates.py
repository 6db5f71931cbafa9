"""The text of the mails the auth domain sends, and the links in them.

Links point at the web UI (`{public_url}/verify-email?token=…`, `{public_url}/reset-password?
token=…`), which posts the token to the API. Plain text only: every client renders it, and
nothing in it can be turned into remote content.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

VERIFY_EMAIL_PAGE = "verify-email"
RESET_PASSWORD_PAGE = "reset-password"


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str


def link(public_url: str, page: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/{page}?{urlencode({'token': token})}"


def verification_mail(*, name: str, url: str, ttl_hours: int) -> Mail:
    return Mail(
        subject="Confirm your email address",
        text=(
            f"Hello {name},\n"
            "\n"
            "please confirm this email address for your cinesonic account by opening:\n"
            "\n"
            f"{url}\n"
            "\n"
            f"The link works once and expires in {ttl_hours} hours.\n"
            "If you did not create an account, ignore this mail.\n"
        ),
    )


def password_reset_mail(*, name: str, url: str, ttl_minutes: int) -> Mail:
    return Mail(
        subject="Reset your password",
        text=(
            f"Hello {name},\n"
            "\n"
            "someone (hopefully you) asked to reset the password of your cinesonic account.\n"
            "Choose a new password here:\n"
            "\n"
            f"{url}\n"
            "\n"
            f"The link works once and expires in {ttl_minutes} minutes. Using it signs out\n"
            "every device signed in to your account.\n"
            "If you did not ask for this, ignore this mail; your password stays as it is.\n"
        ),
    )
