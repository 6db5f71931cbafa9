"""Routes of the activity domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["activity"])
