"""docs/cli.md matches the `wfhost` command line: every command and option `--help` shows is documented.

The commands and their options are read from `--help` output, as a user sees
them; the documentation from the ``### `wfhost ...` `` headings of docs/cli.md
and its table of global options. A new command or option without a line in the
docs fails here, and so does a documented one that no longer exists.
"""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from wfhost.cli.app import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (path, result.stdout, result.stderr)
    return str(result.stdout)


def _panel(text: str, title: str) -> list[str]:
    """The first word of each row of a rich help panel (``Commands``)."""
    if f"─ {title} " not in text:
        return []
    body = text.split(f"─ {title} ", 1)[1].split("╰", 1)[0]
    rows = [line.strip("│ ").split() for line in body.splitlines()[1:]]
    return [row[0] for row in rows if row and re.fullmatch(r"[a-z][a-z-]*", row[0])]


def _options(text: str) -> set[str]:
    """The options of a command's ``Options`` panel, without ``--help``."""
    if "─ Options " not in text:
        return set()
    body = text.split("─ Options ", 1)[1].split("╰", 1)[0]
    rows = (line.strip("│ *") for line in body.splitlines()[1:])  # "*" marks a required option
    return {row.split()[0] for row in rows if row.startswith("--")} - {"--help"}


def cli_commands() -> dict[str, set[str]]:
    """``"tenant create"`` -> its options, for every command `--help` lists (groups expanded)."""
    found: dict[str, set[str]] = {}
    pending = [(name,) for name in _panel(_help(), "Commands")]
    while pending:
        path = pending.pop()
        text = _help(*path)
        subcommands = _panel(text, "Commands")
        if subcommands:
            pending.extend((*path, sub) for sub in subcommands)
        else:
            found[" ".join(path)] = _options(text)
    return found


def documented_commands() -> dict[str, set[str]]:
    """``"tenant create"`` -> options named in its ``### `wfhost ...` `` heading(s)."""
    found: dict[str, set[str]] = {}
    for heading in re.findall(r"(?m)^### `wfhost ([^`]+)`", DOC.read_text(encoding="utf-8")):
        words = []
        for word in heading.split():
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        found.setdefault(" ".join(words), set()).update(OPTION.findall(heading))
    return found


def test_every_command_and_option_is_documented_and_nothing_else() -> None:
    actual, documented = cli_commands(), documented_commands()
    assert "tenant create" in actual and "--children" in actual["executions"]  # the parsing works
    assert sorted(actual) == sorted(documented)
    for name, options in actual.items():
        assert options == documented[name], name


def test_global_options_are_documented() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Global options", 1)[1].split("\n## ", 1)[0]
    assert _options(_help()) == set(OPTION.findall(section))
