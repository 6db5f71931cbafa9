"""The README must not drift from the code: its configuration table is exactly what `Settings`
declares, and its test command is exactly what `.ci/run` runs.

After changing `Settings`, print the table to paste between the README's markers with
`python -m tests.cli.test_readme`.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from cinesonic.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TABLE_START, TABLE_END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value: Any = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if value is None:
        return "*(unset)*"
    if isinstance(value, SecretStr):
        return "*(secret)*"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool | list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def settings_table() -> str:
    rows = [
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `CINESONIC_{name.upper()}` | {_default(name)} | {meaning} |")
    return "\n".join(rows)


def readme_table() -> str:
    text = README.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[start:end].strip()


def test_readme_lists_every_setting_with_its_variable() -> None:
    table = readme_table()

    missing = [n for n in Settings.model_fields if f"`CINESONIC_{n.upper()}`" not in table]

    assert not missing, f"README lacks {missing}; run `python -m tests.cli.test_readme`"


def test_readme_settings_table_matches_defaults_and_meanings() -> None:
    assert readme_table() == settings_table(), "run `python -m tests.cli.test_readme`"


def test_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"^test_command\(\) \{ (.+?) \"\$@\"; \}$", ci, re.M)
    assert match is not None, "`.ci/run` no longer defines test_command() on one line"

    code_lines = re.findall(r"^```sh\n(.+?)\n```$", README.read_text(), re.M)

    assert match.group(1) in code_lines


if __name__ == "__main__":
    print(settings_table())
