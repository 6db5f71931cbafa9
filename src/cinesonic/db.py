"""Engine, sessions and the one-transaction-per-unit-of-work rule.

SQLite (the default) runs in WAL mode with a busy timeout and foreign keys on. SQLite allows one
writer at a time, and a reader that later tries to write can fail at once with "database is
locked" rather than wait; so inside the process every write transaction first takes an
`asyncio.Lock`, acquired at the first INSERT/UPDATE/DELETE a connection sends and released at
its commit or rollback. pysqlite only opens a transaction at the first write statement, so reads
never hold it and never see a stale snapshot. Other processes (the CLI) are covered by the busy
timeout. PostgreSQL needs none of this.

Requests get their session from `session_dependency` (commit on success, rollback on error);
services only `flush()`. This module knows no domain.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from cinesonic.config import Settings

_WRITE_STATEMENT = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|REPLACE|WITH\b.*\b(INSERT|UPDATE|DELETE))", re.I | re.S
)
_LOCK_HELD = "cinesonic_write_lock_held"
_AFTER_COMMIT = "cinesonic_after_commit"

log = structlog.get_logger("cinesonic.db")


async def lock_for_update(session: AsyncSession, key: int) -> None:
    """Hold an exclusive lock on `key` until this transaction ends, so check-then-write rules
    ("is this the first account?") cannot race. PostgreSQL: a transaction advisory lock.
    SQLite: the database write lock, taken now through a write that changes nothing."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        await session.execute(
            text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0")
        )


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` once the session's unit of work has committed (never on rollback)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _sqlite_in_transaction(dbapi_connection: Any) -> bool:
    """Whether SQLite has a transaction open on this (aiosqlite-adapted) connection; True when
    that cannot be told, so the caller then commits or rolls back as usual."""
    raw = getattr(getattr(dbapi_connection, "_connection", None), "_conn", None)
    return bool(getattr(raw, "in_transaction", True))


class Database:
    """The engine and session factory for one configured database."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": settings.sqlite_busy_timeout_ms / 1000}
        else:
            kwargs["pool_size"] = settings.database_pool_size
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write_lock = asyncio.Lock()
        if self.is_sqlite:
            self._configure_sqlite(self.engine.sync_engine, settings.sqlite_busy_timeout_ms)

    def _configure_sqlite(self, engine: Engine, busy_timeout_ms: int) -> None:
        lock = self.write_lock

        # A request that only read never opened a SQLite transaction (pysqlite begins one at
        # the first write), so its commit and its rollback-on-return are no-ops — skip them
        # rather than pay a round trip to aiosqlite's thread for each.
        dialect = engine.dialect
        real_commit, real_rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            if _sqlite_in_transaction(dbapi_connection):
                real_commit(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            if _sqlite_in_transaction(dbapi_connection):
                real_rollback(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "before_cursor_execute")
        def _take_write_lock(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
            if conn.info.get(_LOCK_HELD) or not _WRITE_STATEMENT.match(statement):
                return
            await_only(lock.acquire())
            conn.info[_LOCK_HELD] = True

        def _release(conn: Connection) -> None:
            if conn.info.pop(_LOCK_HELD, False):
                lock.release()

        def _release_on_checkin(_dbapi_connection: Any, record: Any) -> None:
            if record.info.pop(_LOCK_HELD, False):
                lock.release()

        # The commit event fires just before the DBAPI commit; a writer that slips into that
        # gap waits on the busy timeout, as its statement is the first of its transaction.
        event.listen(engine, "commit", _release)
        event.listen(engine, "rollback", _release)
        event.listen(engine.pool, "checkin", _release_on_checkin)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends cleanly, rolls back otherwise;
        then runs the `after_commit` callbacks registered on it."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                session.info.pop(_AFTER_COMMIT, None)
                await session.rollback()
                raise
            for callback in session.info.pop(_AFTER_COMMIT, []):
                try:
                    await callback()
                except Exception:
                    log.exception("after_commit_callback_failed")

    async def dispose(self) -> None:
        await self.engine.dispose()
