"""The OpenAPI document, completed from what the routes already say.

- Routes that depend on a principal (`deps.get_principal` and friends) get the bearer / API-key
  security requirement and a declared 401; `deps.require(...)` routes also get 403.
- FastAPI's own 422 schema is replaced by our error envelope, which is what clients receive;
  errors are declared as JSON even on routes that answer text or bytes.
- Every `/api/v1` operation declares 429 (the global per-IP rate limit applies to all of them)
  with its `Retry-After` and `RateLimit-*` headers; routes that spend a rate-limit class
  (`deps.rate_limited(...)`, and the admin routes) name it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts

from cinesonic import deps, ratelimits
from cinesonic.errors import ErrorEnvelope
from cinesonic.ratelimits import RateLimitClass

_AUTH_DEPENDENCIES = {deps.get_principal, deps.get_media_principal}
_ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
_INTEGER = {"type": "integer"}
_RATE_LIMIT_HEADERS = {
    "Retry-After": {"description": "Seconds until a request may pass.", "schema": _INTEGER},
    "RateLimit-Limit": {"description": "Requests the window allows.", "schema": _INTEGER},
    "RateLimit-Remaining": {"description": "Requests left in the window.", "schema": _INTEGER},
    "RateLimit-Reset": {"description": "Seconds until the window frees one.", "schema": _INTEGER},
}


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for child in dependant.dependencies:
        found |= _calls(child)
    return found


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ENVELOPE_REF}}}


def _rate_limited(limits: list[RateLimitClass]) -> str:
    if not limits:
        return "`rate_limited`: slow down."
    named = ", ".join(f"`{limit.name}` (per {limit.scope}, `{limit.setting}`)" for limit in limits)
    return f"`rate_limited`: over the {named} limit, or the global one."


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, definition in components["schemas"]["ErrorEnvelope"].pop("$defs", {}).items():
            components["schemas"].setdefault(name, definition)
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        for schema_name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(schema_name, None)
        # FastAPI ≥ 0.16x keeps included routers nested; this walks their effective routes.
        for route in iter_route_contexts(app.routes):
            dependant = getattr(route, "dependant", None)
            if not isinstance(dependant, Dependant) or not getattr(
                route, "include_in_schema", False
            ):
                continue
            calls = _calls(dependant)
            needs_auth = bool(calls & _AUTH_DEPENDENCIES)
            needs_permission = any(
                getattr(call, "__name__", "").startswith("require_") for call in calls
            )
            path = str(route.path_format)
            spent = deps.RATE_LIMIT_DEPENDENCIES
            limits = sorted((spent[call] for call in calls if call in spent), key=lambda c: c.name)
            if needs_auth and path.startswith(deps.ADMIN_PATH_PREFIX):
                limits.append(ratelimits.limit_class("admin"))
            for method in route.methods or ():
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for answer in responses.values():
                    # Errors are JSON envelopes even where the route answers text or bytes.
                    media = answer.get("content", {})
                    if any(m.get("schema") == _ENVELOPE_REF for m in media.values()):
                        answer["content"] = {"application/json": {"schema": _ENVELOPE_REF}}
                if "422" in responses:
                    responses["422"] = _error("`validation_error`: the request is not valid.")
                if needs_auth:
                    operation["security"] = [{"bearer": []}, {"api_key": []}]
                    responses.setdefault(
                        "401", _error("`authentication_required` / `invalid_token`: sign in.")
                    )
                if needs_permission:
                    responses.setdefault("403", _error("`forbidden`: a permission is missing."))
                if path.startswith("/api/v1") or limits:
                    too_many = responses.setdefault("429", _error(""))
                    # A route's own classes are worth naming over a generic description.
                    if limits or not too_many["description"]:
                        too_many["description"] = _rate_limited(limits)
                    too_many.setdefault("headers", _RATE_LIMIT_HEADERS)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
