"""Accounts. Usernames and emails are unique case-insensitively through their `*_key` columns."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cinesonic.models.base import Base, IdMixin, TimestampMixin


class UserStatus(enum.StrEnum):
    active = "active"
    inactive = "inactive"
    suspended = "suspended"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "user"
    # The admin list sorts by these (username and email sort by their unique `*_key` columns).
    __table_args__ = (
        Index("ix_user_created_at", "created_at"),
        Index("ix_user_last_login_at", "last_login_at"),
    )

    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(128))
    bio: Mapped[str | None] = mapped_column(Text)
    avatar_image_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, native_enum=False, length=16), default=UserStatus.active, index=True
    )
    email_verified_at: Mapped[datetime | None]
    requires_password_change: Mapped[bool] = mapped_column(default=False)
    failed_login_count: Mapped[int] = mapped_column(default=0)
    lockout_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    roles: Mapped[list[Role]] = relationship(
        secondary="user_role", lazy="raise", order_by="Role.name"
    )

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None


class Role(IdMixin, TimestampMixin, Base):
    __tablename__ = "role"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    is_builtin: Mapped[bool] = mapped_column(default=False)
    # The admin role holds every permission, including ones added after it was created.
    grants_all: Mapped[bool] = mapped_column(default=False)

    permissions: Mapped[list[RolePermission]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="RolePermission.permission"
    )


class RolePermission(Base):
    __tablename__ = "role_permission"

    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True, index=True
    )
