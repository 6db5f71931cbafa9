"""Seed many accounts straight into a migrated database, fast: one argon2 hash computed once and
shared, rows inserted in executemany batches through SQLAlchemy (no per-user service calls).

    python -m benchmarks.seed_users --data-dir DIR --count 10000
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import insert

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.kit.ids import uuid7
from cinesonic.models.user import User, UserRole
from cinesonic.rbac import service as rbac_service
from cinesonic.rbac.permissions import DEFAULT_ROLE
from cinesonic.user.service import email_key, username_key

PASSWORD = "Seeded-Password-1"
BATCH = 1000


async def seed_users(settings: Settings, count: int, prefix: str = "seed") -> float:
    """Insert `count` active users with the default role; return the seconds it took."""
    started = time.perf_counter()
    password_hash = PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_cost_kib
    ).hash(PASSWORD)
    db = Database(settings)
    try:
        async with db.session() as session:
            role = await rbac_service.get_role_by_name(session, DEFAULT_ROLE)
            for first in range(0, count, BATCH):
                users, links = [], []
                for number in range(first, min(first + BATCH, count)):
                    user_id = uuid7()
                    username = f"{prefix}{number:06d}"
                    email = f"{username}@example.com"
                    users.append(
                        {
                            "id": user_id,
                            "username": username,
                            "username_key": username_key(username),
                            "email": email,
                            "email_key": email_key(email),
                            "display_name": f"Seeded User {number}",
                            "password_hash": password_hash,
                            "preferences": {},
                        }
                    )
                    links.append({"user_id": user_id, "role_id": role.id})
                await session.execute(insert(User), users)
                await session.execute(insert(UserRole), links)
    finally:
        await db.dispose()
    return time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--count", type=int, default=10_000)
    options = parser.parse_args()
    seconds = asyncio.run(seed_users(Settings(data_dir=options.data_dir), options.count))
    print(f"seeded {options.count} users in {seconds:.1f} s")
