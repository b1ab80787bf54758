"""The walls as an operator meets them: isolation level, refusal, doctor, tenant policy, file modes.

A missing wall is simulated with ``$WFHOST_SANDBOX_PRETEND_MISSING`` (read by
`wfregistry.sandbox.missing_walls` and by the worker's `enforce`): this
machine has every wall, so that is the only way to see the refusal here.
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wfhost import Host
from wfhost.cli.app import app
from wfhost.walls import IsolationUnavailable
from wfregistry.sandbox import PRETEND_MISSING_ENV, landlock_abi


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WFHOST_HOME", "WFHOST_DATABASE_URL", "WFHOST_TENANT", "WFHOST_DEBUG",
                 "WFHOST_ISOLATION", PRETEND_MISSING_ENV):
        monkeypatch.delenv(name, raising=False)


def _cli(home: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--home", str(home), *args])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_strict_host_refuses_to_start_naming_the_missing_wall(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRETEND_MISSING_ENV, "landlock")
    with pytest.raises(IsolationUnavailable, match=r"^strict isolation is not available here: landlock: "
                                                   r"the kernel offers Landlock ABI 0, strict isolation needs 6"):
        Host(home=tmp_path / "home")
    assert not (tmp_path / "home").exists()  # refused before touching anything
    result = _cli(tmp_path / "home", "worker")
    assert result.exit_code == 1
    assert "strict isolation is not available here: landlock" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_isolation_none_starts_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(PRETEND_MISSING_ENV, "landlock,namespaces")
    with caplog.at_level(logging.WARNING, logger="wfhost.walls"):
        with Host(home=tmp_path / "home", isolation="none") as host:
            assert host.isolation.value == "none"
    assert "isolation none: tenant code runs without a sandbox" in caplog.text
    monkeypatch.setenv("WFHOST_ISOLATION", "none")
    with Host(home=tmp_path / "home") as host:
        assert host.isolation.value == "none"
    monkeypatch.setenv("WFHOST_ISOLATION", "loose")
    result = _cli(tmp_path / "home", "tenant", "list")
    assert result.exit_code == 2 and "isolation 'loose' is not 'strict' or 'none'" in result.stderr


@pytest.mark.skipif(landlock_abi() < 6, reason="needs Landlock ABI 6")
def test_doctor_reports_each_wall_the_limits_the_modes_and_the_store_from_a_worker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Host(home=home):
        pass
    result = _cli(home, "doctor", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["isolation"] == "strict" and report["landlock_abi"] >= 6 and report["missing_walls"] == []
    walls = report["worker"]["walls"]
    assert walls["landlock_abi"] == report["landlock_abi"] and walls["network"] == "namespace (no network)"
    assert report["worker"]["store"].startswith("blocked")
    assert report["file_modes"][str(home)] == "0700"
    assert report["file_modes"][str(home / "wfhost.db")] == "0600"
    assert set(report["default_limits"]) == {"memory", "cpu_seconds", "max_procs", "open_files", "file_size"}
    text = _cli(home, "doctor")
    assert text.exit_code == 0
    for line in ("landlock ABI", "worker network", "store file from a worker", "default memory",
                 f"mode {home}"):
        assert line in text.stdout


def test_doctor_shows_a_missing_wall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRETEND_MISSING_ENV, "namespaces")
    report = json.loads(_cli(tmp_path / "home", "doctor", "--json").stdout)
    assert report["missing_walls"] == ["namespaces: mount and network namespaces are not available"]
    assert report["worker"] == {"walls": None}


def test_tenant_policy_is_set_shown_and_validated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _cli(home, "tenant", "create", "acme").exit_code == 0
    result = _cli(home, "tenant", "policy", "acme", "--allow-connect", "8080", "--allow-connect", "5000",
                  "--memory", "512M", "--cpu-seconds", "30", "--max-procs", "64", "--env", "REGION=eu")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(_cli(home, "tenant", "show", "acme", "--json").stdout)
    assert shown["allow_connect"] == [5000, 8080] and shown["env"] == {"REGION": "eu"}
    assert shown["limits"]["memory"] == 512 * 1024**2 and shown["limits"]["cpu_seconds"] == 30
    assert shown["limits"]["max_procs"] == 64 and shown["shown"]["memory"] == "512M"
    # Options left out keep their value; -1 is unlimited; --no-connect empties the list.
    _cli(home, "tenant", "policy", "acme", "--file-size", "-1", "--no-connect")
    shown = json.loads(_cli(home, "tenant", "show", "acme", "--json").stdout)
    assert shown["allow_connect"] == [] and shown["limits"]["file_size"] is None
    assert shown["limits"]["memory"] == 512 * 1024**2
    table = _cli(home, "tenant", "show", "acme").stdout
    assert "none (no network)" in table and "REGION=…" in table and "eu" not in table.replace("REGION", "")
    for bad, message in ((["--memory", "lots"], "--memory: 'lots' is not a size"),
                         (["--allow-connect", "70000"], "port 70000 is not between 1 and 65535"),
                         (["--env", "NOEQUALS"], "--env 'NOEQUALS': expected KEY=VALUE")):
        result = _cli(home, "tenant", "policy", "acme", *bad)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
    missing = _cli(home, "tenant", "show", "nobody")
    assert missing.exit_code == 3 and "tenant 'nobody' does not exist" in missing.stderr


def test_the_home_and_store_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    with Host(home=home) as host:
        host.client.create_tenant("acme")  # writes through the WAL
        assert _mode(home) == 0o700
        for name in ("wfhost.db", "wfhost.db-wal", "wfhost.db-shm"):
            assert _mode(home / name) == 0o600, name
        for sub in ("packages", "logs", "run"):
            assert _mode(home / sub) == 0o700, sub
