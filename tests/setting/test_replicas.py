"""Settings across processes: a change made on one replica reaches another over the event bus
(Redis when configured); a stored value a later rule refuses falls back to the default."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from cinesonic.config import Settings
from cinesonic.models.setting import ServerSetting
from cinesonic.setting import runtime as setting_runtime
from cinesonic.state import AppState
from tests.conftest import REDIS_URL
from tests.fixtures.users import SignedIn, create_user
from tests.setting.conftest import SERVER, another_app


def bridge(source: AppState, replica: AppState) -> None:
    """Without Redis each app has an in-process bus: carry our channel across, as Redis would."""
    if REDIS_URL is not None:
        return  # both apps already share the Redis bus (same prefix)

    async def forward(data: Any) -> None:
        await replica.bus.publish(setting_runtime.CHANGED_CHANNEL, data)

    source.bus.subscribe(setting_runtime.CHANGED_CHANNEL, forward)


async def eventually(check: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    assert check()


async def test_a_change_reaches_another_replica(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState, configured: Settings
) -> None:
    async with another_app(configured) as replica:
        bridge(state, replica)
        response = await client.put(
            f"{SERVER}/open_registration", json={"value": False}, headers=admin.headers
        )
        assert response.status_code == 200
        await eventually(lambda: replica.settings.open_registration is False)


async def test_a_reset_reaches_another_replica(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState, configured: Settings
) -> None:
    await client.put(f"{SERVER}/login_lockout_minutes", json={"value": 60}, headers=admin.headers)
    async with another_app(configured) as replica:
        assert replica.settings.login_lockout_minutes == 60
        bridge(state, replica)
        await client.delete(f"{SERVER}/login_lockout_minutes", headers=admin.headers)
        await eventually(lambda: replica.settings.login_lockout_minutes == 15)


async def test_a_replica_keeps_restart_only_settings_until_it_restarts(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState, configured: Settings
) -> None:
    async with another_app(configured) as replica:
        bridge(state, replica)
        await client.put(
            "/api/v1/admin/config",
            json={"worker_concurrency": 6, "job_retention_days": 7},
            headers=admin.headers,
        )
        await eventually(lambda: replica.settings.job_retention_days == 7)
        assert replica.settings.worker_concurrency == 4


async def test_a_stored_value_the_rules_refuse_falls_back_to_the_default(
    client: httpx.AsyncClient, admin: SignedIn, state: AppState, configured: Settings
) -> None:
    # As if stored by an older version with looser rules.
    async with state.db.session() as session:
        session.add(ServerSetting(key="login_lockout_threshold", value=0))
    async with another_app(configured) as restarted:
        assert restarted.settings.login_lockout_threshold == 5
    read = (await client.get(f"{SERVER}/login_lockout_threshold", headers=admin.headers)).json()
    assert (read["value"], read["source"]) == (5, "default")


@pytest.mark.skipif(REDIS_URL is None, reason="replicas hear each other's writes through Redis")
async def test_a_commit_on_one_replica_moves_the_table_versions_of_another(
    state: AppState, configured: Settings
) -> None:
    async with another_app(configured) as replica:
        before = replica.db.table_versions(("user",))
        await create_user(state, "carol")
        await eventually(lambda: replica.db.table_versions(("user",)) > before)
