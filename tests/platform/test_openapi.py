"""The OpenAPI document holds every route to the house rules: a summary, a typed 2xx answer, and
a declared 401 wherever a principal is required. The operation tests are generated from the app
as it is, so routes added later are held to the same rules without touching this file."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from cinesonic import deps
from cinesonic.app import create_app
from cinesonic.config import Settings

AUTH_DEPENDENCIES: set[Callable[..., Any]] = {deps.get_principal, deps.get_media_principal}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


# Building the schema needs no database and no lifespan; settings only have to be valid.
_DATA_DIR = tempfile.TemporaryDirectory(prefix="cinesonic-openapi-")


def _build_app() -> FastAPI:
    data_dir = Path(_DATA_DIR.name)
    return create_app(
        Settings(
            data_dir=data_dir,
            database_url=f"sqlite+aiosqlite:///{data_dir / 'unused.db'}",
            secret_key="openapi-test-secret-key-0123456789",  # type: ignore[arg-type]
        )
    )


def _build_schema() -> tuple[dict[str, Any], Exception | None]:
    # A schema that cannot be built fails one test below instead of the whole collection.
    try:
        return APP.openapi(), None
    except Exception as error:
        return {"paths": {}}, error


APP = _build_app()
SCHEMA, SCHEMA_ERROR = _build_schema()


def _requires_principal(dependant: Dependant) -> bool:
    return any(
        dependency.call in AUTH_DEPENDENCIES or _requires_principal(dependency)
        for dependency in dependant.dependencies
    )


def _authenticated_operations() -> set[tuple[str, str]]:
    found = set()
    # Included routers are not flattened into `app.routes`; walk them as the schema does.
    for route in iter_route_contexts(APP.routes):
        if (
            isinstance(route.original_route, APIRoute)
            and route.include_in_schema
            and _requires_principal(route.dependant)
        ):
            found |= {(method.lower(), route.path_format) for method in route.methods or ()}
    return found


AUTHENTICATED = _authenticated_operations()


def _operations() -> Iterator[Any]:
    for path, item in sorted(SCHEMA["paths"].items()):
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield pytest.param(method, path, operation, id=f"{method.upper()} {path}")


OPERATIONS = list(_operations())
AUTH_OPERATIONS = [op for op in OPERATIONS if (op.values[0], op.values[1]) in AUTHENTICATED]


def _is_typed(schema: dict[str, Any]) -> bool:
    """A `$ref` or a schema that says something (type, composition, items, properties…)."""
    keys = {"$ref", "type", "anyOf", "oneOf", "allOf", "items", "properties", "enum", "const"}
    return bool(keys & set(schema))


def test_schema_builds() -> None:
    if SCHEMA_ERROR is not None:
        raise SCHEMA_ERROR


async def test_document_is_openapi_3_1(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] == "cinesonic"
    assert document["paths"]


async def test_interactive_docs_are_served_as_html(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/api/v1/openapi.json" in response.text


async def test_served_document_is_the_one_tested_here(client: httpx.AsyncClient) -> None:
    served = (await client.get("/api/v1/openapi.json")).json()
    assert sorted(served["paths"]) == sorted(SCHEMA["paths"])


def test_probe_found_the_authenticated_routes() -> None:
    # Guards the generator below: the sign-in routes exist, so some operations need a principal.
    assert ("get", "/api/v1/auth/me") in AUTHENTICATED
    assert ("post", "/api/v1/auth/login") not in AUTHENTICATED


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for _method, _path, operation in (o.values for o in OPERATIONS)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS)
def test_operation_has_a_summary(method: str, path: str, operation: dict[str, Any]) -> None:
    assert operation.get("summary", "").strip(), f"{method.upper()} {path} has no summary"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS)
def test_operation_declares_a_typed_success_answer(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    successes = {
        status: response
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2")
    }
    assert successes, f"{method.upper()} {path} declares no 2xx answer"
    for status, response in successes.items():
        content = response.get("content", {})
        assert content, f"{method.upper()} {path} {status} has no content"
        for media_type, media in content.items():
            assert _is_typed(media.get("schema", {})), (
                f"{method.upper()} {path} {status} {media_type} has an empty schema"
            )


@pytest.mark.parametrize(("method", "path", "operation"), AUTH_OPERATIONS)
def test_authenticated_operation_declares_401(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    assert "401" in operation.get("responses", {}), f"{method.upper()} {path} omits 401"
