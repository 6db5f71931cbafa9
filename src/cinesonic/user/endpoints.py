"""Routes of the user domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["user"])
