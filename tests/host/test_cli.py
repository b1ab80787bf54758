"""The `wfhost` command line against a real store: packages, executions, errors, a worker.

Commands run in-process through typer's `CliRunner`; anything that runs a host
(``schedule --wait`` with its embedded host, ``worker``) runs in a real
subprocess (``python -m wfhost``), as a user runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.packages import TestKey, build_sample, make_key
from typer.testing import CliRunner

from wfhost.cli.app import app, exit_code_for

WORKFLOW = "data_processing::data_processing"
DEADLINE = 60.0


@pytest.fixture(scope="session")
def cli_key(tmp_path_factory: pytest.TempPathFactory) -> TestKey:
    return make_key(tmp_path_factory.mktemp("cli-key"))


@pytest.fixture(scope="session")
def cli_archive(tmp_path_factory: pytest.TempPathFactory, cli_key: TestKey) -> Path:
    return build_sample("data_processing", cli_key, tmp_path_factory.mktemp("cli-dist"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WFHOST_HOME", "WFHOST_DATABASE_URL", "WFHOST_TENANT", "WFHOST_DEBUG"):
        monkeypatch.delenv(name, raising=False)


class Cli:
    """Runs `wfhost` for one home and tenant, in-process or as a subprocess."""

    def __init__(self, home: Path, tenant: str = "acme") -> None:
        self.home = home
        self.tenant = tenant

    def argv(self, *args: str) -> list[str]:
        return ["--home", str(self.home), "--tenant", self.tenant, *args]

    def __call__(self, *args: str) -> Any:
        return CliRunner().invoke(app, self.argv(*args))

    def ok(self, *args: str) -> Any:
        result = self(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wfhost", *self.argv(*args)],
                              capture_output=True, text=True, timeout=timeout, env=_child_env())

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "wfhost", *self.argv(*args)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_child_env())


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WFHOST_HOME", "WFHOST_DATABASE_URL", "WFHOST_TENANT")}
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


@pytest.fixture
def ready(cli: Cli, cli_key: TestKey, cli_archive: Path) -> Cli:
    """A home where tenant ``acme`` trusts the key and has ``data_processing`` registered."""
    cli.ok("tenant", "create", "acme")
    cli.ok("trust", str(cli_key.pub_path), "--label", "ci")
    cli.ok("register", str(cli_archive))
    return cli


def assert_one_line_error(result: Any, code: int) -> str:
    """The failure is exactly one ``error:`` line on stderr, no traceback, nothing on stdout."""
    stderr = result.stderr
    assert result.exit_code == code, (result.exit_code, result.stdout, stderr, result.exception)
    assert stderr.startswith("error: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    assert result.stdout == ""
    return str(stderr)


def poll_status(cli: Cli, eid: str, until: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while True:
        state = cli.json("status", eid)
        if state["status"] in until:
            return dict(state)
        assert time.monotonic() < deadline, f"{eid} still {state['status']} after {DEADLINE}s"
        time.sleep(0.1)


# -- packages and trust ---------------------------------------------------------------------------


def test_tenant_trust_register_and_packages_listings(ready: Cli, cli_key: TestKey) -> None:
    assert ready.json("tenant", "list") == ["acme"]
    keys = ready.json("trust", "--list")
    assert [(k["key_id"], k["label"], k["revoked_at"]) for k in keys] == [(cli_key.key_id, "ci", None)]
    (pkg,) = ready.json("packages")
    assert (pkg["tenant"], pkg["package"], pkg["version"], pkg["state"], pkg["key_id"]) == (
        "acme", "data_processing", "1.0.0", "active", cli_key.key_id)
    assert pkg["workflows"] == ["data_processing"]
    table = ready.ok("packages").stdout
    assert "data_processing" in table and "active" in table
    assert ready.json("packages", "--all-tenants")[0]["tenant"] == "acme"


def test_register_untrusted_archive_is_bad_input(cli: Cli, cli_archive: Path) -> None:
    cli.ok("tenant", "create", "acme")
    err = assert_one_line_error(cli("register", str(cli_archive)), 2)
    assert "acme" in err


def test_register_missing_file_and_unknown_tenant(cli: Cli, cli_archive: Path) -> None:
    assert_one_line_error(cli("register", str(cli.home / "nope.wfpkg")), 2)
    assert_one_line_error(cli("register", str(cli_archive)), 3)  # tenant acme does not exist


def test_existing_tenant_is_a_conflict(cli: Cli) -> None:
    cli.ok("tenant", "create", "acme")
    assert_one_line_error(cli("tenant", "create", "acme"), 4)
    assert_one_line_error(cli("tenant", "create", "Bad Name"), 2)


def test_revoke_then_unregister(ready: Cli, cli_key: TestKey) -> None:
    ready.ok("revoke", cli_key.key_id)
    assert ready.json("trust", "--list")[0]["revoked_at"] is not None
    ready.ok("unregister", "data_processing")
    assert ready.json("packages")[0]["state"] == "retired"
    assert_one_line_error(ready("schedule", WORKFLOW), 3)


# -- executions ---------------------------------------------------------------------------------


def test_schedule_wait_without_a_worker_runs_embedded(ready: Cli) -> None:
    proc = ready.run("schedule", WORKFLOW, "--input", '{"fail_first_attempts": 1}', "--wait")
    assert proc.returncode == 0, proc.stderr
    assert "running it here" in proc.stderr
    assert "succeeded" in proc.stdout and "final_report" in proc.stdout
    assert "attempt 2" in proc.stdout  # process_data was retried once

    proc = ready.run("schedule", WORKFLOW, "--input", '{"threshold": 5}', "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout)
    assert state["status"] == "succeeded"
    assert state["output"]["final_report"]["records"] == 12
    assert [t["state"] for t in state["tasks"]] == ["succeeded"] * 3


def test_failed_execution_with_wait_exits_1(ready: Cli) -> None:
    proc = ready.run("schedule", WORKFLOW, "--input", '{"fail_first_attempts": 3}', "--wait", "--json")
    assert proc.returncode == 1, proc.stderr
    state = json.loads(proc.stdout)
    assert state["status"] == "failed"
    process = next(t for t in state["tasks"] if t["task"] == "process_data")
    assert (process["state"], process["attempts"]) == ("failed", 3)
    assert "simulated failure" in process["error"]


def test_worker_runs_what_schedule_starts(ready: Cli, tmp_path: Path) -> None:
    worker = ready.popen("worker", "--concurrency", "4")
    try:
        deadline = time.monotonic() + DEADLINE
        from wfhost.engine.notify import live_hosts
        from wfhost.store import open_engine, resolve_url

        engine = open_engine(resolve_url(ready.home))
        try:
            while not live_hosts(engine):
                assert worker.poll() is None, worker.communicate()
                assert time.monotonic() < deadline, "the worker never registered"
                time.sleep(0.1)
        finally:
            engine.dispose()

        started = time.monotonic()
        eid = ready.ok("schedule", WORKFLOW, "--input", "{}").stdout.strip()
        assert time.monotonic() - started < 10
        assert len(eid) >= 8 and "\n" not in eid
        state = poll_status(ready, eid, ("succeeded", "failed", "cancelled"))
        assert state["status"] == "succeeded", state

        # --wait with a live host waits for it instead of running one here.
        proc = ready.run("schedule", WORKFLOW, "--input", "{}", "--wait", "--json")
        assert proc.returncode == 0, proc.stderr
        assert "waiting for a running host" in proc.stderr
        assert json.loads(proc.stdout)["status"] == "succeeded"

        rows = ready.json("executions")
        assert {r["id"] for r in rows} >= {eid} and len(rows) == 2
        assert all(r["status"] == "succeeded" for r in rows)
        assert ready.json("executions", "--status", "failed") == []
        assert len(ready.json("executions", "--limit", "1")) == 1
        events = ready.json("history", eid)
        kinds = [e["kind"] for e in events]
        assert kinds and all(e["at"].endswith("Z") for e in events)
        assert "history" not in ready.ok("history", eid).stderr
        assert eid in ready.ok("status", eid).stdout
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            _out, err = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
    assert worker.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err


def test_watch_follows_to_the_end(ready: Cli) -> None:
    proc = ready.run("schedule", WORKFLOW, "--input", "{}", "--wait", "--json")
    eid = json.loads(proc.stdout)["id"]
    result = ready("watch", eid)
    assert result.exit_code == 0, result.stderr
    assert "3/3 tasks" in result.stdout


def test_signal_and_cancel_a_pending_execution(ready: Cli) -> None:
    eid = ready.ok("schedule", WORKFLOW, "--id", "order-1").stdout.strip()
    assert eid == "order-1"
    ready.ok("signal", eid, "approval", "--payload", '{"approved": true}')
    assert "cancellation requested" in ready.ok("cancel", eid, "--reason", "test").stdout
    proc = ready.run("schedule", WORKFLOW, "--id", "order-1", "--wait", "--json")
    assert proc.returncode == 1  # the same id and input: the cancelled execution
    assert json.loads(proc.stdout)["status"] == "cancelled"


# -- errors -------------------------------------------------------------------------------------------


def test_unknown_execution_exits_3(ready: Cli) -> None:
    for args in (("status", "nope"), ("history", "nope"), ("watch", "nope"),
                 ("signal", "nope", "go"), ("cancel", "nope")):
        assert_one_line_error(ready(*args), 3)


def test_bad_json_input_exits_2(ready: Cli, tmp_path: Path) -> None:
    assert "not valid JSON" in assert_one_line_error(ready("schedule", WORKFLOW, "--input", "{bad"), 2)
    assert_one_line_error(ready("schedule", WORKFLOW, "--input", "[1, 2]"), 2)
    assert_one_line_error(ready("schedule", WORKFLOW, "--input", f"@{tmp_path / 'missing.json'}"), 2)
    assert_one_line_error(ready("signal", "x", "go", "--payload", "nope"), 2)
    good = tmp_path / "input.json"
    good.write_text('{"threshold": 3}', encoding="utf-8")
    eid = ready.ok("schedule", WORKFLOW, "--input", f"@{good}").stdout.strip()
    assert ready.json("status", eid)["input"] == {"threshold": 3}


def test_bad_workflow_name_exits_2_and_unknown_one_3(ready: Cli) -> None:
    assert_one_line_error(ready("schedule", "not a name"), 2)
    assert_one_line_error(ready("schedule", "Bad::Name"), 2)
    assert_one_line_error(ready("schedule", "nope::workflow"), 3)
    assert_one_line_error(ready("schedule", "data_processing@9.9.9::data_processing"), 3)


def test_reused_id_with_other_input_exits_4(ready: Cli) -> None:
    first = ready.ok("schedule", WORKFLOW, "--id", "job-1", "--input", '{"a": 1}').stdout.strip()
    again = ready.ok("schedule", WORKFLOW, "--id", "job-1", "--input", '{"a": 1}').stdout.strip()
    assert first == again == "job-1"
    assert "job-1" in assert_one_line_error(
        ready("schedule", WORKFLOW, "--id", "job-1", "--input", '{"a": 2}'), 4)


def test_full_name_picks_the_tenant(ready: Cli) -> None:
    argv = ["--home", str(ready.home), "schedule", f"acme::{WORKFLOW}", "--json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.stderr
    eid = json.loads(result.stdout)["id"]
    assert ready.json("status", eid)["tenant"] == "acme"
    # Without --tenant, an id is looked up for tenant "default".
    assert_one_line_error(CliRunner().invoke(app, ["--home", str(ready.home), "status", eid]), 3)
    assert_one_line_error(ready("schedule", f"other::{WORKFLOW}"), 2)


def test_exit_codes_of_registry_errors() -> None:
    from wfpkg.errors import InvalidName
    from wfregistry import errors as reg

    assert exit_code_for(reg.ArchiveRejected("x")) == 2
    assert exit_code_for(reg.LoadError("x")) == 2
    assert exit_code_for(reg.TrustError("x")) == 2
    assert exit_code_for(reg.UnknownTenant("x")) == 3
    assert exit_code_for(reg.PackageNotFound("x")) == 3
    assert exit_code_for(reg.VersionConflict("x")) == 4
    assert exit_code_for(reg.TenantExists("x")) == 4
    assert exit_code_for(InvalidName("x")) == 2
    assert exit_code_for(RuntimeError("x")) == 1


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in ("tenant", "trust", "revoke", "register", "packages", "unregister", "schedule",
                 "status", "watch", "executions", "history", "signal", "cancel", "worker", "demo"):
        assert name in result.stdout
