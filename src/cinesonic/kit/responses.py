"""Responses serialized once.

A route that returns a pydantic model has FastAPI dump it and validate it again against the
route's `response_model` before serializing it; for large pages (50 albums, each with its
artist) that doubles the work. `json_response(model)` serializes the model as it is; the route
keeps its `response_model` for the documentation, and the model must be of that type.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        media_type="application/json",
    )
