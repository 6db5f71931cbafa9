"""`cinesonic user create-admin`: the password comes from a hidden, confirmed prompt or from
standard input, never from argv; registration's rules apply; duplicates are a clean error."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from cinesonic.config import Settings
from cinesonic.db import Database
from cinesonic.models.activity import Activity
from cinesonic.models.user import User
from tests.cli.harness import (
    PASSWORD,
    invoke,
    process_environment,
    run_in_terminal,
    running_app,
    sign_in,
)

ADA = ("--username", "ada", "--email", "ada@example.com")


async def count_users(settings: Settings) -> int:
    db = Database(settings)
    try:
        async with db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(User)) or 0)
    finally:
        await db.dispose()


async def test_create_admin_reads_the_password_from_piped_stdin(settings: Settings) -> None:
    result = await invoke(settings, "user", "create-admin", *ADA, input=f"{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Created administrator 'ada' <ada@example.com>" in result.stdout
    async with running_app(settings) as client:
        me = await client.get("/api/v1/auth/me", headers=await sign_in(client, "ada", PASSWORD))
    assert me.json()["roles"] == ["admin"]


async def test_create_admin_marks_the_email_verified(settings: Settings) -> None:
    await invoke(settings, "user", "create-admin", *ADA, input=f"{PASSWORD}\n")

    async with running_app(settings) as client:
        me = await client.get("/api/v1/auth/me", headers=await sign_in(client, "ada", PASSWORD))
    assert me.json()["is_email_verified"] is True


async def test_create_admin_with_password_stdin_flag_reads_the_first_line(
    settings: Settings,
) -> None:
    result = await invoke(
        settings, "user", "create-admin", *ADA, "--password-stdin", input=f"{PASSWORD}\nignored\n"
    )

    assert result.exit_code == 0, result.output
    async with running_app(settings) as client:
        await sign_in(client, "ada", PASSWORD)


async def test_create_admin_records_an_activity_entry(settings: Settings) -> None:
    await invoke(settings, "user", "create-admin", *ADA, input=f"{PASSWORD}\n")

    db = Database(settings)
    try:
        async with db.session() as session:
            user = await session.scalar(select(User).where(User.username == "ada"))
            entry = await session.scalar(
                select(Activity).where(Activity.action == "user.create_admin_cli")
            )
    finally:
        await db.dispose()
    assert user is not None and entry is not None
    assert (entry.resource_type, entry.resource_id) == ("user", str(user.id))
    assert entry.actor_name == "cli"
    assert entry.details["username"] == "ada"


async def test_create_admin_prompts_for_a_hidden_confirmed_password_on_a_terminal(
    settings: Settings,
) -> None:
    session = await asyncio.to_thread(
        run_in_terminal,
        ["user", "create-admin", *ADA],
        process_environment(settings),
        [("Password: ", PASSWORD), ("Repeat for confirmation: ", PASSWORD)],
    )

    assert session.exit_code == 0, session.screen
    assert "Repeat for confirmation" in session.screen
    assert PASSWORD not in session.screen
    async with running_app(settings) as client:
        await sign_in(client, "ada", PASSWORD)


async def test_create_admin_asks_again_when_the_confirmation_differs(settings: Settings) -> None:
    session = await asyncio.to_thread(
        run_in_terminal,
        ["user", "create-admin", *ADA],
        process_environment(settings),
        [
            ("Password: ", "Something-Else-1"),
            ("Repeat for confirmation: ", PASSWORD),
            ("Password: ", PASSWORD),
            ("Repeat for confirmation: ", PASSWORD),
        ],
    )

    assert session.exit_code == 0, session.screen
    assert "do not match" in session.screen
    async with running_app(settings) as client:
        await sign_in(client, "ada", PASSWORD)


async def test_create_admin_has_no_password_option(settings: Settings) -> None:
    result = await invoke(
        settings, "user", "create-admin", *ADA, "--password", PASSWORD, input=f"{PASSWORD}\n"
    )

    assert result.exit_code == 2
    assert "No such option: --password" in result.stderr


async def test_create_admin_refuses_an_empty_password(settings: Settings) -> None:
    result = await invoke(settings, "user", "create-admin", *ADA, input="\n")

    assert result.exit_code == 1
    assert result.stderr == "error: no password on standard input (the first line is read).\n"


async def test_create_admin_enforces_the_password_policy(settings: Settings) -> None:
    result = await invoke(settings, "user", "create-admin", *ADA, input="password\n")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: password: ")
    assert "needs a digit" in result.stderr
    assert "needs a special character" in result.stderr


async def test_create_admin_refuses_an_invalid_username(settings: Settings) -> None:
    result = await invoke(
        settings,
        "user",
        "create-admin",
        *("--username", "a b", "--email", "ab@example.com"),
        input=f"{PASSWORD}\n",
    )

    assert result.exit_code == 1
    assert "username: use 3–32 letters" in result.stderr


async def test_create_admin_refuses_an_invalid_email(settings: Settings) -> None:
    result = await invoke(
        settings,
        "user",
        "create-admin",
        *("--username", "ada", "--email", "not-an-address"),
        input=f"{PASSWORD}\n",
    )

    assert result.exit_code == 1
    assert result.stderr.startswith("error: email: value is not a valid email address")


async def test_create_admin_refuses_a_taken_username_without_a_traceback(
    settings: Settings,
) -> None:
    await invoke(settings, "user", "create-admin", *ADA, input=f"{PASSWORD}\n")

    result = await invoke(
        settings,
        "user",
        "create-admin",
        *("--username", "ADA", "--email", "other@example.com"),
        input=f"{PASSWORD}\n",
    )

    assert result.exit_code == 1
    assert result.stderr == "error: That username is taken.\n"
    assert await count_users(settings) == 1


async def test_create_admin_refuses_a_taken_email(settings: Settings) -> None:
    await invoke(settings, "user", "create-admin", *ADA, input=f"{PASSWORD}\n")

    result = await invoke(
        settings,
        "user",
        "create-admin",
        *("--username", "grace", "--email", "ADA@example.com"),
        input=f"{PASSWORD}\n",
    )

    assert result.exit_code == 1
    assert result.stderr == "error: An account with that email exists.\n"


async def test_create_admin_migrates_an_empty_database_first(settings: Settings) -> None:
    result = await invoke(settings, "user", "create-admin", *ADA, input=f"{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert (await invoke(settings, "migrate", "--check")).exit_code == 0
