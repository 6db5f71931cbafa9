"""Routes of the apikey domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["apikey"])
