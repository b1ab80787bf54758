"""The `wfpkg` command line as an author uses it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support.packages import TestKey
from typer.testing import CliRunner

from wfpkg.cli import app


def wfpkg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "WFPKG_KEY"}
    return subprocess.run([sys.executable, "-m", "wfpkg", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_init_build_verify_end_to_end(tmp_path: Path) -> None:
    assert wfpkg("init", "demo", cwd=tmp_path).returncode == 0
    keygen = wfpkg("keygen", "--out", "keys/k", cwd=tmp_path)
    assert keygen.returncode == 0, keygen.stderr
    assert stat.S_IMODE((tmp_path / "keys/k").stat().st_mode) == 0o600
    assert "BEGIN PUBLIC KEY" in keygen.stdout
    build = wfpkg("build", "demo", "--key", "keys/k", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    archive = tmp_path / "demo/dist/demo-0.1.0.wfpkg"
    assert str(archive) in build.stdout
    verify = wfpkg("verify", str(archive), "--key", "keys/k.pub", cwd=tmp_path)
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("OK demo 0.1.0 signed by key ")


def test_build_errors_are_one_red_line_without_traceback(tmp_path: Path) -> None:
    result = wfpkg("build", "nowhere", "--key", "missing.key", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot read signing key missing.key")
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "x.wfpkg")])
    assert result.exit_code == 2


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["keygen", "--out", str(tmp_path / "k")]).exit_code == 0
    again = runner.invoke(app, ["keygen", "--out", str(tmp_path / "k")])
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert runner.invoke(app, ["keygen", "--out", str(tmp_path / "k"), "--force"]).exit_code == 0


def test_init_refuses_a_bad_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", "My-Package", "--dir", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "invalid package name 'My-Package'" in result.stderr
    assert not (tmp_path / "p").exists()


def test_inspect_shows_workflows_signer_and_members(data_processing: Path, session_key: TestKey) -> None:
    result = CliRunner().invoke(app, ["inspect", str(data_processing)])
    assert result.exit_code == 0, result.output
    for text in ("data_processing 1.0.0", session_key.key_id, "collect_data", "process_data",
                 "after: collect_data", "generate_report", "retry x3", "manifest.toml"):
        assert text in result.stdout


def test_inspect_json(data_processing: Path, session_key: TestKey) -> None:
    result = CliRunner().invoke(app, ["inspect", "--json", str(data_processing)])
    doc = json.loads(result.stdout)
    assert doc["key_id"] == session_key.key_id
    assert doc["manifest"]["package"]["name"] == "data_processing"
    assert set(doc["members"]) == {"manifest.toml", "metadata.json", "signature",
                                   "wheels/data_processing-1.0.0-py3-none-any.whl"}


def test_default_key_path_comes_from_wfpkg_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFPKG_KEY", str(tmp_path / "env.key"))
    result = CliRunner().invoke(app, ["keygen"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env.key").exists() and (tmp_path / "env.key.pub").exists()


def test_version_and_one_line_usage_errors(tmp_path: Path) -> None:
    from wfpkg import __version__

    version = wfpkg("--version", cwd=tmp_path)
    assert (version.returncode, version.stdout) == (0, f"wfpkg {__version__}\n")
    for args in (("init",), ("verify", "x.wfpkg"), ("build", "--bogus")):
        result = wfpkg(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "╭" not in result.stderr


def test_a_rejected_package_exits_2_as_wfhost_register_does(
        data_processing: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    assert wfpkg("keygen", "--out", str(other), cwd=tmp_path).returncode == 0
    result = wfpkg("verify", str(data_processing), "--key", f"{other}.pub", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1

    home = tmp_path / "home"
    host = [sys.executable, "-m", "wfhost", "--home", str(home), "--tenant", "acme"]
    for args in (["tenant", "create", "acme"], ["trust", f"{other}.pub"]):
        subprocess.run([*host, *args], check=True, capture_output=True, timeout=60)
    register = subprocess.run([*host, "register", str(data_processing)], capture_output=True,
                              text=True, timeout=120)
    assert register.returncode == result.returncode == 2, register.stderr


def test_verify_says_which_key_file_and_what_to_give(data_processing: Path, tmp_path: Path) -> None:
    missing = wfpkg("verify", str(data_processing), "--key", "nope.pub", cwd=tmp_path)
    assert missing.returncode == 2
    assert "nope.pub" in missing.stderr and "wfpkg keygen" in missing.stderr
    assert wfpkg("keygen", "--out", "k", cwd=tmp_path).returncode == 0
    private = wfpkg("verify", str(data_processing), "--key", "k", cwd=tmp_path)
    assert private.returncode == 2
    assert "k is a private key" in private.stderr and "k.pub" in private.stderr


def test_init_template_has_a_workflow_that_waits_and_declared_inputs(tmp_path: Path) -> None:
    assert wfpkg("init", "hello", cwd=tmp_path).returncode == 0
    assert wfpkg("keygen", "--out", "k", cwd=tmp_path).returncode == 0
    assert wfpkg("build", "hello", "--key", "k", cwd=tmp_path).returncode == 0
    result = CliRunner().invoke(app, ["inspect", str(tmp_path / "hello/dist/hello-0.1.0.wfpkg")])
    assert result.exit_code == 0, result.output
    for text in ("approval", "wait_for_approval", "input who: who to greet"):
        assert text in result.stdout
