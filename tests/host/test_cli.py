"""The `wfhost` command line against a real store: packages, executions, errors, a worker.

Commands run in-process through typer's `CliRunner`; anything that runs a host
(``schedule --wait`` with its embedded host, ``worker``) runs in a real
subprocess (``python -m wfhost``), as a user runs it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import Cli, assert_one_line_error
from support.packages import TestKey, build_sample, make_key
from typer.testing import CliRunner

from wfhost.cli.app import app, exit_code_for
from wfpkg.protocol import TERMINAL_EXECUTION

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
        state = poll_status(ready, eid, tuple(TERMINAL_EXECUTION))
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
        assert kinds and all(e["at"].endswith("Z") for e in events)  # RFC 3339 UTC
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


# -- as a new user finds it (issue 8, part 2) ---------------------------------------------------------

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _times(doc: Any, path: str = "") -> dict[str, Any]:
    """Every ``at`` / ``*_at`` value in a JSON document, by its path."""
    found: dict[str, Any] = {}
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("input", "output"):
                continue
            if key == "at" or key.endswith("_at"):
                found[f"{path}.{key}"] = value
            else:
                found.update(_times(value, f"{path}.{key}"))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found.update(_times(value, f"{path}[{i}]"))
    return found


def test_executions_status_must_be_a_known_state(ready: Cli) -> None:
    proc = ready.run("executions", "--status", "bogus")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    for value in ("pending", "running", "waiting", "succeeded", "failed", "cancelled", "active"):
        assert value in proc.stderr


def test_json_times_are_rfc3339_utc_everywhere(ready: Cli) -> None:
    proc = ready.run("schedule", WORKFLOW, "--input", "{}", "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    eid = json.loads(proc.stdout)["id"]
    docs = {name: ready.json(*args) for name, args in {
        "packages": ("packages",), "trust": ("trust", "--list"), "status": ("status", eid),
        "history": ("history", eid), "executions": ("executions",)}.items()}
    for name, doc in docs.items():
        times = _times(doc)
        assert times, name
        for where, value in times.items():
            assert value is None or RFC3339.match(value), (name, where, value)
    status = docs["status"]
    assert status["cancel_requested"] is False
    assert all(status[k] for k in ("created_at", "started_at", "finished_at"))
    assert status["tasks"][0]["started_at"].endswith("Z")
    assert isinstance(status["tasks"][0]["duration"], float)  # durations stay seconds
    assert docs["trust"][0]["revoked_at"] is None


def test_trusting_a_key_again_is_a_no_op(ready: Cli, cli_key: TestKey) -> None:
    result = ready.ok("trust", str(cli_key.pub_path))
    assert "already trusts" in result.stdout and cli_key.key_id in result.stdout
    assert ready.json("trust", str(cli_key.pub_path))["already_trusted"] is True
    assert len(ready.json("trust", "--list")) == 1


def test_revoking_an_unknown_key_and_listing_a_ghost_tenant_are_not_found(ready: Cli) -> None:
    assert "nope" in assert_one_line_error(ready("revoke", "nope"), 3)
    ghost = Cli(ready.home, tenant="ghost")
    assert "ghost" in assert_one_line_error(ghost("executions"), 3)
    assert_one_line_error(ghost("packages"), 3)
    assert ready.json("executions") == []  # a tenant that exists, with nothing yet: fine


def test_trust_says_which_key_file_and_what_to_give(cli: Cli, cli_key: TestKey, tmp_path: Path) -> None:
    cli.ok("tenant", "create", "acme")
    missing = tmp_path / "nope.pub"
    err = assert_one_line_error(cli("trust", str(missing)), 2)
    assert str(missing) in err and "Errno" not in err and ".pub" in err
    err = assert_one_line_error(cli("trust", str(cli_key.path)), 2)
    assert "private key" in err and f"{cli_key.path}.pub" in err


def test_reregistering_says_already_registered_and_hints_pin_an_older_version(
        ready: Cli, cli_key: TestKey, cli_archive: Path, tmp_path: Path) -> None:
    again = ready.ok("register", str(cli_archive)).stdout
    assert again.startswith("already registered acme::data_processing@1.0.0"), again
    assert ready.json("register", str(cli_archive))["already_registered"] is True

    newer = build_sample("data_processing", cli_key, tmp_path / "v2", version="2.0.0")
    fresh = ready.ok("register", str(newer)).stdout
    assert fresh.startswith("registered acme::data_processing@2.0.0 (active)"), fresh
    assert "schedule data_processing::data_processing" in fresh

    older = ready.ok("register", str(cli_archive)).stdout
    assert "(inactive)" in older
    assert "schedule data_processing@1.0.0::data_processing" in older


def test_activate_rolls_back_to_a_registered_version(
        ready: Cli, cli_key: TestKey, tmp_path: Path) -> None:
    ready.ok("register", str(build_sample("data_processing", cli_key, tmp_path / "v2", version="2.0.0")))
    assert "data_processing@1.0.0 is now the active version" in ready.ok(
        "activate", "data_processing", "1.0.0").stdout
    states = {p["version"]: p["state"] for p in ready.json("packages")}
    assert states == {"1.0.0": "active", "2.0.0": "inactive"}
    eid = ready.ok("schedule", WORKFLOW).stdout.strip()
    assert ready.json("status", eid)["version"] == "1.0.0"
    assert_one_line_error(ready("activate", "data_processing", "9.9.9"), 3)
    ready.ok("unregister", "data_processing", "--version", "2.0.0")
    assert_one_line_error(ready("activate", "data_processing", "2.0.0"), 3)


def test_register_hint_shows_declared_inputs(cli: Cli, cli_key: TestKey, tmp_path: Path) -> None:
    archive = build_sample("purchase_approval", cli_key, tmp_path / "dist")
    cli.ok("tenant", "create", "acme")
    cli.ok("trust", str(cli_key.pub_path))
    out = cli.ok("register", str(archive)).stdout
    assert "input cost: unit cost (required)" in out
    assert ("schedule purchase_approval::purchase_approval "
            "--input '{\"order_id\": ..., \"cost\": ..., \"quantity\": ...}' --wait") in out
    assert "--input '{}'" not in out


def test_schedule_and_watch_say_when_no_host_is_running(ready: Cli) -> None:
    result = ready.ok("schedule", WORKFLOW)
    eid = result.stdout.strip()
    assert "\n" not in eid  # stdout is just the id, for $(...)
    for text in (result.stderr,):
        assert "no host is running" in text and "wfhost worker" in text and "--wait" in text
    watch = ready.popen("watch", eid)
    try:
        assert watch.stderr is not None
        line = watch.stderr.readline()  # the first line comes before it starts waiting
        assert "no host is running" in line and "wfhost worker" in line, line
    finally:
        watch.terminate()
        watch.communicate(timeout=30)


def test_watch_piped_keeps_its_newlines(ready: Cli) -> None:
    eid = json.loads(ready.run("schedule", WORKFLOW, "--input", "{}", "--wait", "--json").stdout)["id"]
    proc = ready.run("watch", eid)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("\n") and "\r" not in proc.stdout and "\x1b" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert any("3/3 tasks" in line for line in lines)
    assert any(line.strip().startswith("data_processing::data_processing") for line in lines), lines
    # The output starts on a line of its own, not glued to the tree's last task.
    assert any(line.strip() == "output" for line in lines), lines
    assert not any("generate_report" in line and "output" in line for line in lines), lines


def test_ids_are_never_cut_and_children_are_listed_on_request(
        cli: Cli, cli_key: TestKey, tmp_path: Path) -> None:
    archive = build_sample("child_workflows", cli_key, tmp_path / "dist")
    cli.ok("tenant", "create", "acme")
    cli.ok("trust", str(cli_key.pub_path))
    cli.ok("register", str(archive))
    proc = cli.run("schedule", "child_workflows::fan_out_fan_in", "--input", '{"items": [1, 2]}',
                   "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    parent = json.loads(proc.stdout)
    children = [c["id"] for c in parent["children"]]
    assert len(children) == 2

    top = cli.json("executions")
    assert [r["id"] for r in top] == [parent["id"]]
    everything = cli.json("executions", "--children")
    assert {r["id"] for r in everything} == {parent["id"], *children}
    assert sorted(r["child"] for r in everything) == [False, True, True]

    table = cli.run("executions", "--children", columns=80)
    assert table.returncode == 0, table.stderr
    assert "…" not in "".join(line.split()[0] for line in table.stdout.splitlines()[1:])
    for eid in (parent["id"], *children):
        assert eid in table.stdout
    tree = cli.run("status", parent["id"], columns=80).stdout
    for eid in (parent["id"], *children):
        assert eid in tree


def test_help_shows_flags_and_arguments_and_lists_commands_in_tour_order() -> None:
    result = CliRunner().invoke(app, ["status", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "EXECUTION_ID" in result.stdout and "{execution_id}" not in result.stdout
    json_line = next(line for line in result.stdout.splitlines() if "--json" in line)
    assert "<bool>" not in json_line and "BOOLEAN" not in json_line
    commands = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"}).stdout
    panel = commands[commands.index("Commands"):]
    first = [line.strip("│ ").split()[0] for line in panel.splitlines()[1:] if line.strip("│ ")[:1].isalpha()]
    assert first[:4] == ["tenant", "trust", "revoke", "register"], first


def test_usage_errors_are_one_red_line(cli: Cli) -> None:
    for args in (("status",), ("schedule",), ("executions", "--bogus")):
        proc = cli.run(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert "╭" not in proc.stderr and proc.stdout == ""


def test_history_leaves_out_empty_details_and_a_cancel_reason_shows_once(ready: Cli) -> None:
    eid = ready.ok("schedule", WORKFLOW, "--id", "order-9").stdout.strip()
    ready.ok("cancel", eid, "--reason", "not needed")
    proc = ready.run("schedule", WORKFLOW, "--id", "order-9", "--wait")
    assert proc.returncode == 1
    assert proc.stdout.count("not needed") == 1, proc.stdout
    history = ready.ok("history", eid).stdout
    assert "null" not in history and "=None" not in history
    assert "version=1.0.0" in history


def test_readme_starts_with_its_title_and_demo_installs_only_what_it_runs() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# wfhost\n")
    assert readme.index("./scripts/demo.sh") < readme.index("\n## ")
    demo = (root / "scripts" / "demo.sh").read_text(encoding="utf-8")
    assert "pip install -q -e ." in demo and "[test]" not in demo
    assert "-e '.[test]'" in (root / "scripts" / "test.sh").read_text(encoding="utf-8")
