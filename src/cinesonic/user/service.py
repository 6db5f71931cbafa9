"""Accounts: creation with case-insensitive uniqueness, look-ups, and their read model."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from cinesonic.errors import Conflict, NotFound
from cinesonic.kit.timeutil import utcnow
from cinesonic.models.user import Role, User, UserStatus
from cinesonic.user.schemas import UserRead

# A user's roles and their permissions, in two extra queries.
WITH_ROLES = selectinload(User.roles).selectinload(Role.permissions)


class UserNotFound(NotFound):
    message = "No such user."


class UsernameTaken(Conflict):
    code, message = "username_taken", "That username is taken."


class EmailTaken(Conflict):
    code, message = "email_taken", "An account with that email exists."


def username_key(username: str) -> str:
    return unicodedata.normalize("NFKC", username).casefold()


def email_key(email: str) -> str:
    return email.strip().lower()


def to_read(user: User) -> UserRead:
    """The owner's/admin's view; `user.roles` must be loaded."""
    return UserRead(
        id=user.id,
        username=user.username,
        email=user.email,
        display_name=user.display_name,
        bio=user.bio,
        avatar_image_id=user.avatar_image_id,
        status=user.status,
        roles=[role.name for role in user.roles],
        is_email_verified=user.is_email_verified,
        requires_password_change=user.requires_password_change,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def ensure_available(
    session: AsyncSession,
    *,
    username: str | None = None,
    email: str | None = None,
    exclude: uuid.UUID | None = None,
) -> None:
    conditions = []
    if username is not None:
        conditions.append(User.username_key == username_key(username))
    if email is not None:
        conditions.append(User.email_key == email_key(email))
    if not conditions:
        return
    statement = select(User.username_key, User.email_key).where(or_(*conditions))
    if exclude is not None:
        statement = statement.where(User.id != exclude)
    for taken_username, taken_email in (await session.execute(statement)).all():
        if username is not None and taken_username == username_key(username):
            raise UsernameTaken()
        if email is not None and taken_email == email_key(email):
            raise EmailTaken()


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password_hash: str,
    roles: Sequence[Role],
    display_name: str | None = None,
    status: UserStatus = UserStatus.active,
    email_verified: bool = False,
    requires_password_change: bool = False,
) -> User:
    await ensure_available(session, username=username, email=email)
    user = User(
        username=username,
        username_key=username_key(username),
        email=email.strip(),
        email_key=email_key(email),
        display_name=display_name,
        password_hash=password_hash,
        status=status,
        email_verified_at=utcnow() if email_verified else None,
        requires_password_change=requires_password_change,
        preferences={},
        roles=list(roles),
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.scalar(select(User).where(User.id == user_id).options(WITH_ROLES))
    if user is None:
        raise UserNotFound()
    return user


async def find_by_identifier(session: AsyncSession, identifier: str) -> User | None:
    """A user by username or email, case-insensitively."""
    key = identifier.strip()
    statement = (
        select(User)
        .where(or_(User.username_key == username_key(key), User.email_key == email_key(key)))
        .options(WITH_ROLES)
    )
    return await session.scalar(statement)
