"""The `cinesonic` command: `serve`, `migrate`, `user create-admin` and `version`.

Every command reads the same `Settings` as the server: command-line options override
`CINESONIC_*` variables, which override the TOML file. Mistakes a person can fix end in one
`error: …` line on stderr and exit code 1, never a traceback. Passwords never come from argv
(where `ps` and shell history would keep them): they come from a hidden, confirmed prompt or
from standard input.
"""

from __future__ import annotations

import asyncio
import gc
import getpass
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import structlog
import typer
import uvicorn
from alembic.util import CommandError
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.types import ASGIApp

from cinesonic import __version__
from cinesonic.activity import service as activity_service
from cinesonic.app import create_app, running_state, start_worker, warm_routes
from cinesonic.auth.schemas import RegisterRequest
from cinesonic.auth.security import PasswordPolicyError, Passwords, check_password_policy
from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.errors import AppError
from cinesonic.library.scanner import Progress
from cinesonic.library.service import SCAN_QUEUE
from cinesonic.library.tasks import scan_in_foreground
from cinesonic.library.watcher import LibraryEngines
from cinesonic.logs import configure_logging
from cinesonic.migrations import runner
from cinesonic.rbac import service as rbac_service
from cinesonic.rbac.permissions import ADMIN_ROLE
from cinesonic.user import service as user_service

log = structlog.get_logger("cinesonic.cli")

# Requests still running when SIGTERM arrives get this long to finish.
GRACEFUL_SHUTDOWN_SECONDS = 30
# The exit code of a server that could not start; uvicorn's own (port in use, startup failed).
STARTUP_FAILURE = 3

app = typer.Typer(
    name="cinesonic",
    help="cinesonic: one self-hosted server for music, movies and TV, lyrics, requests and "
    "downloads.",
    no_args_is_help=True,
    add_completion=False,
    # A traceback must never print the password a command was holding.
    pretty_exceptions_show_locals=False,
)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (database, keys, outbox). Overrides CINESONIC_DATA_DIR.",
        show_default=False,
    ),
]


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _environ(name: str, value: str | None) -> Iterator[None]:
    """Set one environment variable for the duration of the block."""
    if value is None:
        yield
        return
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def load_settings(**options: Any) -> Settings:
    """Settings with the command-line `options` that were given (not None) on top."""
    given = {name: value for name, value in options.items() if value is not None}
    data_dir = given.get("data_dir")
    # The TOML file is looked up in the data directory, so follow `--data-dir` there too.
    with _environ("CINESONIC_DATA_DIR", str(data_dir) if data_dir is not None else None):
        try:
            return Settings(**given)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            fail(f"invalid configuration: {problems}")


def _display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


_DATABASE_ERRORS = (CommandError, SQLAlchemyError, OSError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, CommandError):  # alembic's: an unknown revision and the like
        return str(exc)
    reason = getattr(exc, "orig", None) or exc
    return f"database error: {type(reason).__name__}: {reason}"


@contextmanager
def _database_errors() -> Iterator[None]:
    """Turn an unreachable database or a bad revision into one clean error line."""
    try:
        yield
    except _DATABASE_ERRORS as exc:
        fail(_describe(exc))


# ---------------------------------------------------------------- serve


def server_config(app: ASGIApp, *, host: str, port: int) -> uvicorn.Config:
    """The uvicorn settings `serve` runs with (the benchmarks run their bare app on these too).
    uvloop and httptools are picked when installed (`uvicorn[standard]`)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # configure_logging owns logging
        access_log=False,  # the middleware writes the access log, with the request id
        proxy_headers=False,  # the middleware honours X-Forwarded-For from trusted_proxies only
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def freeze_startup_objects(app: FastAPI | None = None) -> None:
    """Move what start-up built (routes, schemas, models: alive as long as the process) out of
    the garbage collector's sight, so its full collections stay short under load (see
    benchmarks/README.md: p99 latency of /auth/me fell from 142 to 61 ms). The app's routes
    are built first (`warm_routes`): FastAPI would otherwise build them on the first request,
    after the freeze."""
    if app is not None:
        warm_routes(app)
    gc.collect()
    gc.freeze()


@contextmanager
def _clean_exit_on_signals(server: uvicorn.Server) -> Iterator[list[int]]:
    """uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal against the
    handler that was in place before it started. That handler is this one, so a requested
    stop exits with code 0; a signal that lands before uvicorn listens stops it too."""
    received: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        server.should_exit = True

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, note) for sig in handled}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (default 127.0.0.1). Overrides CINESONIC_HOST.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to listen on (default 8000). Overrides CINESONIC_PORT.", show_default=False
        ),
    ] = None,
    data_dir: DataDirOption = None,
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="Run the job worker in this process (default on; CINESONIC_WORKER_ENABLED). "
            "API replicas beside `cinesonic worker` processes use --no-worker.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Apply pending migrations, then serve the API until SIGTERM or Ctrl-C."""
    settings = load_settings(host=host, port=port, data_dir=data_dir, worker_enabled=worker)
    settings.prepare_data_dir()
    configure_logging(settings)
    log.info(
        "starting",
        version=__version__,
        data_dir=str(settings.data_dir.resolve()),
        database=_display_url(settings.resolved_database_url),
    )
    try:
        runner.upgrade(settings.resolved_database_url)
    except _DATABASE_ERRORS as exc:
        log.error("migration_failed", error=_describe(exc))
        raise typer.Exit(STARTUP_FAILURE) from None
    app = create_app(settings)
    server = uvicorn.Server(server_config(app, host=settings.host, port=settings.port))
    freeze_startup_objects(app)
    with _clean_exit_on_signals(server) as received:
        server.run()
    if not server.started:
        # uvicorn has logged why (port in use, app startup failed) and usually exited already.
        raise typer.Exit(STARTUP_FAILURE)
    log.info("stopped", signal=signal.Signals(received[0]).name if received else None)


# ---------------------------------------------------------------- migrate


def _current_revision(settings: Settings) -> str | None:
    url = make_url(settings.resolved_database_url)
    if settings.is_sqlite and (not url.database or not Path(url.database).exists()):
        return None  # no database file yet: nothing is applied (and checking creates nothing)

    async def read() -> str | None:
        db = Database(settings)
        try:
            return await runner.current_revision(db.engine)
        finally:
            await db.dispose()

    return asyncio.run(read())


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Revision to upgrade to.")] = "head",
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Apply nothing; exit 1 unless the database is at the latest revision."
        ),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Apply pending database migrations and print the revision the database is at."""
    settings = load_settings(data_dir=data_dir)
    head = runner.head_revision()
    with _database_errors():
        current = _current_revision(settings)
        if check:
            if current == head:
                typer.echo(f"Database is at the latest revision ({head}).")
                return
            fail(
                f"database is at revision {current or 'none (empty database)'}, "
                f"the latest is {head}; run `cinesonic migrate`."
            )
        settings.prepare_data_dir()
        runner.upgrade(settings.resolved_database_url, revision)
        after = _current_revision(settings)
    where = _display_url(settings.resolved_database_url)
    if after == current:
        typer.echo(f"Database {where} is already at revision {after}; nothing to apply.")
    else:
        typer.echo(f"Database {where} migrated from {current or 'empty'} to revision {after}.")
    if after != head:
        typer.echo(f"The latest revision is {head}.")


# ---------------------------------------------------------------- user create-admin


USERNAME_RULE = "username: use 3–32 letters, digits, '_', '.' or '-'"


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input (the first line is read).")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _validate_account(username: str, email: str, password: str) -> None:
    """The rules `POST /auth/register` applies: name pattern, email syntax, password policy."""
    try:
        RegisterRequest(username=username, email=email, password=password)
    except ValidationError as exc:
        problems = [
            USERNAME_RULE if error["loc"][0] == "username" else f"{error['loc'][0]}: {error['msg']}"
            for error in exc.errors()
        ]
        fail("; ".join(problems))
    try:
        check_password_policy(password)
    except PasswordPolicyError as exc:
        fail(f"password: {'; '.join(exc.details[0]['problems'])}.")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def _create_admin(settings: Settings, username: str, email: str, password: str) -> uuid.UUID:
    passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_cost_kib)
    password_hash = await passwords.hash(password)  # before the transaction opens
    db = Database(settings)
    try:
        async with db.session() as session:
            role = await rbac_service.get_role_by_name(session, ADMIN_ROLE)
            user = await user_service.create_user(
                session,
                username=username,
                email=email,
                password_hash=password_hash,
                roles=[role],
                email_verified=True,
            )
            await activity_service.record(
                session,
                action="user.create_admin_cli",
                user_id=None,  # no signed-in actor: whoever runs the command on the server
                actor_name="cli",
                resource_type="user",
                resource_id=user.id,
                details={"username": user.username, "os_user": _os_user()},
            )
        return user.id
    finally:
        await db.dispose()


@user_app.command("create-admin")
def create_admin(
    username: Annotated[
        str, typer.Option(help="3–32 letters, digits, '_', '.' or '-'.", show_default=False)
    ],
    email: Annotated[str, typer.Option(help="The administrator's email address.")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input (the default "
            "when standard input is not a terminal).",
        ),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Create an administrator (email verified). The password is prompted for, hidden and
    confirmed, or read from standard input; it is never taken from the command line."""
    settings = load_settings(data_dir=data_dir)
    password = _read_password(password_stdin)
    _validate_account(username, email, password)
    settings.prepare_data_dir()
    with _database_errors():
        runner.upgrade(settings.resolved_database_url)
        try:
            user_id = asyncio.run(_create_admin(settings, username, email, password))
        except AppError as exc:  # username or email taken
            fail(exc.message)
        except IntegrityError:  # taken by a registration that committed in the meantime
            fail("that username or email was just taken by another account.")
    typer.echo(f"Created administrator '{username}' <{email}> (id {user_id}).")


# ---------------------------------------------------------------- worker


async def _run_worker(settings: Settings, queues: list[str] | None, concurrency: int) -> None:
    probe = Database(settings)
    try:
        revision = await runner.current_revision(probe.engine)
    finally:
        await probe.dispose()
    if revision != runner.head_revision():
        fail(f"the database is at {revision}, not the latest; run `cinesonic migrate` first")
    async with running_state(settings) as state:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        worker = start_worker(state)
        worker.queues = queues
        worker.concurrency = concurrency
        await worker.start()
        engines = LibraryEngines(state.db, state.bus, settings)
        if not queues or SCAN_QUEUE in queues:  # watch folders where scans run
            await engines.start()
        await stop.wait()
        log.info("worker_stopping", grace_seconds=GRACEFUL_SHUTDOWN_SECONDS)
        await engines.stop()
        await worker.stop(grace_seconds=GRACEFUL_SHUTDOWN_SECONDS)


@app.command("worker")
def run_worker(
    queues: Annotated[
        str | None,
        typer.Option(help="Comma-separated queues to serve (default: all).", show_default=False),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Jobs run at once (default CINESONIC_WORKER_CONCURRENCY).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run a job worker until SIGTERM or Ctrl-C (running jobs get 30 s to finish).

    Any number of workers on any number of machines share one PostgreSQL queue; with SQLite,
    the worker inside `cinesonic serve` is the one consumer."""
    settings = load_settings(data_dir=data_dir, worker_concurrency=concurrency)
    if settings.is_sqlite:
        fail(
            "`cinesonic worker` needs PostgreSQL (CINESONIC_DATABASE_URL); with SQLite, "
            "`cinesonic serve` runs the worker itself."
        )
    settings.prepare_data_dir()
    configure_logging(settings)
    selected = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    with _database_errors():
        asyncio.run(
            _run_worker(
                settings, selected or settings.worker_queues or None, settings.worker_concurrency
            )
        )


# ---------------------------------------------------------------- scan


async def _scan(settings: Settings, library: str | None, full: bool) -> int:
    last_shown = [0.0]

    def show(name: str, progress: Progress) -> None:
        now = time.monotonic()
        if now - last_shown[0] >= 1.0:
            last_shown[0] = now
            typer.echo(f"{name}: {progress.message}", err=True)

    async with running_state(settings) as state:
        try:
            outcomes = await scan_in_foreground(
                state.db, state.bus, settings, library, full=full, on_progress=show
            )
        except AppError as exc:  # no such library
            fail(exc.message)
    if not outcomes:
        typer.echo("No enabled music library to scan.")
    for outcome in outcomes:
        counts = ", ".join(
            f"{outcome.counters.get(key, 0)} {key}"
            for key in ("added", "updated", "moved", "removed", "unchanged", "failed")
        )
        detail = f": {outcome.message}" if outcome.message else ""
        typer.echo(f"{outcome.library}: {outcome.status} ({counts}){detail}")
    return 0 if all(outcome.status == "succeeded" for outcome in outcomes) else 1


@app.command()
def scan(
    library: Annotated[
        str | None,
        typer.Argument(help="Library name or id (default: every enabled library)."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Reopen every file, changed or not.")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Scan libraries now, in this process (a running server sees the scan as a job).

    Exit code 1 when a scan failed or another one of the same library is under way."""
    settings = load_settings(data_dir=data_dir)
    settings.prepare_data_dir()
    configure_logging(settings)
    with _database_errors():
        runner.upgrade(settings.resolved_database_url)
        code = asyncio.run(_scan(settings, library, full))
    raise typer.Exit(code)


# ---------------------------------------------------------------- version


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"cinesonic {__version__}")


def main() -> None:
    app(prog_name="cinesonic")
