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
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.util import await_only

from cinesonic.config import Settings
from cinesonic.kit.cache import VersionedCache

_WRITE_STATEMENT = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|REPLACE|WITH\b.*\b(INSERT|UPDATE|DELETE))", re.I | re.S
)
_LOCK_HELD = "cinesonic_write_lock_held"
_AFTER_COMMIT = "cinesonic_after_commit"

log = structlog.get_logger("cinesonic.db")

T = TypeVar("T")
READER_THREADS = 4


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


_WRITTEN = "cinesonic_tables_written"


class _TrackedSession(Session):
    """A session that notes which tables its transaction wrote, for `Database.table_versions`."""


@event.listens_for(_TrackedSession, "after_flush")
def _note_flushed_tables(session: Session, _context: Any) -> None:
    written: set[str] = session.info.setdefault(_WRITTEN, set())
    for instance in (*session.new, *session.dirty, *session.deleted):
        mapper = inspect(instance).mapper
        written.update(table.name for table in mapper.tables)
        # Association tables written through a relationship (`user.roles = [...]`).
        for relationship in mapper.relationships:
            if relationship.secondary is not None:
                written.add(getattr(relationship.secondary, "name", ""))


@event.listens_for(_TrackedSession, "do_orm_execute")
def _note_statement_table(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        name = getattr(table, "name", None)
        if isinstance(name, str):
            state.session.info.setdefault(_WRITTEN, set()).add(name)


@event.listens_for(_TrackedSession, "after_commit")
def _announce_written_tables(session: Session) -> None:
    written = session.info.pop(_WRITTEN, None)
    database = session.info.get("cinesonic_database")
    if written and isinstance(database, Database):
        database._committed(frozenset(written))


@event.listens_for(_TrackedSession, "after_rollback")
def _forget_written_tables(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


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
        self.sessionmaker = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            sync_session_class=_TrackedSession,
            info={"cinesonic_database": self},
        )
        # Table write versions: see `table_versions`.
        self._versions: dict[str, int] = {}
        # Results of reads, kept while the versions of the tables they read are current.
        self.results: VersionedCache[object] = VersionedCache(
            ttl=settings.result_cache_seconds, max_entries=settings.result_cache_entries
        )
        self.on_tables_committed: Callable[[frozenset[str]], None] | None = None
        self.write_lock = asyncio.Lock()
        self._busy_timeout_ms = settings.sqlite_busy_timeout_ms
        self._reader_engine: Engine | None = None
        self._readers: ThreadPoolExecutor | None = None
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

    def table_versions(self, tables: tuple[str, ...]) -> tuple[int, ...]:
        """How many committed write transactions touched each table, as this process knows:
        its own commits (ORM flushes and ORM-enabled statements; raw SQL text is not seen) and
        those other processes announce (`bump_tables`, wired to the event bus). A result cached
        with the versions read *before* its query is fresh while they are unchanged (the
        versions move only after a commit is visible, so no stale read can be stored as new)."""
        versions = self._versions
        return tuple(versions.get(table, 0) for table in tables)

    @staticmethod
    def of(session: AsyncSession) -> Database:
        """The database a session of `Database.session()` belongs to."""
        database = session.info.get("cinesonic_database")
        if not isinstance(database, Database):
            raise TypeError("not a session of cinesonic.db.Database")
        return database

    @staticmethod
    def note_written(session: AsyncSession, *tables: str) -> None:
        """Count writes the session's events cannot see (raw SQL, triggers) in its transaction,
        so that `table_versions` moves for them when it commits."""
        session.info.setdefault(_WRITTEN, set()).update(tables)

    def bump_tables(self, tables: frozenset[str]) -> None:
        for table in tables:
            self._versions[table] = self._versions.get(table, 0) + 1

    def _committed(self, tables: frozenset[str]) -> None:
        self.bump_tables(tables)
        if self.on_tables_committed is not None:
            self.on_tables_committed(tables)

    async def read(self, session: AsyncSession, work: Callable[[Session], T]) -> T:
        """Run read-only `work` with a synchronous session, in one go.

        On SQLite it runs on a read-only connection in a reader thread: one thread hop for the
        whole unit instead of aiosqlite's four per statement, which is most of the cost of a
        hot list page. It sees committed data only, so call it before the unit of work writes.
        On PostgreSQL it runs inside `session` (`run_sync`), in the request's transaction."""
        if not self.is_sqlite:
            return await session.run_sync(work)
        if self._readers is None:
            self._reader_engine = self._open_reader_engine()
            self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._run_read, work)

    def _run_read(self, work: Callable[[Session], T]) -> T:
        with Session(self._reader_engine) as session:
            return work(session)

    def _open_reader_engine(self) -> Engine:
        url = self.engine.url.set(drivername="sqlite")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": self._busy_timeout_ms / 1000},
            pool_size=READER_THREADS,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            cursor.execute("PRAGMA query_only=ON")  # a reader that tries to write is a bug
            cursor.close()

        return engine

    async def dispose(self) -> None:
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        if self._reader_engine is not None:
            self._reader_engine.dispose()
            self._reader_engine = None
        await self.engine.dispose()
