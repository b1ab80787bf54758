"""`wfhost serve` as a user runs it: tokens from the CLI, the CLI over HTTP, SIGTERM draining.

The server is a real subprocess on a loopback port; the CLI talks to it with
WFHOST_URL and WFHOST_TOKEN and no home at all.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from support.packages import TestKey, build_sample, make_key
from support.serving import WORKFLOW, serve_process
from support.waiting import until
from typer.testing import CliRunner

from wfhost import Client
from wfhost.cli.app import app

DP = "data_processing::data_processing"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WFHOST_HOME", "WFHOST_DATABASE_URL", "WFHOST_TENANT", "WFHOST_DEBUG", "WFHOST_URL",
                 "WFHOST_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> TestKey:
    return make_key(tmp_path_factory.mktemp("serve-key"))


def wfhost(*args: str, env: dict[str, str] | None = None, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, (args, result.exit_code, result.output, result.exception)
    return result


def _home(tmp: Path, key: TestKey, tenant: str = "acme") -> Path:
    home = tmp / "home"
    wfhost("--home", str(home), "tenant", "create", tenant)
    wfhost("--home", str(home), "--tenant", tenant, "trust", str(key.pub_path))
    return home


def test_the_cli_runs_the_whole_lifecycle_against_a_service(tmp_path: Path, key: TestKey) -> None:
    archive = build_sample("purchase_approval", key, tmp_path / "dist")
    home = _home(tmp_path, key)
    token = wfhost("--home", str(home), "token", "create", "acme", "--label", "ci").stdout.strip()
    assert token.startswith("wfh_") and "\n" not in token
    admin = wfhost("--home", str(home), "token", "create", "--admin").stdout.strip()
    listed = json.loads(wfhost("--home", str(home), "token", "list", "--json").stdout)
    assert [(t["tenant"], t["admin"], t["label"]) for t in listed] == [("acme", False, "ci"), (None, True, None)]
    assert token not in json.dumps(listed) and admin not in json.dumps(listed)

    with serve_process(home) as (proc, url):
        env = {"WFHOST_URL": url, "WFHOST_TOKEN": token}
        out = wfhost("register", str(archive), env=env).stdout
        assert "registered acme::purchase_approval@1.0.0 (active)" in " ".join(out.split())
        pkgs = json.loads(wfhost("packages", "--json", env=env).stdout)
        assert [(p["package"], p["version"], p["state"]) for p in pkgs] == [("purchase_approval", "1.0.0", "active")]

        assert wfhost("schedule", WORKFLOW, "--input", '{"cost": 5000}', "--id", "big", env=env).stdout.strip() == "big"
        remote = Client.connect(url, token)
        until(lambda: remote.status("big")["status"] == "waiting", "big to wait")
        waiting = json.loads(wfhost("status", "big", "--json", env=env).stdout)
        assert waiting["status"] == "waiting" and waiting["tenant"] == "acme"
        wfhost("signal", "big", "approval", "--payload", '{"approved": true, "approver": "ada"}', env=env)
        wfhost("watch", "big", env=env)  # exits 0 once it succeeded
        small = wfhost("schedule", WORKFLOW, "--input", '{"cost": 5}', "--wait", "--json", env=env)
        assert json.loads(small.stdout)["output"]["decision"] == "auto_approved"

        kinds = [e["kind"] for e in json.loads(wfhost("history", "big", "--json", env=env).stdout)]
        assert "signal_received" in kinds and kinds[-1] == "execution_succeeded"
        rows = json.loads(wfhost("executions", "--json", env=env).stdout)
        assert {r["status"] for r in rows} == {"succeeded"} and len(rows) == 2
        assert "already finished" in wfhost("cancel", "big", env=env).stdout

        # The same errors and exit codes as on a local home.
        local = wfhost("--home", str(home), "--tenant", "acme", "status", "nope", code=3)
        over_http = wfhost("status", "nope", env=env, code=3)
        assert over_http.output == local.output
        late = wfhost("signal", "big", "approval", env=env, code=4)
        assert "already succeeded" in late.output
        wfhost("schedule", "acme::nothing::here", env=env, code=3)
        bad = wfhost("status", "big", env={**env, "WFHOST_TOKEN": "wfh_000000000000_x"}, code=1)
        assert "unknown or revoked token" in bad.output

        # The same status, read locally and over HTTP (times to the millisecond).
        there = json.loads(wfhost("status", "big", "--json", env=env).stdout)
        here = json.loads(wfhost("--home", str(home), "--tenant", "acme", "status", "big", "--json").stdout)
        assert there.keys() == here.keys() and there["output"] == here["output"]
        assert [t["state"] for t in there["tasks"]] == [t["state"] for t in here["tasks"]]

        # Operator commands: over HTTP with an admin token; tokens always on the local home.
        admin_env = {"WFHOST_URL": url, "WFHOST_TOKEN": admin}
        wfhost("tenant", "create", "other", env=admin_env)
        assert "now trusts key" in wfhost("--tenant", "other", "trust", str(key.pub_path), env=admin_env).stdout
        assert "needs an admin token" in wfhost("tenant", "create", "third", env=env, code=1).output
        assert len(json.loads(wfhost("--home", str(home), "token", "list", "--json", env=env).stdout)) == 2

        token_id = listed[0]["id"]
        wfhost("--home", str(home), "token", "revoke", token_id)
        wfhost("status", "big", env=env, code=1)
        remote.close()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def test_sigterm_during_100_executions_loses_nothing_and_records_each_result_once(
        tmp_path: Path, key: TestKey) -> None:
    archive = build_sample("purchase_approval", key, tmp_path / "dist")
    home = _home(tmp_path, key)
    token = wfhost("--home", str(home), "token", "create", "acme").stdout.strip()
    ids = [f"order-{i:03d}" for i in range(100)]
    with Client(home, tenant="acme") as local:  # all queued before the service starts
        local.register(archive)
        # Large orders wait for approval until a timeout, spread over three seconds.
        local.schedule_many(WORKFLOW, [{"order_id": eid, "cost": 5000, "timeout_seconds": 0.5 + i * 0.03}
                                       for i, eid in enumerate(ids)], ids=ids)
    with serve_process(home, "--concurrency", "4", "--grace", "5") as (proc, url), \
            Client.connect(url, token) as client:
        until(lambda: client.executions(status="succeeded", limit=1), "a first execution to finish",
              interval=0.001)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, "".join(proc.lines)  # type: ignore[attr-defined]
    with Client(home, tenant="acme") as local:
        unfinished = [r for r in local.executions(limit=200) if r["status"] != "succeeded"]
    assert unfinished, "every execution finished before SIGTERM: the test proved nothing"

    with serve_process(home) as (proc, url), Client.connect(url, token) as client:
        until(lambda: len(client.executions(status="succeeded", limit=200)) == 100, "all 100 to succeed",
              timeout=120)
        for eid in ids:
            history = client.history(eid)
            kinds = [e["kind"] for e in history]
            assert kinds.count("execution_succeeded") == 1, (eid, kinds)
            done = [e["task"] for e in history if e["kind"] == "task_succeeded"]
            assert sorted(done) == ["approval", "cancel_order", "check_order"], (eid, done)
            assert client.status(eid)["output"]["decision"] == "timed_out"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def test_cli_retry_and_token_errors_on_a_local_home(tmp_path: Path, key: TestKey) -> None:
    archive = build_sample("data_processing", key, tmp_path / "dist")
    home = _home(tmp_path, key)
    local = ("--home", str(home), "--tenant", "acme")
    wfhost(*local, "register", str(archive))
    wfhost(*local, "schedule", DP, "--input", '{"fail_first_attempts": 9}', "--id", "bad", "--wait", code=1)
    out = wfhost(*local, "retry", "bad").stdout
    assert "retrying bad: process_data, generate_report" in " ".join(out.split())
    st = json.loads(wfhost(*local, "status", "bad", "--json").stdout)
    states = {t["task"]: t["state"] for t in st["tasks"]}
    assert states == {"collect_data": "succeeded", "process_data": "ready", "generate_report": "pending"}
    assert "only a failed or cancelled" in wfhost(*local, "retry", "bad", code=4).output
    wfhost(*local, "retry", "nope", code=3)

    assert "does not exist" in wfhost("--home", str(home), "token", "create", "ghost", code=3).output
    assert "give a TENANT, or --admin" in wfhost("--home", str(home), "token", "create", code=2).output
    wfhost("--home", str(home), "token", "revoke", "nosuchtoken", code=3)
    assert "needs a token" in wfhost("--url", "http://127.0.0.1:9", "status", "x", code=2).output
