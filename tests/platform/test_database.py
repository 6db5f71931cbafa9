"""The database layer: SQLite pragmas, serialized writes under concurrency, one transaction per
request, and `after_commit` callbacks that only follow a commit."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from cinesonic.db import after_commit
from cinesonic.models.activity import Activity
from cinesonic.models.user import Role, User
from cinesonic.state import AppState
from tests.conftest import PG_URL
from tests.fixtures.users import PASSWORD, create_user
from tests.platform.probe import PREFIX

sqlite_only = pytest.mark.skipif(PG_URL is not None, reason="SQLite pragmas")
CONCURRENCY = 50


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Room for the concurrent bursts below; the limits themselves are tested elsewhere.
    return {"rate_limit_global": "10000/minute", "rate_limit_auth_sensitive": "10000/minute"}


async def pragma(state: AppState, name: str) -> object:
    async with state.db.engine.connect() as connection:
        return (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()


async def count(state: AppState, model: type[Role] | type[User] | type[Activity]) -> int:
    async with state.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def role_names(state: AppState) -> set[str]:
    async with state.db.session() as session:
        return set((await session.scalars(select(Role.name))).all())


@sqlite_only
async def test_sqlite_runs_in_wal_mode(state: AppState) -> None:
    assert await pragma(state, "journal_mode") == "wal"


@sqlite_only
async def test_sqlite_enforces_foreign_keys(state: AppState) -> None:
    assert await pragma(state, "foreign_keys") == 1


@sqlite_only
async def test_sqlite_waits_on_a_busy_database(state: AppState) -> None:
    assert await pragma(state, "busy_timeout") == state.settings.sqlite_busy_timeout_ms


@sqlite_only
async def test_sqlite_refuses_a_dangling_foreign_key(state: AppState) -> None:
    async with state.db.engine.connect() as connection:
        with pytest.raises(Exception, match="FOREIGN KEY constraint failed"):
            await connection.execute(
                text("INSERT INTO role_permission (role_id, permission) VALUES (:id, 'x')"),
                {"id": "0" * 32},
            )


async def test_concurrent_registrations_all_succeed(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create_user(state, "first")  # the first account's admin promotion is not under test

    async def register(number: int) -> httpx.Response:
        return await client.post(
            "/api/v1/auth/register",
            json={
                "username": f"user{number:02d}",
                "email": f"user{number:02d}@example.com",
                "password": PASSWORD,
            },
        )

    responses = await asyncio.gather(*(register(n) for n in range(CONCURRENCY)))
    failures = [r.text for r in responses if r.status_code != 201]
    assert failures == []
    assert await count(state, User) == CONCURRENCY + 1
    assert all(r.json()["roles"] == ["user"] for r in responses)


async def test_concurrent_writes_all_commit(client: httpx.AsyncClient, state: AppState) -> None:
    responses = await asyncio.gather(
        *(client.post(f"{PREFIX}/roles", params={"name": f"w{n:02d}"}) for n in range(CONCURRENCY))
    )
    assert [r.status_code for r in responses] == [201] * CONCURRENCY
    assert {f"w{n:02d}" for n in range(CONCURRENCY)} <= await role_names(state)


async def test_concurrent_writes_and_failures_leave_exactly_the_successes(
    client: httpx.AsyncClient, state: AppState
) -> None:
    async def create(number: int) -> httpx.Response:
        return await client.post(
            f"{PREFIX}/roles", params={"name": f"mix{number:02d}", "fail": number % 3 == 0}
        )

    responses = await asyncio.gather(*(create(n) for n in range(CONCURRENCY)))
    expected = {n: 409 if n % 3 == 0 else 201 for n in range(CONCURRENCY)}
    assert {n: r.status_code for n, r in enumerate(responses)} == expected
    created = {name for name in await role_names(state) if name.startswith("mix")}
    assert created == {f"mix{n:02d}" for n in range(CONCURRENCY) if n % 3}


async def test_a_write_after_a_failed_request_is_not_blocked(
    client: httpx.AsyncClient, state: AppState
) -> None:
    failed = await client.post(f"{PREFIX}/roles", params={"name": "refused", "fail": True})
    assert failed.status_code == 409
    created = await asyncio.wait_for(
        client.post(f"{PREFIX}/roles", params={"name": "accepted"}), timeout=10
    )
    assert created.status_code == 201


async def test_request_that_fails_after_a_flush_leaves_no_row(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await client.post(f"{PREFIX}/roles", params={"name": "ghost", "fail": True})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "ghost" not in await role_names(state)


async def test_request_that_succeeds_commits_its_row(
    client: httpx.AsyncClient, state: AppState
) -> None:
    response = await client.post(f"{PREFIX}/roles", params={"name": "kept"})
    assert response.status_code == 201
    assert "kept" in await role_names(state)


async def test_after_commit_runs_once_the_row_is_visible_elsewhere(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(f"{PREFIX}/roles", params={"name": "announced"})
    assert response.status_code == 201
    assert app.state.probe_committed == [("announced", True)]


async def test_after_commit_never_runs_after_a_rollback(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(f"{PREFIX}/roles", params={"name": "silent", "fail": True})
    assert response.status_code == 409
    assert getattr(app.state, "probe_committed", []) == []


async def test_session_block_commits_then_runs_callbacks_in_order(state: AppState) -> None:
    calls: list[str] = []

    async def first() -> None:
        calls.append("first")

    async def second() -> None:
        calls.append("second")

    async with state.db.session() as session:
        session.add(Role(name="unit", is_builtin=False, grants_all=False))
        after_commit(session, first)
        after_commit(session, second)
        await session.flush()
        assert calls == []
    assert calls == ["first", "second"]
    assert "unit" in await role_names(state)


async def test_session_block_that_raises_rolls_back_and_skips_callbacks(
    state: AppState,
) -> None:
    calls: list[str] = []

    async def callback() -> None:
        calls.append("ran")

    with pytest.raises(LookupError):
        async with state.db.session() as session:
            session.add(Role(name="undone", is_builtin=False, grants_all=False))
            await session.flush()
            after_commit(session, callback)
            raise LookupError("changed my mind")
    assert calls == []
    assert "undone" not in await role_names(state)


async def test_failing_callback_does_not_stop_the_others(state: AppState) -> None:
    calls: list[str] = []

    async def broken() -> None:
        raise RuntimeError("callback bug")

    async def healthy() -> None:
        calls.append("healthy")

    async with state.db.session() as session:
        after_commit(session, broken)
        after_commit(session, healthy)
    assert calls == ["healthy"]


async def test_commit_that_fails_skips_callbacks(state: AppState) -> None:
    calls: list[str] = []

    async def callback() -> None:
        calls.append("ran")

    with pytest.raises(Exception, match=r"(?i)unique"):
        async with state.db.session() as session:
            after_commit(session, callback)
            session.add(Role(name="admin", is_builtin=False, grants_all=False))
    assert calls == []


async def test_read_runs_a_synchronous_unit_and_sees_committed_rows(state: AppState) -> None:
    await create_user(state, "reader")
    async with state.db.session() as session:
        names = await state.db.read(
            session, lambda sync: list(sync.scalars(select(User.username).order_by(User.username)))
        )
    assert names == ["reader"]


@sqlite_only
async def test_sqlite_readers_cannot_write(state: AppState) -> None:
    async with state.db.session() as session:
        with pytest.raises(Exception, match="readonly"):
            await state.db.read(session, lambda sync: sync.execute(text("DELETE FROM role")))
    assert await count(state, Role) > 0
