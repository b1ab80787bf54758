"""`wfhost schedules` against a real store and a real registered package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.packages import build_sample, make_key
from typer.testing import CliRunner

from wfhost.cli import app

WORKFLOW = "data_processing::data_processing"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with tenant acme, its key trusted and data_processing registered."""
    root = tmp_path_factory.mktemp("schedules-cli")
    key = make_key(root)
    archive = build_sample("data_processing", key, root / "dist")
    home = root / "home"
    for args in (["tenant", "create", "acme"], ["trust", str(key.pub_path), "--label", "ci"],
                 ["register", str(archive)]):
        result = _invoke(home, *args)
        assert result.exit_code == 0, (result.stdout, result.stderr)
    return home


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WFHOST_HOME", "WFHOST_DATABASE_URL", "WFHOST_TENANT", "WFHOST_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def _invoke(home: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--home", str(home), "--tenant", "acme", *args])


def _json(home: Path, *args: str) -> Any:
    result = _invoke(home, *args, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_add_list_pause_resume_trigger_delete(home: Path) -> None:
    added = _json(home, "schedules", "add", "morning", WORKFLOW, "--cron", "0 9 * * MON-FRI",
                  "--timezone", "Europe/Berlin", "--input", '{"source": "s3://b"}',
                  "--catchup", "one", "--overlap", "skip")
    assert added["cron"] == "0 9 * * MON-FRI" and added["timezone"] == "Europe/Berlin"
    assert added["catchup"] == "one" and added["overlap"] == "skip" and added["paused"] is False
    assert added["next_tick_at"].endswith(":00:00.000Z") and added["runs"] == []
    [listed] = _json(home, "schedules", "list")
    assert listed["name"] == "morning" and listed["next_tick_at"] == added["next_tick_at"]
    assert _json(home, "schedules", "pause", "morning")["paused"] is True
    assert _json(home, "schedules", "resume", "morning")["paused"] is False
    eid = _json(home, "schedules", "trigger", "morning")["id"]
    assert eid.startswith("morning-")
    status = _json(home, "status", eid)
    assert status["status"] == "pending" and status["input"] == {"source": "s3://b"}
    runs = _json(home, "schedules", "list", "morning")["runs"]
    assert [(r["outcome"], r["execution_id"]) for r in runs] == [("started", eid)]
    table = _invoke(home, "schedules", "list")
    assert "morning" in table.stdout and "0 9 * * MON-FRI (Europe/Berlin)" in table.stdout
    assert _invoke(home, "schedules", "delete", "morning").exit_code == 0
    assert _json(home, "schedules", "list") == []
    assert _json(home, "status", eid)["id"] == eid  # the execution it started stays


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--cron", "61 * * * *"], 2, "error: bad cron expression '61 * * * *': Bad minute"),
    (["--cron", "* * * * *", "--timezone", "Mars/Olympus"], 2, "error: unknown time zone 'Mars/Olympus'"),
    (["--cron", "* * * * *", "--catchup", "most"], 2, "error: unknown catch-up policy 'most'"),
    (["--cron", "* * * * *", "--input", "[1]"], 2, "error: schedule input must be a JSON object"),
])
def test_bad_schedules_are_one_line_errors_and_add_nothing(
        home: Path, args: list[str], code: int, message: str) -> None:
    result = _invoke(home, "schedules", "add", "bad", WORKFLOW, *args)
    assert result.exit_code == code
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert _json(home, "schedules", "list") == []


def test_unknown_workflow_schedule_and_duplicate_names_exit_3_and_4(home: Path) -> None:
    unknown = _invoke(home, "schedules", "add", "x", "nope::nothing", "--cron", "* * * * *")
    assert unknown.exit_code == 3
    assert _invoke(home, "schedules", "pause", "ghost").exit_code == 3
    assert _invoke(home, "schedules", "add", "twice", WORKFLOW, "--cron", "* * * * *").exit_code == 0
    again = _invoke(home, "schedules", "add", "twice", WORKFLOW, "--cron", "0 * * * *")
    assert again.exit_code == 4 and "already has a schedule named 'twice'" in again.stderr
    assert _invoke(home, "schedules", "delete", "twice").exit_code == 0
