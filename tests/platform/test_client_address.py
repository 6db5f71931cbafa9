"""The client address the rate limits and the audit log see: the peer, or — behind proxies listed
in `trusted_proxies` — the nearest address in `X-Forwarded-For` that is not one of them."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.platform.probe import PREFIX

WHOAMI = f"{PREFIX}/whoami"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"trusted_proxies": ["10.9.0.0/16", "fd00::/8"]}


async def seen_address(app: FastAPI, peer: str, forwarded: str | None = None) -> str:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get(WHOAMI, headers=headers)
    assert response.status_code == 200, response.text
    ip: str = response.json()["ip"]
    return ip


async def test_direct_client_is_its_peer_address(app: FastAPI) -> None:
    assert await seen_address(app, "198.51.100.4") == "198.51.100.4"


async def test_untrusted_peer_cannot_claim_another_address(app: FastAPI) -> None:
    assert await seen_address(app, "198.51.100.4", "203.0.113.9") == "198.51.100.4"


async def test_trusted_proxy_forwards_the_client_address(app: FastAPI) -> None:
    assert await seen_address(app, "10.9.0.1", "203.0.113.7") == "203.0.113.7"


async def test_addresses_a_client_prepends_are_ignored(app: FastAPI) -> None:
    assert await seen_address(app, "10.9.0.1", "1.1.1.1, 203.0.113.7") == "203.0.113.7"


async def test_chain_of_trusted_proxies_is_skipped(app: FastAPI) -> None:
    seen = await seen_address(app, "10.9.0.1", "1.1.1.1, 203.0.113.7, 10.9.4.4, fd00::2")
    assert seen == "203.0.113.7"


async def test_trusted_proxy_without_forwarded_for_is_the_client(app: FastAPI) -> None:
    assert await seen_address(app, "10.9.0.1") == "10.9.0.1"


async def test_garbage_forwarded_for_falls_back_to_the_peer(app: FastAPI) -> None:
    assert await seen_address(app, "10.9.0.1", "not-an-address") == "10.9.0.1"
