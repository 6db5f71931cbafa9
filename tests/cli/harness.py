"""Running the real command line: in-process through Typer's CliRunner, as a subprocess, or on
a pseudo-terminal; plus a look at the database the commands wrote, through the real app."""

from __future__ import annotations

import asyncio
import ctypes
import os
import pty
import select
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from click.testing import Result
from typer.testing import CliRunner

from cinesonic.app import create_app
from cinesonic.cli import app as cli_app
from cinesonic.config import Settings

PASSWORD = "Correct-Horse-9"
STARTUP_SECONDS = 60  # generous: two test workers share two cores
STOP_SECONDS = 10
PR_SET_PDEATHSIG = 1  # prctl(2)


def command_environment(settings: Settings) -> dict[str, str | None]:
    """The `CINESONIC_*` variables that point a command at the test's data and database.
    Every other `CINESONIC_*` variable of the caller's shell is removed (None)."""
    wanted: dict[str, str | None] = {
        "CINESONIC_DATA_DIR": str(settings.data_dir),
        "CINESONIC_DATABASE_URL": settings.database_url,
        "CINESONIC_REDIS_URL": settings.redis_url,
        "CINESONIC_REDIS_PREFIX": settings.redis_prefix,
        "CINESONIC_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "CINESONIC_ARGON2_MEMORY_COST_KIB": str(settings.argon2_memory_cost_kib),
    }
    stray = {name: None for name in os.environ if name.startswith("CINESONIC_")}
    return {**stray, **wanted}


def process_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `python -m cinesonic` subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CINESONIC_")}
    env.update({k: v for k, v in command_environment(settings).items() if v is not None})
    env.update(extra)
    return env


async def invoke(
    settings: Settings, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
) -> Result:
    """Run `cinesonic *args` in-process (in a thread: the commands run their own event loop)."""
    environment = {**command_environment(settings), **(env or {})}
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, cli_app, list(args), input=input, env=environment, catch_exceptions=False
    )


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the database the commands wrote, and a client talking to it."""
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def sign_in(client: httpx.AsyncClient, identifier: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"identifier": identifier, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    process: asyncio.subprocess.Process
    base_url: str
    stdout_path: Path
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def send(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    async def exit_code(self) -> int:
        """The exit code, which must come within STOP_SECONDS."""
        return await asyncio.wait_for(self.process.wait(), STOP_SECONDS)


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the test process dies, never left behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@asynccontextmanager
async def launched(
    settings: Settings, workdir: Path, port: int | None = None, **extra_env: str
) -> AsyncIterator[ServerProcess]:
    """`python -m cinesonic serve` as a real process (not waiting for it to listen); killed
    if still running when the block ends."""
    port = port or free_port()
    stdout_path, stderr_path = workdir / "serve.stdout", workdir / "serve.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "cinesonic", "serve"),
            *("--port", str(port), "--data-dir", str(settings.data_dir)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=process_environment(settings, **extra_env),
            preexec_fn=_die_with_parent,
        )
    try:
        yield ServerProcess(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@asynccontextmanager
async def serving(
    settings: Settings, workdir: Path, **extra_env: str
) -> AsyncIterator[ServerProcess]:
    """A launched server, answering /healthz."""
    async with launched(settings, workdir, **extra_env) as server:
        await _wait_until_alive(server)
        yield server


async def _wait_until_alive(server: ServerProcess) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                raise AssertionError(
                    f"serve exited with {server.process.returncode}:\n{server.stderr}"
                )
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(
        f"serve did not answer /healthz within {STARTUP_SECONDS} s:\n{server.stderr}"
    )


@dataclass
class TerminalSession:
    exit_code: int
    screen: str  # everything the terminal showed


def run_in_terminal(
    args: list[str], env: Mapping[str, str], answers: list[tuple[str, str]], timeout: float = 60
) -> TerminalSession:
    """Run `python -m cinesonic *args` with a pseudo-terminal as its controlling terminal,
    answering `answers` in order: each (prompt, text) types text and Enter once the prompt
    shows after the previous answer."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command
        os.execve(sys.executable, [sys.executable, "-m", "cinesonic", *args], dict(env))
    screen = b""
    pending = list(answers)
    answered_at = 0  # where the screen stood at the last answer
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
            if pending and pending[0][0].encode() in screen[answered_at:]:
                os.write(fd, f"{pending.pop(0)[1]}\r".encode())
                answered_at = len(screen)
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return TerminalSession(os.waitstatus_to_exitcode(status), screen.decode(errors="replace"))
