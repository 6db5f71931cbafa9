"""Every model, imported here so Alembic and the mapper registry see them all."""

from cinesonic.models.activity import Activity
from cinesonic.models.apikey import ApiKey
from cinesonic.models.auth import AuthSession, OneTimeToken, OneTimeTokenPurpose, RefreshToken
from cinesonic.models.base import Base
from cinesonic.models.image import Image, ImageKind
from cinesonic.models.job import Job, JobStatus
from cinesonic.models.setting import ServerSetting
from cinesonic.models.user import Role, RolePermission, User, UserRole, UserStatus

__all__ = [
    "Activity",
    "ApiKey",
    "AuthSession",
    "Base",
    "Image",
    "ImageKind",
    "Job",
    "JobStatus",
    "OneTimeToken",
    "OneTimeTokenPurpose",
    "RefreshToken",
    "Role",
    "RolePermission",
    "ServerSetting",
    "User",
    "UserRole",
    "UserStatus",
]
