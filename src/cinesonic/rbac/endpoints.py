"""Routes of the rbac domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["rbac"])
