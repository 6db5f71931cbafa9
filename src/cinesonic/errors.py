"""The error hierarchy and the one place that turns errors into the API's envelope.

Services raise `AppError` subclasses; `install_error_handlers` renders every error — ours,
FastAPI's validation errors, Starlette's HTTP errors and unexpected exceptions — as
`{"error": {"code", "message", "details"}, "request_id"}`. This module knows no domain.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("cinesonic.errors")


class AppError(Exception):
    status_code: int = 500
    code: str = "internal_error"
    message: str = "Internal server error."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.details = details
        self.headers = headers
        super().__init__(self.message)


class BadRequest(AppError):
    status_code, code, message = 400, "bad_request", "The request is malformed."


class AuthenticationRequired(AppError):
    status_code, code, message = 401, "authentication_required", "Sign in to do this."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class InvalidCredentials(AuthenticationRequired):
    code, message = "invalid_credentials", "The identifier or password is wrong."


class InvalidToken(AuthenticationRequired):
    code, message = "invalid_token", "The token is invalid or has expired."


class Forbidden(AppError):
    status_code, code, message = 403, "forbidden", "You may not do this."


class NotFound(AppError):
    status_code, code, message = 404, "not_found", "Not found."


class Conflict(AppError):
    status_code, code, message = 409, "conflict", "This conflicts with existing data."


class Gone(AppError):
    status_code, code, message = 410, "gone", "This is no longer available."


class PayloadTooLarge(AppError):
    status_code, code, message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(AppError):
    status_code, code, message = 415, "unsupported_media_type", "This media type is not accepted."


class ValidationFailed(AppError):
    status_code, code, message = 422, "validation_error", "The request is not valid."


class RateLimited(AppError):
    status_code, code, message = 429, "rate_limited", "Too many requests; try again later."


class ServiceUnavailable(AppError):
    status_code, code, message = 503, "service_unavailable", "The service is unavailable."


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    """The shape of every error response."""

    error: ErrorBody
    request_id: str | None = None


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the envelope model and the codes it may carry."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status_code, []).append(error)
    return {
        status: {
            "model": ErrorEnvelope,
            "description": "; ".join(f"`{e.code}`: {e.message}" for e in group),
        }
        for status, group in sorted(by_status.items())
    }


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def render_error(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    # Details may hold ids and times (as responses do); render them the way responses would.
    rendered = to_jsonable_python(details, fallback=str)
    body = {
        "error": {"code": code, "message": message, "details": rendered},
        "request_id": _request_id(request),
    }
    return JSONResponse(body, status_code=status_code, headers=headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        fields.append(
            {
                "field": ".".join(location[1:]) if len(location) > 1 else ".".join(location),
                "location": location[0] if location else "body",
                "message": error.get("msg", "invalid"),
                "type": error.get("type", "invalid"),
            }
        )
    return fields


def install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return render_error(
            request, exc.status_code, exc.code, exc.message, exc.details, exc.headers
        )

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        fields = _field_errors(exc)
        if any(f["type"] == "json_invalid" for f in fields):
            return render_error(request, 400, "bad_request", "The body is not valid JSON.", fields)
        return render_error(request, 422, "validation_error", "The request is not valid.", fields)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        return render_error(
            request, exc.status_code, code, str(exc.detail), None, dict(exc.headers or {})
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error=repr(exc))
        return render_error(request, 500, "internal_error", "Internal server error.")

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
